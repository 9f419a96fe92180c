-- Redeem one 包裹卡 / 一物一码 code, once: however many scan it at the same moment, one
-- customer gets what its batch grants, in this same step (a coupon grant into the outbox,
-- extra lottery draws), and everyone else an honest answer.
-- KEYS[1] code hash, KEYS[2] batch hash, KEYS[3] batch stats hash, KEYS[4] grant hash,
-- KEYS[5] grant outbox zset, KEYS[6] the batch lottery's draw counters of this customer,
-- KEYS[7] customer's redeemed codes list
-- ARGV[1] customer id, ARGV[2] now (ISO), ARGV[3] now (epoch s), ARGV[4] grant due (epoch s),
-- ARGV[5] the code
-- Returns {result, batch}: redeemed | mine (this customer redeemed it before) | used (by
-- someone else) | expired | unknown
redis.call('HINCRBY', KEYS[3], 'scans', 1)
local code = redis.call('HMGET', KEYS[1], 'batch', 'status', 'used_by')
if not code[1] then
  redis.call('HINCRBY', KEYS[3], 'unknown', 1)
  return {'unknown', ''}
end
if code[2] == 'used' then
  if code[3] == ARGV[1] then return {'mine', code[1]} end
  redis.call('HINCRBY', KEYS[3], 'used_again', 1)
  return {'used', code[1]}
end
local batch = redis.call('HMGET', KEYS[2], 'coupon', 'draws', 'expires_at')
if batch[3] and batch[3] ~= '' and tonumber(ARGV[3]) > tonumber(batch[3]) then
  redis.call('HINCRBY', KEYS[3], 'expired', 1)
  return {'expired', code[1]}
end
redis.call('HSET', KEYS[1], 'status', 'used', 'used_by', ARGV[1], 'used_at', ARGV[2])
redis.call('HINCRBY', KEYS[3], 'redeemed', 1)
if batch[1] and batch[1] ~= '' then
  redis.call('HSET', KEYS[4], 'cid', ARGV[1], 'coupon', batch[1], 'status', 'pending', 'created_at', ARGV[2])
  redis.call('ZADD', KEYS[5], ARGV[4], KEYS[4])
end
local draws = tonumber(batch[2] or '0') or 0
if draws > 0 then redis.call('HINCRBY', KEYS[6], 'bonus', draws) end
redis.call('RPUSH', KEYS[7], ARGV[5])
return {'redeemed', code[1]}
