-- Count one invitee for an inviter (一客一码), once, with the reward and the inviter's notice.
-- KEYS[1] every invitee ever recorded (set), KEYS[2] inviter's invitees (zset invitee -> epoch),
-- KEYS[3] inviter's counter for today, KEYS[4] grant outbox zset, KEYS[5] notice outbox zset,
-- KEYS[6] invitee's profile hash
-- ARGV[1] inviter cid, ARGV[2] invitee cid, ARGV[3] now (ISO), ARGV[4] now (epoch s), ARGV[5] daily cap,
-- ARGV[6] grant key prefix, ARGV[7] grant due (epoch s), ARGV[8] notice key prefix,
-- then reward pairs: count, coupon type, reward name
-- Returns {result, count, reward name}: counted | self | duplicate (this person was invited
-- before, by anyone) | capped (the inviter's daily cap: recorded, not counted)
local inviter, invitee = ARGV[1], ARGV[2]
if inviter == invitee then return {'self', 0, ''} end
if redis.call('SADD', KEYS[1], invitee) == 0 then return {'duplicate', redis.call('ZCARD', KEYS[2]), ''} end
redis.call('HSET', KEYS[6], 'referred_by', inviter, 'referred_at', ARGV[3])
local today = tonumber(redis.call('GET', KEYS[3]) or '0')
if today >= tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[6], 'referral', 'capped')
  return {'capped', redis.call('ZCARD', KEYS[2]), ''}
end
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], 172800)
redis.call('ZADD', KEYS[2], ARGV[4], invitee)
local count = redis.call('ZCARD', KEYS[2])
local reward = ''
for i = 9, #ARGV, 3 do
  if tonumber(ARGV[i]) == count then
    local grant = ARGV[6] .. 'ref:' .. inviter .. ':' .. count
    redis.call('HSET', grant, 'cid', inviter, 'coupon', ARGV[i + 1], 'status', 'pending', 'created_at', ARGV[3])
    redis.call('ZADD', KEYS[4], ARGV[7], grant)
    reward = ARGV[i + 2]
  end
end
local notice = 'ref:' .. invitee
local kind = 'referral_joined'
if reward ~= '' then kind = 'referral_rewarded' end
redis.call('HSET', ARGV[8] .. notice, 'cid', inviter, 'kind', kind, 'created_at', ARGV[3], 'status', 'pending',
           'values', cjson.encode({count = tostring(count), reward = reward}))
-- a reward's notice waits until the sweeper has issued the coupon it mentions
local when = ARGV[4]
if reward ~= '' then when = tonumber(ARGV[7]) + 15 end
redis.call('ZADD', KEYS[5], when, notice)
return {'counted', count, reward}
