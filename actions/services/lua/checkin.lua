-- One check-in per natural day, with everything it earns, in one atomic step: streak and
-- total, last_checkin_at and the daily points, and each newly reached milestone (granted
-- once per customer): bonus points here, a parcel claim here, a coupon as a grant in the
-- outbox (delivered right away by the action, retried by the sweeper until done).
-- The first result of a message is kept under its idempotency key: a retried call gets it back.
-- KEYS[1] = check-in state hash, KEYS[2] = set of milestones already granted, KEYS[3] = profile hash,
-- KEYS[4] = claim id sequence, KEYS[5] = customer's claims list, KEYS[6] = outbox zset,
-- KEYS[7] = idempotency key
-- ARGV[1] = today as a day number in the campaign's time zone, ARGV[2] = now (ISO),
-- ARGV[3] = daily points, ARGV[4] = idempotency TTL (0 = none), ARGV[5] = customer id,
-- ARGV[6] = campaign id, ARGV[7] = claim key prefix, ARGV[8] = grant key prefix,
-- ARGV[9] = outbox due time (epoch s), then per milestone 5 values: streak days, reward kind,
-- points, coupon type, claim status.
-- Returns {status, streak, total, replayed, then per granted milestone: days, ref...};
-- status 1 = checked in, 0 = already checked in today, -1 = clock earlier than the last
-- check-in (refused); ref = claim id (physical), grant id (coupon) or "" (points).
local idem_ttl = tonumber(ARGV[4])
if idem_ttl > 0 then
  local prior = redis.call('GET', KEYS[7])
  if prior then
    local result = cjson.decode(prior)
    result[4] = 1
    return result
  end
end
local function finish(result)
  if idem_ttl > 0 then redis.call('SET', KEYS[7], cjson.encode(result), 'EX', idem_ttl) end
  return result
end

local today = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'last_day') or '-1')
local streak = tonumber(redis.call('HGET', KEYS[1], 'streak') or '0')
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if last == today then return finish({0, streak, total, 0}) end
if last > today then return finish({-1, streak, total, 0}) end
if last == today - 1 then streak = streak + 1 else streak = 1 end
total = total + 1
local best = math.max(tonumber(redis.call('HGET', KEYS[1], 'best') or '0'), streak)
redis.call('HSET', KEYS[1], 'last_day', today, 'streak', streak, 'total', total, 'best', best)
redis.call('HINCRBY', string.sub(KEYS[1], 1, -#ARGV[5] - 1) .. 'stats:daily', today, 1)  -- {brand}:chk:<camp>:stats:daily (ops dashboard)
redis.call('HSET', KEYS[3], 'last_checkin_at', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[3], 'points', ARGV[3]) end

local cid, campaign = ARGV[5], ARGV[6]
local result = {1, streak, total, 0}
for i = 10, #ARGV, 5 do
  local days = tonumber(ARGV[i])
  -- SADD makes each milestone a one-time grant even after a broken streak is rebuilt
  if streak >= days and redis.call('SADD', KEYS[2], days) == 1 then
    local kind, ref = ARGV[i + 1], ''
    if kind == 'points' then
      redis.call('HINCRBY', KEYS[3], 'points', ARGV[i + 2])
    elseif kind == 'coupon' then
      ref = ARGV[8] .. campaign .. ':' .. cid .. ':m' .. days
      redis.call('HSET', ref, 'cid', cid, 'campaign', campaign, 'coupon', ARGV[i + 3], 'status', 'pending',
        'created_at', ARGV[2])
      redis.call('ZADD', KEYS[6], ARGV[9], ref)
    else
      ref = tostring(redis.call('INCR', KEYS[4]))
      redis.call('HSET', ARGV[7] .. ref, 'id', ref, 'customer', cid, 'campaign', campaign,
        'prize', 'm' .. days, 'kind', kind, 'status', ARGV[i + 4], 'won_at', ARGV[2])
      redis.call('RPUSH', KEYS[5], ref)
    end
    table.insert(result, days)
    table.insert(result, ref)
  end
end
return finish(result)
