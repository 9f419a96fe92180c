-- One lottery draw: limits, weighted pick, stock and the winner's claim, atomically.
-- KEYS[1] = stock hash (prize -> left), KEYS[2] = customer's draw counters hash,
-- KEYS[3] = campaign winners list (claim ids), KEYS[4] = claim id sequence, KEYS[5] = customer's claims list
-- ARGV[1] = customer id, ARGV[2] = day number, ARGV[3] = daily limit, ARGV[4] = total limit,
-- ARGV[5] = random number in [0,1), ARGV[6] = now (ISO), ARGV[7] = campaign id, ARGV[8] = claim key prefix,
-- ARGV[9] = weight of "no prize", then per prize 5 values: id, weight, initial stock, kind, claim status.
-- Returns {outcome, draws today, draws total[, prize id, claim id]}; outcome is
-- "won", "none" (no prize or sold out), "limit_daily" or "limit_total".
local day_field = 'd:' .. ARGV[2]
local daily = tonumber(redis.call('HGET', KEYS[2], day_field) or '0')
local total = tonumber(redis.call('HGET', KEYS[2], 'total') or '0')
if total >= tonumber(ARGV[4]) then return {'limit_total', daily, total} end
if daily >= tonumber(ARGV[3]) then return {'limit_daily', daily, total} end
daily = redis.call('HINCRBY', KEYS[2], day_field, 1)
total = redis.call('HINCRBY', KEYS[2], 'total', 1)

local sum = tonumber(ARGV[9])
for i = 10, #ARGV, 5 do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2])  -- first draw seeds the stock from config
  sum = sum + tonumber(ARGV[i + 1])
end
local r = tonumber(ARGV[5]) * sum
local picked = nil
for i = 10, #ARGV, 5 do
  local w = tonumber(ARGV[i + 1])
  if r < w then picked = i; break end
  r = r - w
end
if not picked then return {'none', daily, total} end
local prize = ARGV[picked]
-- a sold-out prize becomes "no prize": the odds of the others stay as announced
if tonumber(redis.call('HGET', KEYS[1], prize)) <= 0 then return {'none', daily, total} end
redis.call('HINCRBY', KEYS[1], prize, -1)
local claim_id = redis.call('INCR', KEYS[4])
redis.call('HSET', ARGV[8] .. claim_id, 'id', claim_id, 'customer', ARGV[1], 'campaign', ARGV[7],
  'prize', prize, 'kind', ARGV[picked + 3], 'status', ARGV[picked + 4], 'won_at', ARGV[6])
redis.call('RPUSH', KEYS[3], claim_id)
redis.call('RPUSH', KEYS[5], claim_id)
return {'won', daily, total, prize, tostring(claim_id)}
