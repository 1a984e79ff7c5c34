"""The Lua scripts of the shared quota: admit, throttle, recover, narrow, offline, sent, count."""

# Scores are microseconds; Lua numbers are doubles, exact to 2**53 (285 years of microseconds).
# string.format('%.0f') keeps them whole: Lua's '..' on a float would print them rounded.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local log, all, pause, alive, offline = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local member, seen_gen, new_gen = ARGV[1], ARGV[2], ARGV[3]
local longest = 0
for i = 4, #ARGV, 2 do
  local w = tonumber(ARGV[i + 1])
  if w > longest then longest = w end
end
local function fmt(x) return string.format('%.0f', x) end
-- A marker with no expiry tells a Redis that forgot everything from one that kept its log.
local gen = redis.call('HGET', alive, 'gen')
if not gen then
  gen = new_gen
  local hold = 0
  if seen_gen ~= '' then hold = now + longest end
  redis.call('HSET', alive, 'gen', gen, 'created', fmt(now), 'hold', fmt(hold))
elseif seen_gen ~= '' and seen_gen ~= gen then
  local created = tonumber(redis.call('HGET', alive, 'created'))
  local hold = tonumber(redis.call('HGET', alive, 'hold') or '0')
  if created + longest > hold then
    redis.call('HSET', alive, 'hold', fmt(created + longest))
  end
end
local hold = tonumber(redis.call('HGET', alive, 'hold') or '0')
local factor = tonumber(redis.call('HGET', alive, 'factor') or '1')
local guard = redis.call('HGET', alive, 'guard') or '0'
-- How many times 429s widened the guard and cut the factor: news to a process only when they moved.
local widenings = redis.call('HGET', alive, 'widenings') or '0'
local cuts = redis.call('HGET', alive, 'cuts') or '0'
local function answer(ok, wait, reason)
  return {ok, wait, gen, tostring(factor), reason, fmt(now), guard, widenings, cuts}
end
if hold > now then return answer(0, fmt(hold - now), 'restarted') end
local paused = redis.call('PTTL', pause)
if paused > 0 then return answer(0, fmt(paused * 1000), 'paused') end
-- A process found the service unreachable: everyone holds off until its next probe.
local unreachable = redis.call('PTTL', offline)
if unreachable > 0 then return answer(0, fmt(unreachable * 1000), 'offline') end
redis.call('ZREMRANGEBYSCORE', log, '-inf', fmt(now - longest))
local wait = 0
for i = 4, #ARGV, 2 do
  local limit, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local since = '(' .. fmt(now - window)
  local count = redis.call('ZCOUNT', log, since, '+inf')
  if count >= limit then
    local oldest = redis.call('ZRANGEBYSCORE', log, since, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return answer(0, fmt(wait), 'full') end
redis.call('ZADD', log, fmt(now), member)
redis.call('PEXPIRE', log, math.ceil(longest / 1000) + 1000)
redis.call('ZADD', all, fmt(now), member)
redis.call('ZREMRANGEBYSCORE', all, '-inf', fmt(now - 60000000))
redis.call('PEXPIRE', all, 61000)
return answer(1, '0', 'ok')
"""

# Lengthen the shared pause (never shorten it), lower the shared factor and widen the shared guard
# (never the other way here: recovery is its own call). Returns the factor, and the widening and cut
# counts this call moved (0 for one it left).
THROTTLE = """
local pause_ms, factor, guard = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if pause_ms > 0 and pause_ms > left then redis.call('SET', KEYS[1], '1', 'PX', pause_ms) end
local current = tonumber(redis.call('HGET', KEYS[2], 'factor') or '1')
local cut = 0
if factor < current then
  redis.call('HSET', KEYS[2], 'factor', tostring(factor))
  cut = redis.call('HINCRBY', KEYS[2], 'cuts', 1)
end
local wide = tonumber(redis.call('HGET', KEYS[2], 'guard') or '0')
local widened = 0
if guard > wide then
  redis.call('HSET', KEYS[2], 'guard', tostring(guard))
  widened = redis.call('HINCRBY', KEYS[2], 'widenings', 1)
end
return {tostring(math.min(current, factor)), widened, cut}
"""

# After a quiet period, raise the shared factor to ARGV[1], unless a 429 cut it since the caller
# looked (ARGV[2]: the count of cuts it last saw, or '' to raise it anyway). 1 when it rose.
RECOVER = """
local factor, seen = tonumber(ARGV[1]), ARGV[2]
if seen ~= '' and (redis.call('HGET', KEYS[1], 'cuts') or '0') ~= seen then return 0 end
if factor <= tonumber(redis.call('HGET', KEYS[1], 'factor') or '1') then return 0 end
redis.call('HSET', KEYS[1], 'factor', tostring(factor))
return 1
"""

# After a quiet period, narrow the shared guard to ARGV[1], unless a 429 widened it since the
# caller looked (ARGV[2]: the count of widenings it last saw). 1 when it narrowed.
NARROW = """
local guard, seen = tonumber(ARGV[1]), ARGV[2]
if (redis.call('HGET', KEYS[1], 'widenings') or '0') ~= seen then return 0 end
if guard >= tonumber(redis.call('HGET', KEYS[1], 'guard') or '0') then return 0 end
redis.call('HSET', KEYS[1], 'guard', tostring(guard))
return 1
"""

# The service is unreachable: hold everyone off for ARGV[1] ms (lengthened, never shortened).
OFFLINE = """
local ms = tonumber(ARGV[1])
if ms > 0 and ms > redis.call('PTTL', KEYS[1]) then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1
"""

# A permit's request has left: count it from now on Redis's clock (only if it is still logged).
SENT = """
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', 'GT', now, ARGV[1])
return 1
"""

# Requests granted by everyone within the last ARGV[1] microseconds (the log of all pools).
COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.0f', now - tonumber(ARGV[1])), '+inf')
"""
