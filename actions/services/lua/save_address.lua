-- Save a parcel claim's address, once: only the winner, only a parcel, only while
-- the claim waits for an address (a filled claim is never overwritten).
-- KEYS[1] claim hash
-- ARGV[1] customer id, ARGV[2] now (ISO), ARGV[3] idempotency key (the user
-- message that completed the form; "" when unknown), ARGV[4..] field, value pairs
-- Returns {result, status}: saved | repeat (this submit was already saved: same
-- key or same fields) | filled (another address is saved) | foreign | missing | not_parcel
local claim = redis.call('HMGET', KEYS[1], 'customer', 'kind', 'status', 'address_key')
if not claim[1] then return {'missing', ''} end
if claim[1] ~= ARGV[1] then return {'foreign', ''} end
if claim[2] ~= 'physical' then return {'not_parcel', claim[3] or ''} end
local status = claim[3] or ''
if status == 'awaiting_address' then
  local fields = {}
  for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], 'status', 'address_filled', 'address_at', ARGV[2], 'address_key', ARGV[3],
             unpack(fields))
  return {'saved', 'address_filled'}
end
if status == 'address_filled' then
  if ARGV[3] ~= '' and claim[4] == ARGV[3] then return {'repeat', status} end
  for i = 4, #ARGV, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then return {'filled', status} end
  end
  return {'repeat', status}
end
return {'filled', status}
