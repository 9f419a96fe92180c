-- Map channel identities to one customer id, creating the customer on first contact.
-- KEYS[1] = customer id sequence; KEYS[2..] = identity keys, most trusted first (unionid before channel ids)
-- ARGV[1] = now (ISO), ARGV[2] = channel, ARGV[3] = QR scene, ARGV[4] = key prefix ("cust:"),
-- ARGV[5..] = identity names matching KEYS[2..] (stored in the customer's identity set)
-- Returns {customer_id, created (0/1)}. Profile keys are derived here because the id is only
-- known inside the script: this needs a standalone Redis (not Cluster), which is what we run.
local cid = false
for i = 2, #KEYS do
  cid = redis.call('GET', KEYS[i])
  if cid then break end
end
local created = 0
if not cid then
  cid = 'c' .. redis.call('INCR', KEYS[1])
  created = 1
end
local prefix = ARGV[4]
for i = 2, #KEYS do
  -- a later-known identity (e.g. unionid) joins the person already found
  if redis.call('SETNX', KEYS[i], cid) == 1 then
    redis.call('SADD', prefix .. cid .. ':idents', ARGV[i + 3])
  end
end
local profile = prefix .. cid .. ':profile'
if created == 1 then
  redis.call('HSET', profile, 'created_at', ARGV[1], 'first_channel', ARGV[2], 'first_scene', ARGV[3])
end
redis.call('HSET', profile, 'last_seen_at', ARGV[1])
return {cid, created}
