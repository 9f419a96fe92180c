-- Preload coupon codes; a code ever loaded before is skipped so it can never be issued twice.
-- KEYS[1] = pool list, KEYS[2] = set of every code ever loaded; ARGV = codes
-- Returns the number of codes added.
local added = 0
for i = 1, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i]); added = added + 1
  end
end
return added
