-- Issue one coupon of a type to a customer, at most once, never reusing a code.
-- KEYS[1] = code pool list, KEYS[2] = issued hash (customer -> code), KEYS[3] = customer's coupons hash,
-- KEYS[4] = generated-code sequence
-- ARGV[1] = customer id, ARGV[2] = coupon type, ARGV[3] = "pool" or "generate", ARGV[4] = code prefix,
-- ARGV[5] = max issued (0 = unlimited), ARGV[6] = issued at, ARGV[7] = expires at, ARGV[8] = code suffix
-- Returns {"issued", code} | {"exists", code} | {"empty"}.
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {'exists', existing} end
local max = tonumber(ARGV[5])
if max > 0 and redis.call('HLEN', KEYS[2]) >= max then return {'empty'} end
local code
if ARGV[3] == 'pool' then
  code = redis.call('LPOP', KEYS[1])  -- popped codes leave the pool for good
  if not code then return {'empty'} end
else
  -- the sequence makes generated codes unique; the random suffix makes them hard to guess
  code = ARGV[4] .. string.format('%06d', redis.call('INCR', KEYS[4])) .. ARGV[8]
end
redis.call('HSET', KEYS[2], ARGV[1], code)
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({code = code, issued_at = ARGV[6], expires_at = ARGV[7]}))
return {'issued', code}
