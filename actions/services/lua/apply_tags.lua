-- Add and remove tags of one customer and record every real change.
-- KEYS[1] = tag set, KEYS[2] = tag history list (newest first), KEYS[3] = profile hash
-- ARGV[1] = who (e.g. "rule:high_intent", "import:file.csv", "customer"), ARGV[2] = why,
-- ARGV[3] = when (ISO), ARGV[4] = history cap, ARGV[5] = member level display name or "" (profile mirror),
-- ARGV[6] = number of tags to add n, ARGV[7..6+n] = tags to add, the rest = tags to remove.
-- Returns the changes as "+tag" / "-tag".
local n_add = tonumber(ARGV[6])
local changes = {}
local function log(op, tag)
  redis.call('LPUSH', KEYS[2], cjson.encode({op = op, tag = tag, by = ARGV[1], reason = ARGV[2], at = ARGV[3]}))
end
for i = 7 + n_add, #ARGV do
  if redis.call('SREM', KEYS[1], ARGV[i]) == 1 then
    log('remove', ARGV[i]); table.insert(changes, '-' .. ARGV[i])
  end
end
for i = 7, 6 + n_add do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    log('add', ARGV[i]); table.insert(changes, '+' .. ARGV[i])
  end
end
if #changes > 0 then
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], 'level', ARGV[5]) end
end
return changes
