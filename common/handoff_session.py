"""A conversation a guide holds (issue 12): its transcript, its timers and the
outbox of everything that must reach somebody because of it.

Routing (common/handoff_routing.py) decides who holds a request; this module is
what happens while they do. Every step is one Lua script on the `{brand}` tag,
and every effect on another party is a member of the outbox zset written in
that same step, so nothing is done twice or lost between "change state" and
"tell them":

| outbox member              | what the worker (bot/handoff/worker.py) does                |
|----------------------------|-------------------------------------------------------------|
| `notify:<id>`              | pause the bot, tell the guide (context + last messages), tell a waiting customer who is coming |
| `in:<id>:<n>`              | relay the customer's message n to the guide                 |
| `out:<id>:<n>`             | deliver the guide's message n to the customer               |
| `resume:<id>`              | resume the bot, the persona says she is back, tell the guide |
| `takeback:<id>:<guide>`    | tell the silent guide and the customer; the request waits again |

A worker claims a due member by pushing its score one lease ahead and removes
it when done, so a crashed worker's member is retried after the lease (at least
once; a member is never dropped).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional

from common.handoff_routing import CHANGES, LOAD, OUTBOX, PREFIX, QUEUE, TIMERS, Roster, held_key, request_key
from common.lua_script import LuaScript

CUSTOMER, GUIDE = "customer", "guide"
MAX_MESSAGES = 1000  # per handoff: a guide conversation longer than this is not relayed further


def messages_key(request_id: str) -> str:
    return f"{PREFIX}msgs:{request_id}"  # list of JSON {at, who, text[, guide]}


# KEYS: request, messages, outbox, timers, changes.
# ARGV: who, JSON entry, now (epoch s), idle deadline (epoch s), guide userid (guide messages),
#       now (ISO), max messages, request id.
# Returns {'ok', index} or {'refused', why}: why = ended / not_yours / not_held / full.
_APPEND = LuaScript("""
local who, entry, epoch, idle, guide, now, cap, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8]
local status, holder = unpack(redis.call('HMGET', KEYS[1], 'status', 'guide'))
if status ~= 'assigned' then return {'refused', status == 'ended' and 'ended' or 'not_held'} end
if who == 'guide' and holder ~= guide then return {'refused', 'not_yours'} end
local count = redis.call('LLEN', KEYS[2])
if count >= cap then return {'refused', 'full'} end
redis.call('RPUSH', KEYS[2], entry)
if who == 'guide' then
  if redis.call('HSETNX', KEYS[1], 'first_reply_at', now) == 1 then redis.call('ZREM', KEYS[4], 'reply:' .. id) end
  redis.call('ZADD', KEYS[3], epoch, 'out:' .. id .. ':' .. count)
else
  redis.call('ZADD', KEYS[3], epoch, 'in:' .. id .. ':' .. count)
end
redis.call('HSET', KEYS[1], 'last_message_at', now)
redis.call('ZADD', KEYS[4], idle, 'idle:' .. id)
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 1000, '*', 'id', id, 'kind', 'message')
return {'ok', count}
""")

# KEYS: request, messages, timers, changes. ARGV: JSON entry, now (ISO), idle deadline (epoch s), max messages, request id.
# A guide's message that already reached the customer: recorded like `append` records a guide's
# message (it counts as their answer, the idle clock restarts) but nothing is queued to relay.
# Returns {'ok', index} or {'refused', why}: why = ended / not_held / full.
_RECORD_DELIVERED = LuaScript("""
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'assigned' then return {'refused', status == 'ended' and 'ended' or 'not_held'} end
local count = redis.call('LLEN', KEYS[2])
if count >= tonumber(ARGV[4]) then return {'refused', 'full'} end
redis.call('RPUSH', KEYS[2], ARGV[1])
if redis.call('HSETNX', KEYS[1], 'first_reply_at', ARGV[2]) == 1 then redis.call('ZREM', KEYS[3], 'reply:' .. ARGV[5]) end
redis.call('HSET', KEYS[1], 'last_message_at', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], 'idle:' .. ARGV[5])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 1000, '*', 'id', ARGV[5], 'kind', 'message')
return {'ok', count}
""")

# KEYS: request, load, queue, outbox, timers.
# ARGV: now (ISO), now (epoch s), key prefix, request id.
# A guide who has not answered in time: their slot comes back, the request waits again
# at its old place (it keeps its arrival number), not offered back to them next.
_TAKE_BACK = LuaScript("""
local now, epoch, prefix, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('ZREM', KEYS[5], 'reply:' .. id)
local status, guide, first, sender, arrival = unpack(redis.call('HMGET', KEYS[1], 'status', 'guide', 'first_reply_at', 'sender', 'arrival'))
if status ~= 'assigned' or first then return '' end
redis.call('HINCRBY', KEYS[2], guide, -1)
redis.call('HSET', KEYS[1], 'status', 'queued', 'guide', '', 'passed_by', guide, 'taken_back_at', now)
redis.call('SREM', prefix .. 'assigned', id)
redis.call('HINCRBY', KEYS[1], 'taken_back', 1)
redis.call('ZADD', KEYS[3], tonumber(arrival or '0'), id)
if sender and sender ~= '' and redis.call('GET', prefix .. 'held:' .. sender) == id then
  redis.call('DEL', prefix .. 'held:' .. sender)
end
redis.call('ZREM', KEYS[5], 'idle:' .. id)
redis.call('ZADD', KEYS[4], epoch, 'takeback:' .. id .. ':' .. guide)
redis.call('XADD', prefix .. 'changes', 'MAXLEN', '~', 1000, '*', 'id', id, 'kind', 'queued')
return guide
""")

# KEYS: outbox. ARGV: now (epoch s), lease (s), limit.
_CLAIM = LuaScript("""
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), member) end
return due
""")


@dataclass(frozen=True)
class Appended:
    ok: bool
    index: int = -1
    refused: str = ""  # ended | not_yours | not_held | full


def entry(who: str, text: str, now: datetime, guide: str = "", **extra: Any) -> str:
    body: Dict[str, Any] = {"at": now.isoformat(), "who": who, "text": text}
    if guide:
        body["guide"] = guide
    body.update(extra)
    return json.dumps(body, ensure_ascii=False)


async def append(redis: Any, roster: Roster, request_id: str, who: str, text: str, now: datetime,
                 guide: str = "") -> Appended:
    """Record a message of a held conversation and queue its relay to the other side."""
    idle = now.timestamp() + roster.idle_timeout_min * 60
    found = await _APPEND(redis, [request_key(request_id), messages_key(request_id), OUTBOX, TIMERS, CHANGES],
                          [who, entry(who, text, now, guide), now.timestamp(), idle, guide, now.isoformat(),
                           MAX_MESSAGES, request_id])
    verdict, detail = _text(found[0]), _text(found[1])
    return Appended(True, int(detail)) if verdict == "ok" else Appended(False, refused=detail)


async def record_delivered(redis: Any, roster: Roster, request_id: str, text: str, now: datetime, guide: str,
                           via: str) -> Appended:
    """Record a message a guide sent the customer themselves (e.g. from the WeCom client into
    a 微信客服 session, `via="wecom_kf"`): in the transcript, stopping the reply timer, with no
    `out:` relay. Any servicer's message counts, not only the holder's: it did reach the customer."""
    idle = now.timestamp() + roster.idle_timeout_min * 60
    found = await _RECORD_DELIVERED(redis, [request_key(request_id), messages_key(request_id), TIMERS, CHANGES],
                                    [entry(GUIDE, text, now, guide, via=via), now.isoformat(), idle, MAX_MESSAGES,
                                     request_id])
    verdict, detail = _text(found[0]), _text(found[1])
    return Appended(True, int(detail)) if verdict == "ok" else Appended(False, refused=detail)


async def take_back(redis: Any, request_id: str, now: datetime) -> str:
    """The reply timer ran out: returns the guide it was taken from ('' when they had answered)."""
    found = await _TAKE_BACK(redis, [request_key(request_id), LOAD, QUEUE, OUTBOX, TIMERS],
                             [now.isoformat(), now.timestamp(), PREFIX, request_id])
    return _text(found or "")


async def claim_due(redis: Any, now: datetime, lease_s: float, limit: int = 50) -> List[str]:
    return [_text(m) for m in await _CLAIM(redis, [OUTBOX], [now.timestamp(), lease_s, limit])]


async def done(redis: Any, member: str) -> None:
    await redis.zrem(OUTBOX, member)


async def due_timers(redis: Any, now: datetime, limit: int = 50) -> List[str]:
    return [_text(m) for m in await redis.zrangebyscore(TIMERS, "-inf", now.timestamp(), start=0, num=limit)]


async def details(redis: Any, request_id: str) -> Dict[str, str]:
    raw = await redis.hgetall(request_key(request_id))
    return {_text(k): _text(v) for k, v in raw.items()}


async def messages(redis: Any, request_id: str, start: int = 0, end: int = -1) -> List[Dict[str, Any]]:
    return [json.loads(_text(m)) for m in await redis.lrange(messages_key(request_id), start, end)]


async def message(redis: Any, request_id: str, index: int) -> Optional[Dict[str, Any]]:
    raw = await redis.lindex(messages_key(request_id), index)
    return json.loads(_text(raw)) if raw is not None else None


async def held_request(redis: Any, sender_id: str) -> Optional[str]:
    found = await redis.get(held_key(sender_id))
    return _text(found) if found is not None else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
