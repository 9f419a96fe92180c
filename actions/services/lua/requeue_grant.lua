-- Put a parked grant back into the outbox (codes were loaded): one step, so a grant is
-- never both parked and queued, or neither.
-- KEYS[1] = grant hash, KEYS[2] = outbox zset, KEYS[3] = parked set of its coupon type
-- ARGV[1] = grant key, ARGV[2] = when the sweeper may try it (epoch s)
-- Returns 1 when requeued, 0 when it was no longer parked.
if redis.call('SREM', KEYS[3], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'pending')
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
