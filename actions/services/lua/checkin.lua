-- One check-in per natural day; streak, total and milestones in one atomic step.
-- KEYS[1] = check-in state hash, KEYS[2] = set of milestones already granted
-- ARGV[1] = today as a day number in the campaign's time zone, ARGV[2..] = milestone streaks
-- Returns {status, streak, total, newly reached milestones...}; status 1 = checked in,
-- 0 = already checked in today, -1 = clock earlier than the last check-in (refused).
local today = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'last_day') or '-1')
local streak = tonumber(redis.call('HGET', KEYS[1], 'streak') or '0')
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if last == today then return {0, streak, total} end
if last > today then return {-1, streak, total} end
if last == today - 1 then streak = streak + 1 else streak = 1 end
total = total + 1
local best = math.max(tonumber(redis.call('HGET', KEYS[1], 'best') or '0'), streak)
redis.call('HSET', KEYS[1], 'last_day', today, 'streak', streak, 'total', total, 'best', best)
local result = {1, streak, total}
for i = 2, #ARGV do
  local m = tonumber(ARGV[i])
  -- SADD makes each milestone a one-time grant even after a broken streak is rebuilt
  if streak >= m and redis.call('SADD', KEYS[2], m) == 1 then table.insert(result, m) end
end
return result
