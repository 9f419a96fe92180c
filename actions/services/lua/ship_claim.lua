-- Mark a parcel claim shipped and queue the winner's notice, in one step.
-- KEYS[1] claim hash, KEYS[2] notice hash, KEYS[3] notice outbox zset
-- ARGV[1] carrier, ARGV[2] tracking number, ARGV[3] now (ISO), ARGV[4] now (epoch s),
-- ARGV[5] who marked it, ARGV[6] notice id, ARGV[7] notice values (JSON)
-- Returns {result}: shipped | repeat (same tracking again: nothing changes) |
-- shipped_before (another tracking number is recorded) | not_ready (no address yet) |
-- not_parcel | missing
local claim = redis.call('HMGET', KEYS[1], 'customer', 'kind', 'status', 'tracking')
if not claim[1] then return {'missing'} end
if claim[2] ~= 'physical' then return {'not_parcel'} end
if claim[3] == 'shipped' then
  if claim[4] == ARGV[2] then return {'repeat'} end
  return {'shipped_before'}
end
if claim[3] ~= 'address_filled' then return {'not_ready'} end
redis.call('HSET', KEYS[1], 'status', 'shipped', 'carrier', ARGV[1], 'tracking', ARGV[2], 'shipped_at', ARGV[3],
           'shipped_by', ARGV[5])
redis.call('HSET', KEYS[2], 'cid', claim[1], 'kind', 'prize_shipped', 'values', ARGV[7], 'created_at', ARGV[3],
           'status', 'pending')
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6])
return {'shipped'}
