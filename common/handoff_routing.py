"""Who takes a conversation over from the persona: the guide roster and routing (issue 12).

Both runtimes route: the action server when a customer asks for a human, the
console when a guide ends a conversation or comes on duty. Routing is one Lua
step on Redis, so two processes never assign one request twice or a guide past
capacity (docs/redis-schema.md, "handoff"):

1. the customer's bound guide (锁客), if on duty and below capacity;
2. else the least-loaded guide on duty in the customer's group (store);
3. else the least-loaded guide on duty;
4. else the request waits in one FIFO queue, and a guide who frees a slot or
   comes on duty takes the oldest waiting request first.

Who is on duty is decided here, from `data/handoff/guides.yml` and the clock;
the script only sees the guides on duty now, with their capacity and group.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time as clock_time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import yaml

from common.key_tags import MARKETING
from common.lua_script import LuaScript

ROOT = Path(__file__).resolve().parent.parent
ROSTER_FILE = ROOT / "data" / "handoff" / "guides.yml"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Keys (all under the marketing tag: a request names a customer and moves guides' loads together)
PREFIX = MARKETING + "ho:"
LOAD = PREFIX + "load"            # hash guide userid -> conversations held now
QUEUE = PREFIX + "queue"          # zset request id -> arrival number (FIFO)
QUEUE_SEQ = PREFIX + "queue:seq"  # arrival counter
REQUEST_SEQ = PREFIX + "seq"      # request id counter


def request_key(request_id: str) -> str:
    return f"{PREFIX}req:{request_id}"  # hash: customer, status (queued/assigned/ended), guide, times


def open_key(cid: str) -> str:
    return f"{PREFIX}open:{cid}"  # the customer's open request id: one at a time


@dataclass(frozen=True)
class Guide:
    userid: str
    name: str
    group: str
    capacity: int
    hours: Dict[int, Tuple[clock_time, clock_time]]  # weekday (0 = Monday) -> from, to

    def on_duty(self, local: datetime) -> bool:
        span = self.hours.get(local.weekday())
        return bool(span) and span[0] <= local.time() < span[1]


@dataclass(frozen=True)
class Roster:
    timezone: str
    reply_timeout_min: float
    bind_first_guide: bool
    guides: Tuple[Guide, ...] = field(default_factory=tuple)

    def guide(self, userid: str) -> Optional[Guide]:
        return next((g for g in self.guides if g.userid == userid), None)

    def on_duty(self, now: datetime) -> List[Guide]:
        local = now.astimezone(ZoneInfo(self.timezone))
        return [g for g in self.guides if g.on_duty(local)]


_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _days(spec: str) -> List[int]:
    first, _, last = spec.strip().lower().partition("-")
    start, end = DAYS.index(first), DAYS.index(last or first)
    return list(range(start, end + 1))


def _hours(raw: Dict[str, str], who: str) -> Dict[int, Tuple[clock_time, clock_time]]:
    hours: Dict[int, Tuple[clock_time, clock_time]] = {}
    for days, span in (raw or {}).items():
        found = _SPAN.match(str(span))
        if not found:
            raise ValueError(f"guide {who}: hours {span!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(x) for x in found.groups())
        for day in _days(str(days)):
            hours[day] = (clock_time(h1, m1), clock_time(h2, m2) if h2 < 24 else clock_time(23, 59, 59))
    return hours


def load_roster(path: Path = ROSTER_FILE) -> Roster:
    raw: Dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    guides = []
    for item in raw.get("guides") or []:
        userid = str(item["userid"])
        guides.append(Guide(userid=userid, name=str(item.get("name") or userid), group=str(item.get("group") or ""),
                            capacity=max(0, int(item.get("capacity", 1))), hours=_hours(item.get("hours"), userid)))
    if len({g.userid for g in guides}) != len(guides):
        raise ValueError(f"{path}: a guide userid is listed twice")
    return Roster(timezone=str(raw.get("timezone") or "Asia/Shanghai"),
                  reply_timeout_min=float(raw.get("reply_timeout_min", 5)),
                  bind_first_guide=bool(raw.get("bind_first_guide", True)), guides=tuple(guides))


# KEYS: load, queue, queue seq, the customer's open request, request seq.
# ARGV: customer, now, bound guide ('' none), customer's group ('' none), key prefix,
#       then (userid, capacity, group) of every guide on duty, in roster order.
# Returns {verdict, request id, guide, position}: verdict assigned / queued / existing.
_REQUEST = LuaScript("""
local cid, now, bound, group, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local open = redis.call('GET', KEYS[4])
if open then
  local req = prefix .. 'req:' .. open
  local status, guide = unpack(redis.call('HMGET', req, 'status', 'guide'))
  local rank = redis.call('ZRANK', KEYS[2], open)
  return {'existing', open, guide or '', rank and (rank + 1) or 0, status or ''}
end
local best, best_load, best_rank = nil, nil, 9
for i = 6, #ARGV, 3 do
  local guide, capacity, guide_group = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local load = tonumber(redis.call('HGET', KEYS[1], guide) or '0')
  if load < capacity then
    local rank = 3
    if guide == bound then rank = 1 elseif group ~= '' and guide_group == group then rank = 2 end
    if rank < best_rank or (rank == best_rank and load < best_load) then
      best, best_load, best_rank = guide, load, rank
    end
  end
end
local id = tostring(redis.call('INCR', KEYS[5]))
local req = prefix .. 'req:' .. id
redis.call('SET', KEYS[4], id)
if best then
  redis.call('HINCRBY', KEYS[1], best, 1)
  redis.call('HSET', req, 'customer', cid, 'status', 'assigned', 'guide', best, 'requested_at', now, 'assigned_at', now)
  return {'assigned', id, best, 0, 'assigned'}
end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), id)
redis.call('HSET', req, 'customer', cid, 'status', 'queued', 'requested_at', now)
return {'queued', id, '', redis.call('ZRANK', KEYS[2], id) + 1, 'queued'}
""")

# KEYS: load, queue. ARGV: guide, capacity, now, key prefix, freed request id ('' none).
# Ends the freed request (its guide's slot comes back), then gives the guide the oldest
# waiting requests while it has room. Returns the request ids it took.
_FREE_AND_OFFER = LuaScript("""
local guide, capacity, now, prefix, freed = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
if freed ~= '' then
  local req = prefix .. 'req:' .. freed
  local status, holder, cid = unpack(redis.call('HMGET', req, 'status', 'guide', 'customer'))
  if status == 'assigned' and holder == guide then
    redis.call('HINCRBY', KEYS[1], guide, -1)
    redis.call('HSET', req, 'status', 'ended', 'ended_at', now)
    if redis.call('GET', prefix .. 'open:' .. cid) == freed then redis.call('DEL', prefix .. 'open:' .. cid) end
  end
end
local taken = {}
while tonumber(redis.call('HGET', KEYS[1], guide) or '0') < capacity do
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not head then break end
  redis.call('ZREM', KEYS[2], head)
  redis.call('HINCRBY', KEYS[1], guide, 1)
  redis.call('HSET', prefix .. 'req:' .. head, 'status', 'assigned', 'guide', guide, 'assigned_at', now)
  taken[#taken + 1] = head
end
return taken
""")


@dataclass(frozen=True)
class Routed:
    verdict: str  # assigned | queued | existing
    request_id: str
    guide: str    # '' while queued
    position: int  # 1 = next in line; 0 when not queued
    status: str   # queued | assigned (the request's status now)


def _on_duty_args(guides: Sequence[Guide]) -> List[Any]:
    return [v for g in guides for v in (g.userid, g.capacity, g.group)]


async def request(redis: Any, roster: Roster, cid: str, now: datetime, bound_guide: str = "",
                  group: str = "") -> Routed:
    """Route a customer's request for a human (or find the one they already have open)."""
    found = await _REQUEST(redis, [LOAD, QUEUE, QUEUE_SEQ, open_key(cid), REQUEST_SEQ],
                           [cid, now.isoformat(), bound_guide, group, PREFIX, *_on_duty_args(roster.on_duty(now))])
    verdict, request_id, guide, position, status = (_text(v) for v in found)
    return Routed(verdict, request_id, guide, int(position), status)


async def free_and_offer(redis: Any, roster: Roster, guide: Guide, now: datetime, freed_request: str = "") -> List[str]:
    """A guide ends a conversation (`freed_request`) or comes on duty: their slot is given
    to the oldest waiting requests, up to capacity (none while off duty)."""
    capacity = guide.capacity if guide in roster.on_duty(now) else 0
    taken = await _FREE_AND_OFFER(redis, [LOAD, QUEUE], [guide.userid, capacity, now.isoformat(), PREFIX, freed_request])
    return [_text(t) for t in taken]


async def position(redis: Any, request_id: str) -> int:
    """1 = next in line; 0 = not waiting ("我前面还有几位？" asks position - 1)."""
    rank = await redis.zrank(QUEUE, request_id)
    return 0 if rank is None else int(rank) + 1


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
