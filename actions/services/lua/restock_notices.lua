-- Tell the customers waiting for a product that it is back: one notice each, queued for the
-- outbound worker, and their wish removed, in one step per chunk (a rerun finds them gone).
-- KEYS[1] the product's waiting set, KEYS[2] notice outbox zset
-- ARGV[1] notice key prefix, ARGV[2] notice id prefix ("restock:<product>:<day>:"), ARGV[3] now (ISO),
-- ARGV[4] now (epoch s), ARGV[5] values (JSON), ARGV[6] customer key prefix, ARGV[7] product id,
-- ARGV[8..] customer ids
local queued = 0
for i = 8, #ARGV do
  local cid = ARGV[i]
  if redis.call('SREM', KEYS[1], cid) == 1 then
    local id = ARGV[2] .. cid
    redis.call('HSET', ARGV[1] .. id, 'cid', cid, 'kind', 'restock', 'values', ARGV[5], 'created_at', ARGV[3],
               'status', 'pending')
    redis.call('ZADD', KEYS[2], ARGV[4], id)
    redis.call('SREM', ARGV[6] .. cid .. ':restock', ARGV[7])
    queued = queued + 1
  end
end
return queued
