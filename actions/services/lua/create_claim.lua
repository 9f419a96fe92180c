-- A claim outside the draw script (check-in rewards): id, record and the customer's list in one step.
-- KEYS[1] = claim id sequence, KEYS[2] = customer's claims list
-- ARGV[1] = claim key prefix, ARGV[2..] = field/value pairs of the claim (without `id`)
-- Returns the new claim id.
local claim_id = tostring(redis.call('INCR', KEYS[1]))
redis.call('HSET', ARGV[1] .. claim_id, 'id', claim_id, unpack(ARGV, 2))
redis.call('RPUSH', KEYS[2], claim_id)
return claim_id
