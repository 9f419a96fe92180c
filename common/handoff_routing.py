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

import os
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
OUTBOX = PREFIX + "outbox"        # zset "<kind>:<request id>[:<n>]" -> when due (epoch s): see common/handoff_session.py
TIMERS = PREFIX + "timers"        # zset "reply:<id>" / "idle:<id>" -> deadline (epoch s)
ASSIGNED = PREFIX + "assigned"    # set of request ids a guide holds now (the console's "mine" and "all")
CHANGES = PREFIX + "changes"      # stream {id, kind}: what the guide console's live view listens to
COMPLAINTS = MARKETING + "ops:complaints"  # stream: what customers complained about (actions/handoff.py), for ops
WAY_PREFIX = MARKETING + "acq:way:"  # hash per acquisition state (渠道活码): guides, tags, welcome, config_id
CUSTOMER_PREFIX = MARKETING + "cust:"  # `<cid>:profile` hash; its `guide` field is the 锁客 binding


def request_key(request_id: str) -> str:
    return f"{PREFIX}req:{request_id}"  # hash: customer, status (queued/assigned/ended), guide, times


def open_key(cid: str) -> str:
    return f"{PREFIX}open:{cid}"  # the customer's open request id: one at a time


def held_key(sender_id: str) -> str:
    return f"{PREFIX}held:{sender_id}"  # request id while a guide holds this conversation: the bot stays silent


def profile_key(cid: str) -> str:
    return f"{CUSTOMER_PREFIX}{cid}:profile"


def history_key(cid: str) -> str:
    return f"{CUSTOMER_PREFIX}{cid}:handoffs"  # list: every request id of the customer, oldest first


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
    idle_timeout_min: float = 30.0
    offer: str = "auto"  # auto: a waiting request goes to the next guide with room; pick: guides take it (抢单)
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
                  bind_first_guide=bool(raw.get("bind_first_guide", True)),
                  idle_timeout_min=float(raw.get("idle_timeout_min", 30)),
                  offer="pick" if str(raw.get("offer") or "auto").strip() == "pick" else "auto", guides=tuple(guides))


_loaded: Dict[Tuple[str, float], Roster] = {}


def roster_file() -> Path:
    """HANDOFF_ROSTER_FILE, else data/handoff/guides.yml (tests and demos bring their own guides)."""
    return Path(os.environ.get("HANDOFF_ROSTER_FILE", "").strip() or ROSTER_FILE)


def current_roster(path: Optional[Path] = None) -> Roster:
    """The roster as the file says now (ops edit it without a restart), parsed once per change."""
    path = path or roster_file()
    stamp = (str(path), path.stat().st_mtime)
    if stamp not in _loaded:
        _loaded.clear()
        _loaded[stamp] = load_roster(path)
    return _loaded[stamp]


# KEYS: load, queue, queue seq, the customer's open request, request seq, outbox,
#       held (by sender), the customer's profile (its `guide` field is the 锁客 binding),
#       the customer's list of past requests.
# ARGV: customer, now (ISO), now (epoch s), key prefix, sender, channel, reason, context,
#       bind first guide ('1' or ''), reply deadline (epoch s), customer's group ('' none),
#       bound guide override ('' = the profile's), then (userid, capacity, group) of every
#       guide on duty, in roster order.
# Returns {verdict, request id, guide, position, status}: verdict assigned / queued / existing.
_REQUEST = LuaScript("""
local cid, now, epoch, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local sender, channel, reason, context, bind_first = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local deadline, group, bound = ARGV[10], ARGV[11], ARGV[12]
if bound == '' then bound = redis.call('HGET', KEYS[8], 'guide') or '' end
local open = redis.call('GET', KEYS[4])
if open then
  local req = prefix .. 'req:' .. open
  local status, guide = unpack(redis.call('HMGET', req, 'status', 'guide'))
  local rank = redis.call('ZRANK', KEYS[2], open)
  return {'existing', open, guide or '', rank and (rank + 1) or 0, status or ''}
end
local best, best_load, best_rank = nil, nil, 9
for i = 13, #ARGV, 3 do
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
local arrival = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[4], id)
redis.call('HSET', req, 'customer', cid, 'sender', sender, 'channel', channel, 'reason', reason,
           'context', context, 'group', group, 'arrival', arrival, 'requested_at', now)
redis.call('RPUSH', KEYS[9], id)  -- never trimmed: erasure finds every request of the customer here
if best then
  redis.call('HINCRBY', KEYS[1], best, 1)
  redis.call('HSET', req, 'status', 'assigned', 'guide', best, 'assigned_at', now)
  redis.call('SADD', prefix .. 'assigned', id)
  if sender ~= '' then redis.call('SET', KEYS[7], id) end
  if bind_first == '1' and bound == '' then redis.call('HSETNX', KEYS[8], 'guide', best) end
  redis.call('ZADD', KEYS[6], epoch, 'notify:' .. id)
  redis.call('ZADD', prefix .. 'timers', deadline, 'reply:' .. id)
  redis.call('XADD', prefix .. 'changes', 'MAXLEN', '~', 1000, '*', 'id', id, 'kind', 'assigned')
  return {'assigned', id, best, 0, 'assigned'}
end
redis.call('ZADD', KEYS[2], arrival, id)
redis.call('HSET', req, 'status', 'queued')
redis.call('XADD', prefix .. 'changes', 'MAXLEN', '~', 1000, '*', 'id', id, 'kind', 'queued')
return {'queued', id, '', redis.call('ZRANK', KEYS[2], id) + 1, 'queued'}
""")

# KEYS: load, queue, outbox. ARGV: guide, capacity, now (ISO), key prefix, freed request id
# ('' none), now (epoch s), reply deadline (epoch s), outcome of the freed request, bind first ('1'/''),
# customer key prefix (the profile's `guide` field binds).
# Ends the freed request (its guide's slot comes back, the bot resumes), then gives the
# guide the oldest waiting requests they have not passed on, while they have room.
# Returns the request ids it took.
_FREE_AND_OFFER = LuaScript("""
local guide, capacity, now, prefix, freed = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local epoch, deadline, outcome, bind_first, profile_prefix = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9], ARGV[10]
if freed ~= '' then
  local req = prefix .. 'req:' .. freed
  local status, holder, cid, sender = unpack(redis.call('HMGET', req, 'status', 'guide', 'customer', 'sender'))
  if status == 'assigned' and holder == guide then
    redis.call('HINCRBY', KEYS[1], guide, -1)
    redis.call('HSET', req, 'status', 'ended', 'ended_at', now, 'outcome', outcome)
    redis.call('SREM', prefix .. 'assigned', freed)
    if redis.call('GET', prefix .. 'open:' .. cid) == freed then redis.call('DEL', prefix .. 'open:' .. cid) end
    if sender and sender ~= '' and redis.call('GET', prefix .. 'held:' .. sender) == freed then
      redis.call('DEL', prefix .. 'held:' .. sender)
    end
    redis.call('ZREM', prefix .. 'timers', 'reply:' .. freed, 'idle:' .. freed)
    redis.call('ZADD', KEYS[3], epoch, 'resume:' .. freed)
    redis.call('XADD', prefix .. 'changes', 'MAXLEN', '~', 1000, '*', 'id', freed, 'kind', 'ended')
  end
end
local taken = {}
local waiting = redis.call('ZRANGE', KEYS[2], 0, 199)
for _, head in ipairs(waiting) do
  if tonumber(redis.call('HGET', KEYS[1], guide) or '0') >= capacity then break end
  local req = prefix .. 'req:' .. head
  if redis.call('HGET', req, 'passed_by') ~= guide then
    redis.call('ZREM', KEYS[2], head)
    redis.call('HINCRBY', KEYS[1], guide, 1)
    redis.call('HSET', req, 'status', 'assigned', 'guide', guide, 'assigned_at', now)
    redis.call('SADD', prefix .. 'assigned', head)
    local cid, sender = unpack(redis.call('HMGET', req, 'customer', 'sender'))
    if sender and sender ~= '' then redis.call('SET', prefix .. 'held:' .. sender, head) end
    if bind_first == '1' and cid then redis.call('HSETNX', profile_prefix .. cid .. ':profile', 'guide', guide) end
    redis.call('ZADD', KEYS[3], epoch, 'notify:' .. head)
    redis.call('ZADD', prefix .. 'timers', deadline, 'reply:' .. head)
    redis.call('XADD', prefix .. 'changes', 'MAXLEN', '~', 1000, '*', 'id', head, 'kind', 'assigned')
    taken[#taken + 1] = head
  end
end
return taken
""")


# KEYS: load, queue, outbox. ARGV: request id, guide, capacity (0 off duty), now (ISO), now (epoch s),
# reply deadline, key prefix, bind first ('1'/''), customer key prefix.
# A guide takes one waiting request from the console. Returns 'ok' or why not: not_waiting / full.
_TAKE = LuaScript("""
local id, guide, capacity, now, epoch, deadline, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local bind_first, profile_prefix = ARGV[8], ARGV[9]
if not redis.call('ZSCORE', KEYS[2], id) then return 'not_waiting' end
if tonumber(redis.call('HGET', KEYS[1], guide) or '0') >= capacity then return 'full' end
local req = prefix .. 'req:' .. id
redis.call('ZREM', KEYS[2], id)
redis.call('HINCRBY', KEYS[1], guide, 1)
redis.call('HSET', req, 'status', 'assigned', 'guide', guide, 'assigned_at', now)
redis.call('SADD', prefix .. 'assigned', id)
local cid, sender = unpack(redis.call('HMGET', req, 'customer', 'sender'))
if sender and sender ~= '' then redis.call('SET', prefix .. 'held:' .. sender, id) end
if bind_first == '1' and cid then redis.call('HSETNX', profile_prefix .. cid .. ':profile', 'guide', guide) end
redis.call('ZADD', KEYS[3], epoch, 'notify:' .. id)
redis.call('ZADD', prefix .. 'timers', deadline, 'reply:' .. id)
redis.call('XADD', prefix .. 'changes', 'MAXLEN', '~', 1000, '*', 'id', id, 'kind', 'assigned')
return 'ok'
""")

# KEYS: load, outbox, the request. ARGV: from guide, to guide, to's capacity (0 off duty), now (ISO),
# now (epoch s), key prefix, note, request id.
# The holder hands the conversation to a colleague (with a note for them); the customer is told who comes.
# Returns 'ok' or why not: not_yours / same / full.
_TRANSFER = LuaScript("""
local from, to, capacity, now, epoch, prefix, note, id = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local status, holder = unpack(redis.call('HMGET', KEYS[3], 'status', 'guide'))
if status ~= 'assigned' or holder ~= from then return 'not_yours' end
if to == from then return 'same' end
if tonumber(redis.call('HGET', KEYS[1], to) or '0') >= capacity then return 'full' end
redis.call('HINCRBY', KEYS[1], from, -1)
redis.call('HINCRBY', KEYS[1], to, 1)
redis.call('HSET', KEYS[3], 'guide', to, 'assigned_at', now, 'transferred_from', from, 'transfer_note', note)
redis.call('HINCRBY', KEYS[3], 'transfers', 1)
redis.call('ZADD', KEYS[2], epoch, 'notify:' .. id)
redis.call('XADD', prefix .. 'changes', 'MAXLEN', '~', 1000, '*', 'id', id, 'kind', 'transferred')
return 'ok'
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


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def reply_deadline(roster: Roster, now: datetime) -> float:
    return _epoch(now) + roster.reply_timeout_min * 60


async def request(redis: Any, roster: Roster, cid: str, now: datetime, bound_guide: str = "",
                  group: str = "", sender: str = "", channel: str = "", reason: str = "",
                  context: str = "") -> Routed:
    """Route a customer's request for a human (or find the one they already have open).
    `bound_guide` overrides the profile's binding (tests); `context` is what the guide's
    notification shows about the customer (name, tags), written by the caller."""
    found = await _REQUEST(
        redis, [LOAD, QUEUE, QUEUE_SEQ, open_key(cid), REQUEST_SEQ, OUTBOX, held_key(sender), profile_key(cid),
                history_key(cid)],
        [cid, now.isoformat(), _epoch(now), PREFIX, sender, channel, reason, context,
         "1" if roster.bind_first_guide else "", reply_deadline(roster, now), group, bound_guide,
         *_on_duty_args(roster.on_duty(now))])
    verdict, request_id, guide, position, status = (_text(v) for v in found)
    return Routed(verdict, request_id, guide, int(position), status)


async def free_and_offer(redis: Any, roster: Roster, guide: Guide, now: datetime, freed_request: str = "",
                         outcome: str = "ended") -> List[str]:
    """A guide ends a conversation (`freed_request`) or comes on duty: their slot is given
    to the oldest waiting requests they have not passed on, up to capacity (none while
    off duty). The ended conversation goes back to the bot (outbox `resume:`), each taken
    one to the guide (outbox `notify:`). With `offer: pick` nothing is given: guides take
    waiting requests from the console."""
    capacity = 0 if roster.offer == "pick" else _capacity(roster, guide, now)
    taken = await _FREE_AND_OFFER(
        redis, [LOAD, QUEUE, OUTBOX],
        [guide.userid, capacity, now.isoformat(), PREFIX, freed_request, _epoch(now), reply_deadline(roster, now),
         outcome, "1" if roster.bind_first_guide else "", CUSTOMER_PREFIX])
    return [_text(t) for t in taken]


def _capacity(roster: Roster, guide: Guide, now: datetime) -> int:
    return guide.capacity if guide in roster.on_duty(now) else 0


async def take(redis: Any, roster: Roster, guide: Guide, request_id: str, now: datetime) -> str:
    """A guide takes a waiting request (console): 'ok', 'not_waiting' or 'full' (also when off duty)."""
    return _text(await _TAKE(redis, [LOAD, QUEUE, OUTBOX],
                             [request_id, guide.userid, _capacity(roster, guide, now), now.isoformat(), _epoch(now),
                              reply_deadline(roster, now), PREFIX, "1" if roster.bind_first_guide else "",
                              CUSTOMER_PREFIX]))


async def transfer(redis: Any, roster: Roster, holder: Guide, to: Guide, request_id: str, now: datetime,
                   note: str = "") -> str:
    """Hand a held conversation to a colleague on duty with room: 'ok', 'not_yours', 'same' or 'full'."""
    return _text(await _TRANSFER(redis, [LOAD, OUTBOX, request_key(request_id)],
                                 [holder.userid, to.userid, _capacity(roster, to, now), now.isoformat(), _epoch(now),
                                  PREFIX, note[:200], request_id]))


async def position(redis: Any, request_id: str) -> int:
    """1 = next in line; 0 = not waiting ("我前面还有几位？" asks position - 1)."""
    rank = await redis.zrank(QUEUE, request_id)
    return 0 if rank is None else int(rank) + 1


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
