-- One lottery draw in one atomic step: limits, weighted pick, stock, the winner's claim and
-- what the prize gives: points are added here, a coupon becomes a grant in the outbox (keyed
-- by the claim id; delivered right away by the action, retried by the sweeper until done).
-- The first result of a message is kept under its idempotency key: a retried call gets it back.
-- KEYS[1] = stock hash (prize -> left), KEYS[2] = customer's draw counters hash (`d:<day>`, `total`,
-- `bonus`: extra draws beyond the limits),
-- KEYS[3] = campaign winners list (claim ids), KEYS[4] = claim id sequence, KEYS[5] = customer's claims list,
-- KEYS[6] = customer's profile hash, KEYS[7] = outbox zset, KEYS[8] = idempotency key
-- ARGV[1] = customer id, ARGV[2] = day number, ARGV[3] = daily limit, ARGV[4] = total limit,
-- ARGV[5] = random number in [0,1), ARGV[6] = now (ISO), ARGV[7] = campaign id, ARGV[8] = claim key prefix,
-- ARGV[9] = weight of "no prize", ARGV[10] = idempotency TTL (0 = none), ARGV[11] = grant key prefix,
-- ARGV[12] = outbox due time (epoch s), then per prize 7 values: id, weight, initial stock, kind,
-- claim status, points, coupon type.
-- Returns {outcome, draws today, draws total, prize id, claim id, grant id, replayed, campaign id}; outcome is
-- "won", "none" (no prize or sold out), "limit_daily" or "limit_total".
local idem_ttl = tonumber(ARGV[10])
if idem_ttl > 0 then
  local prior = redis.call('GET', KEYS[8])
  if prior then
    local result = cjson.decode(prior)
    result[7] = 1
    return result
  end
end
local function finish(result)
  if idem_ttl > 0 then redis.call('SET', KEYS[8], cjson.encode(result), 'EX', idem_ttl) end
  return result
end

local day_field = 'd:' .. ARGV[2]
local daily = tonumber(redis.call('HGET', KEYS[2], day_field) or '0')
local total = tonumber(redis.call('HGET', KEYS[2], 'total') or '0')
-- extra draws (field `bonus`, e.g. from a 包裹卡 code) are spent only once the limits are reached
local over = nil
if total >= tonumber(ARGV[4]) then over = 'limit_total' elseif daily >= tonumber(ARGV[3]) then over = 'limit_daily' end
if over then
  if tonumber(redis.call('HGET', KEYS[2], 'bonus') or '0') <= 0 then
    return finish({over, daily, total, '', '', '', 0, ARGV[7]})
  end
  redis.call('HINCRBY', KEYS[2], 'bonus', -1)
else
  daily = redis.call('HINCRBY', KEYS[2], day_field, 1)
  total = redis.call('HINCRBY', KEYS[2], 'total', 1)
end
redis.call('HINCRBY', string.sub(KEYS[1], 1, -6) .. 'stats:daily', ARGV[2], 1)  -- {brand}:lot:<camp>:stats:daily (ops dashboard)

local sum = tonumber(ARGV[9])
for i = 13, #ARGV, 7 do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2])  -- first draw seeds the stock from config
  sum = sum + tonumber(ARGV[i + 1])
end
local r = tonumber(ARGV[5]) * sum
local picked = nil
for i = 13, #ARGV, 7 do
  local w = tonumber(ARGV[i + 1])
  if r < w then picked = i; break end
  r = r - w
end
if not picked then return finish({'none', daily, total, '', '', '', 0, ARGV[7]}) end
local prize = ARGV[picked]
-- a sold-out prize becomes "no prize": the odds of the others stay as announced
if tonumber(redis.call('HGET', KEYS[1], prize)) <= 0 then return finish({'none', daily, total, '', '', '', 0, ARGV[7]}) end
redis.call('HINCRBY', KEYS[1], prize, -1)
local cid, kind = ARGV[1], ARGV[picked + 3]
local claim_id = tostring(redis.call('INCR', KEYS[4]))
redis.call('HSET', ARGV[8] .. claim_id, 'id', claim_id, 'customer', cid, 'campaign', ARGV[7],
  'prize', prize, 'kind', kind, 'status', ARGV[picked + 4], 'won_at', ARGV[6])
redis.call('RPUSH', KEYS[3], claim_id)
redis.call('RPUSH', KEYS[5], claim_id)
local grant = ''
if kind == 'points' then
  redis.call('HINCRBY', KEYS[6], 'points', ARGV[picked + 5])
elseif kind == 'coupon' then
  grant = ARGV[11] .. ARGV[7] .. ':' .. cid .. ':claim' .. claim_id
  redis.call('HSET', grant, 'cid', cid, 'campaign', ARGV[7], 'coupon', ARGV[picked + 6], 'claim', claim_id,
    'status', 'pending', 'created_at', ARGV[6])
  redis.call('ZADD', KEYS[7], ARGV[12], grant)
end
return finish({'won', daily, total, prize, claim_id, grant, 0, ARGV[7]})
