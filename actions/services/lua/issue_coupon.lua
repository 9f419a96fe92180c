-- Issue one coupon code, never reusing a code. Two modes:
--   once per customer (ARGV[9] == ""): the welcome coupon; a second call returns the first code;
--   once per grant (ARGV[9] = grant id): a lottery win or a streak reward from the outbox; the
--     customer may hold several codes of one type, one per grant; the grant record is marked
--     done and leaves the outbox in this same step.
-- An empty pool (or max_issued reached) raises one ops alert; a grant is then parked until
-- codes are loaded again (coupons.load_codes puts parked grants back into the outbox).
-- KEYS[1] = code pool list, KEYS[2] = issued hash (customer -> code, once-per-customer mode),
-- KEYS[3] = customer's coupons hash, KEYS[4] = generated-code sequence, KEYS[5] = grant record hash,
-- KEYS[6] = outbox zset, KEYS[7] = ops alerts stream, KEYS[8] = idempotency key,
-- KEYS[9] = counter of codes issued to grants, KEYS[10] = parked grants set of this type
-- ARGV[1] = customer id, ARGV[2] = coupon type, ARGV[3] = "pool" or "generate", ARGV[4] = code prefix,
-- ARGV[5] = max issued (0 = unlimited), ARGV[6] = issued at, ARGV[7] = expires at, ARGV[8] = code suffix,
-- ARGV[9] = grant id or "", ARGV[10] = idempotency TTL in seconds (0 = no idempotency record)
-- Returns {"issued", code} | {"exists", code} | {"empty"}.
local cid, ctype, grant, idem_ttl = ARGV[1], ARGV[2], ARGV[9], tonumber(ARGV[10])
if idem_ttl > 0 then
  local prior = redis.call('GET', KEYS[8])
  if prior then return cjson.decode(prior) end
end
local function finish(result)
  if idem_ttl > 0 then redis.call('SET', KEYS[8], cjson.encode(result), 'EX', idem_ttl) end
  return result
end

local field = ctype
if grant == '' then
  local existing = redis.call('HGET', KEYS[2], cid)
  if existing then return finish({'exists', existing}) end
else
  local status = redis.call('HGET', KEYS[5], 'status')
  if status == 'done' then return finish({'exists', redis.call('HGET', KEYS[5], 'code')}) end
  if status == 'parked' then return finish({'empty'}) end
  field = ctype .. '#' .. grant
end

local function empty(reason)
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', 10000, '*', 'type', reason, 'coupon', ctype,
    'customer', cid, 'grant', grant, 'at', ARGV[6])
  if grant ~= '' then
    redis.call('HSET', KEYS[5], 'status', 'parked', 'parked_at', ARGV[6])
    redis.call('ZREM', KEYS[6], grant)
    redis.call('SADD', KEYS[10], grant)
  end
  return finish({'empty'})
end

local max = tonumber(ARGV[5])
if max > 0 and redis.call('HLEN', KEYS[2]) + tonumber(redis.call('GET', KEYS[9]) or '0') >= max then
  return empty('coupon_limit_reached')
end
local code
if ARGV[3] == 'pool' then
  code = redis.call('LPOP', KEYS[1])  -- popped codes leave the pool for good
  if not code then return empty('coupon_pool_empty') end
else
  -- the sequence makes generated codes unique; the random suffix makes them hard to guess
  code = ARGV[4] .. string.format('%06d', redis.call('INCR', KEYS[4])) .. ARGV[8]
end
if grant == '' then
  redis.call('HSET', KEYS[2], cid, code)
else
  redis.call('INCR', KEYS[9])
  redis.call('HSET', KEYS[5], 'status', 'done', 'code', code, 'done_at', ARGV[6])
  redis.call('ZREM', KEYS[6], grant)
end
redis.call('HSET', KEYS[3], field, cjson.encode({type = ctype, code = code, issued_at = ARGV[6],
  expires_at = ARGV[7], grant = grant}))
return finish({'issued', code})
