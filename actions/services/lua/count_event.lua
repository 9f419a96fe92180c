-- Count one event of a tag rule in a sliding window (sorted set scored by time).
-- KEYS[1] = the rule's event zset; ARGV[1] = now (epoch s), ARGV[2] = unique member,
-- ARGV[3] = window (s). Returns the number of events inside the window.
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[1], math.floor(tonumber(ARGV[3])) + 60)
return redis.call('ZCARD', KEYS[1])
