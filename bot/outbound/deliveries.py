"""One proactive message to one customer, sent at most once, with its outcome counted once.

A delivery has a stable id (`push:<push>:<cid>`, `notice:<id>`…) and a hash
`{brand}:out:<id>`: status `sending` → `sent` | `undeliverable` (the API refused:
errcode kept), or `refused` / `postponed` by the contact policy (reason kept).

`claim` is one Lua step: it refuses a delivery already finished, takes one of the
customer's daily marketing messages and one of the 微信客服 window's five, and marks the
delivery `sending`, so two workers (or a retried job) never both send it. A delivery
found `sending` was claimed by a worker that died before it knew the API's answer, so
it becomes `in_doubt` (counted, listed for ops) and is not sent again: its request was
written up to its last byte before the claim and finished right after the claim's answer
(bot/outbound/held_post.py), so unless the worker died in those few microseconds,
WeChat has it. Every counter of
a push's report moves in the same step as the status, so the report adds up exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from common import contact_state, key_tags
from common.lua_script import LuaScript

PREFIX = key_tags.MARKETING + "out:"
NOTICE_STATS = key_tags.MARKETING + "out:stats:notices"
RECORD_TTL_S = 30 * 86400
CAP_TTL_S = 2 * 86400
FINAL = ("sent", "undeliverable", "refused", "in_doubt")


def key(delivery_id: str) -> str:
    return PREFIX + delivery_id


def cap_key(cid: str, day: int) -> str:
    return f"{key_tags.MARKETING}cust:{cid}:sent_on:{day}"


# KEYS: delivery, daily cap counter, contact hash, stats.
# ARGV: now, cap (0 = none), kf (1/0), kf window limit, sender id, record ttl, cap ttl, channel.
_CLAIM = LuaScript("""
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'sending' then
  redis.call('HSET', KEYS[1], 'status', 'in_doubt')
  redis.call('HINCRBY', KEYS[4], 'in_doubt', 1)
  return {'in_doubt', ''}
end
if status and status ~= 'postponed' then return {'done', status} end
local cap = tonumber(ARGV[2])
if cap > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= cap then
  redis.call('HSET', KEYS[1], 'status', 'refused', 'reason', 'frequency_cap', 'at', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  redis.call('HINCRBY', KEYS[4], 'refused:frequency_cap', 1)
  return {'refused', 'frequency_cap'}
end
if ARGV[3] == '1' and tonumber(redis.call('HGET', KEYS[3], 'kf_sent') or '0') >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'refused', 'reason', 'kf_quota', 'at', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  redis.call('HINCRBY', KEYS[4], 'refused:kf_quota', 1)
  return {'refused', 'kf_quota'}
end
if cap > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
end
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[3], 'kf_sent', 1) end
redis.call('HSET', KEYS[1], 'status', 'sending', 'at', ARGV[1], 'sender', ARGV[5], 'channel', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {'send', ''}
""")

# KEYS: delivery, stats, contact hash. ARGV: outcome (sent | undeliverable), detail (errcode),
# now, push id ("" for notices). Only a `sending` delivery finishes (a retry changes nothing).
_FINISH = LuaScript("""
if redis.call('HGET', KEYS[1], 'status') ~= 'sending' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'detail', ARGV[2], 'done_at', ARGV[3])
if ARGV[1] == 'sent' then
  redis.call('HINCRBY', KEYS[2], 'sent', 1)
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], 'push', ARGV[4], 'push_at', ARGV[3]) end
else
  redis.call('HINCRBY', KEYS[2], 'undeliverable:' .. ARGV[2], 1)
end
return 1
""")

# KEYS: delivery, stats. ARGV: status (refused | postponed), reason, now, ttl.
# A refusal is final and counted once; a postponement is counted the first time only.
_SET_ASIDE = LuaScript("""
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'postponed' then return 0 end
if ARGV[1] == 'postponed' and status == 'postponed' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'reason', ARGV[2], 'at', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('HINCRBY', KEYS[2], ARGV[1] .. ':' .. ARGV[2], 1)
return 1
""")


@dataclass(frozen=True)
class Claimed:
    state: str  # send | done | refused | in_doubt
    detail: str = ""


async def claim(redis: Any, delivery_id: str, stats_key: str, *, cid: str, sender_id: str, day: int, cap: int,
                kf: bool, now: float, kf_limit: int = 5) -> Claimed:
    channel = sender_id.partition(":")[0]
    state, detail = await _CLAIM(redis, [key(delivery_id), cap_key(cid, day), contact_state.key(sender_id), stats_key],
                                 [int(now), cap, "1" if kf else "0", kf_limit, sender_id, RECORD_TTL_S, CAP_TTL_S,
                                  channel])
    return Claimed(_text(state), _text(detail))


async def finish(redis: Any, delivery_id: str, stats_key: str, sender_id: str, *, sent: bool, detail: str = "",
                 now: float, push_id: str = "") -> bool:
    return bool(await _FINISH(redis, [key(delivery_id), stats_key, contact_state.key(sender_id)],
                              ["sent" if sent else "undeliverable", detail, int(now), push_id]))


async def set_aside(redis: Any, delivery_id: str, stats_key: str, status: str, reason: str, now: float) -> bool:
    return bool(await _SET_ASIDE(redis, [key(delivery_id), stats_key], [status, reason, int(now), RECORD_TTL_S]))


async def status(redis: Any, delivery_id: str) -> Dict[str, str]:
    raw = await redis.hgetall(key(delivery_id))
    return {_text(k): _text(v) for k, v in (raw or {}).items()}


def _text(value: Optional[Any]) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
