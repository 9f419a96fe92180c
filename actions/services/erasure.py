"""Erase one customer's data everywhere (PIPL: the right to deletion).

`plan(client, cid)` finds every key, hash field, list item and stream entry
that belongs to the customer (docs/redis-schema.md); `erase(client, cid)`
removes them and returns the same report: counts per kind.

What is removed:
  profile, identities (`{brand}:cust:ident:*` pointing at them and their set), tags,
  tag log, tag-rule event counters, coupons held, claims (with name, phone,
  address) and their place in the campaigns' winners lists, check-in state,
  lottery per-user state, inbox stream entries and group samples of theirs
  (a group whose label was their message is relabelled or dropped), the Rasa
  trackers and locks of all their sender ids (`<ns>:<id>` and the legacy
  un-namespaced id), per-sender option menus, event dedup keys, cached
  unionids and flood counters, their
  entries in the undeliverable / unsubscribed streams, their messages in the
  ops console's turn log, and in the acknowledged
  公众号 callbacks, and their requests for a human guide (queue place, slot);
  the outbound worker's records of them (contact window and 退订, deliveries, notices),
  their invite code and place among invitees, their restock wishes; codes they redeemed
  stay used (a code pays once) but no longer name them.

What stays, on purpose:
  `{brand}:cpn:<type>:issued` keeps each code they were issued under an anonymous
  field (`erased:<n>`): the hash's size is the campaign's issue cap and its
  values keep codes unique; `cpn:<type>:known` holds codes only. Stock
  counters (`{brand}:lot:<camp>:stock`) stay: the prize was given.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, List, Set

import redis.asyncio as aioredis

from actions import outbox
from actions.services import codes, coupons, prizes, referrals, restock
from actions.services.store import ALERTS, PREFIX, TAG
from common import contact_state, handoff_routing, handoff_session, inbox_store, notices, traffic_log, web_mailbox

TRACKER_PREFIX = "rasa:tracker:"
LOCK_PREFIX = "rasa:lock:"
SENDER_NAMESPACES = ("wechat_mp", "wecom_kf", "wecom", "web", "rest")
STREAMS_BY_RECIPIENT = {"wx:undeliverable": "recipient", "wx:mp:unsubscribed": "openid"}

Step = Callable[[aioredis.Redis], Awaitable[None]]


@dataclass
class Plan:
    cid: str
    counts: Counter = field(default_factory=Counter)
    steps: List[Step] = field(default_factory=list)

    def add(self, kind: str, count: int, step: Step) -> None:
        if count:
            self.counts[kind] += count
            self.steps.append(step)

    def report(self) -> Dict[str, object]:
        return {"customer": self.cid, "removed": dict(sorted(self.counts.items()))}


def _glob(text: str) -> str:
    """Escape a literal for a SCAN MATCH pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


async def _scan(client: aioredis.Redis, pattern: str) -> List[str]:
    return [k async for k in client.scan_iter(match=pattern, count=500)]


def sender_ids(idents: Set[str]) -> Set[str]:
    """Every Rasa sender id a customer's channel identities may have used."""
    senders: Set[str] = set()
    for ident in idents:
        kind, _, user = ident.partition(":")
        if kind == "unionid" or not user:
            continue
        senders.add(user)  # legacy un-namespaced id, or an id already namespaced
        head, _, tail = user.partition(":")
        if head in SENDER_NAMESPACES and tail:
            senders.add(tail)  # its legacy form
        else:
            senders.add(f"{kind}:{user}")
            if kind == "web":
                senders.add(f"rest:{user}")
    return senders


def _delete(keys: List[str]) -> Step:
    async def step(client: aioredis.Redis) -> None:
        await client.delete(*keys)
    return step


async def plan(client: aioredis.Redis, cid: str) -> Plan:
    result = Plan(cid)
    idents = set(await client.smembers(f"{PREFIX}{cid}:idents"))

    # identities that point at this customer (not another person's, if merged later)
    ident_keys = [f"{PREFIX}ident:{i}" for i in idents]
    owned = [k for k, v in zip(ident_keys, await client.mget(ident_keys) if ident_keys else []) if v == cid]
    result.add("identities", len(owned), _delete(owned))

    # claims (personal data for fulfilment) and their place in winners lists
    claim_ids = await client.lrange(f"{PREFIX}{cid}:claims", 0, -1)
    claim_keys = [f"{prizes.CLAIM_PREFIX}{c}" for c in claim_ids]
    result.add("claims", len([k for k in claim_keys if await client.exists(k)]), _delete(claim_keys))
    for winners in await _scan(client, f"{_glob(TAG)}lot:*:winners"):
        listed = set(await client.lrange(winners, 0, -1)) & set(claim_ids)
        if listed:
            async def drop(c: aioredis.Redis, key: str = winners, ids: Set[str] = listed) -> None:
                for claim_id in ids:
                    await c.lrem(key, 0, claim_id)
            result.add("winner_entries", len(listed), drop)

    # coupons: the customer's hash goes; issued codes stay, anonymised
    held = await client.hgetall(f"{PREFIX}{cid}:coupons")
    for issued in await _scan(client, f"{_glob(TAG)}cpn:*:issued"):
        code = await client.hget(issued, cid)
        if code is not None:
            async def anonymise(c: aioredis.Redis, key: str = issued, code: str = code) -> None:
                slot = await c.incr(f"{key}:erased_seq")
                await c.hset(key, f"erased:{slot}", code)
                await c.hdel(key, cid)
            result.add("issued_code_links", 1, anonymise)
    result.counts["coupons"] += len(held)

    # every key under the customer: profile, idents, tags, tag_log, events:*, coupons, claims, …
    own_keys = await _scan(client, f"{_glob(PREFIX + cid)}:*")
    result.add("customer_keys", len(own_keys), _delete(own_keys))

    # campaigns: check-in state and lottery per-user state
    checkin = await _scan(client, f"{_glob(TAG)}chk:*:{_glob(cid)}") + await _scan(client, f"{_glob(TAG)}chk:*:{_glob(cid)}:*")
    result.add("checkin_keys", len(checkin), _delete(checkin))
    lottery = await _scan(client, f"{_glob(TAG)}lot:*:user:{_glob(cid)}")
    result.add("lottery_keys", len(lottery), _delete(lottery))

    # exactly-once bookkeeping: idempotency results and reward grants (and their queue entries)
    idem = await _scan(client, f"{_glob(TAG)}idem:{_glob(cid)}:*")
    result.add("idempotency_keys", len(idem), _delete(idem))
    grants = await _scan(client, f"{_glob(outbox.GRANT_PREFIX)}*:{_glob(cid)}:*")
    if grants:
        parked = await _scan(client, f"{_glob(TAG)}cpn:*:parked")

        async def unqueue(c: aioredis.Redis, keys: List[str] = grants, parked: List[str] = parked) -> None:
            await c.zrem(coupons.OUTBOX, *keys)
            for key in parked:
                await c.srem(key, *keys)
            await c.delete(*keys)
        result.add("reward_grants", len(grants), unqueue)

    # conversations: trackers, locks, option menus, event dedup of every sender id
    senders = sender_ids(idents)
    users = {s.partition(":")[2] or s for s in senders} | senders
    trackers = [k for s in senders for k in (TRACKER_PREFIX + s,) if await client.exists(k)]
    result.add("trackers", len(trackers), _delete(trackers))
    locks = [k for s in senders for k in (LOCK_PREFIX + s,) if await client.exists(k)]
    result.add("tracker_locks", len(locks), _delete(locks))
    options: List[str] = []
    dedup: List[str] = []
    for user in users:
        options += await _scan(client, f"opt:*:{_glob(user)}")
        dedup += await _scan(client, f"wx:dedup:*:evt:{_glob(user)}:*")
    # channel caches: unionids fetched from WeChat, flood counters, late action results
    # (bot/wechat/mp_unionid.py, kf_sync, bot/flood.py, bot/action_guard.py)
    caches = [k for k in sorted({f"wx:mp:unionid:{u}" for u in users} | {f"wx:kf:unionid:{u}" for u in users}
                                | {f"flood:sender:{s}" for s in senders} | {f"late:{s}" for s in senders})
              if await client.exists(k)]
    result.add("channel_caches", len(caches), _delete(caches))
    result.add("option_menus", len(set(options)), _delete(sorted(set(options))))
    result.add("dedup_keys", len(set(dedup)), _delete(sorted(set(dedup))))
    # requests for a human guide (common/handoff_routing.py): the request, its queue place, its slot
    # (their ids are in `{brand}:cust:<cid>:handoffs`, written by the request step; no scan)
    for request_id in await client.lrange(handoff_routing.history_key(cid), 0, -1):
        request = handoff_routing.request_key(request_id)
        held = await client.hgetall(request)
        if held.get("customer") != cid:
            continue
        async def drop_request(c: aioredis.Redis, key: str = request, held: Dict[str, str] = held) -> None:
            request_id = key[len(handoff_routing.request_key("")):]
            if held.get("status") == "assigned" and held.get("guide"):
                await c.hincrby(handoff_routing.LOAD, held["guide"], -1)  # the guide's slot comes back
            await c.zrem(handoff_routing.QUEUE, request_id)
            await c.srem(handoff_routing.ASSIGNED, request_id)
            # what is still owed because of it (relays, notices) and its clocks go with it
            owed = [m for m in await c.zrange(handoff_routing.OUTBOX, 0, -1) if m.split(":")[1:2] == [request_id]]
            if owed:
                await c.zrem(handoff_routing.OUTBOX, *owed)
            await c.zrem(handoff_routing.TIMERS, f"reply:{request_id}", f"idle:{request_id}")
            if held.get("sender") and await c.get(handoff_routing.held_key(held["sender"])) == request_id:
                await c.delete(handoff_routing.held_key(held["sender"]))
            await c.delete(key, handoff_session.messages_key(request_id))
        result.add("handoff_requests", 1, drop_request)
    if await client.exists(handoff_routing.open_key(cid)):
        result.add("handoff_open", 1, _delete([handoff_routing.open_key(cid)]))
    mailboxes = [k for s in senders if s.startswith("web:") for k in (web_mailbox.key(s[4:]),)
                 if await client.exists(k)]
    result.add("web_mailboxes", len(mailboxes), _delete(mailboxes))
    for stream in (handoff_routing.COMPLAINTS, ALERTS):  # complaints, and ops' alerts about them
        ids = [i for i, f in await client.xrange(stream) if f.get("customer") == cid]
        result.add(f"stream_entries:{stream}", len(ids), lambda c, s=stream, ids=ids: c.xdel(s, *ids))
    # acknowledged 公众号 callbacks not yet answered (bot/wechat/acked.py): they hold the text
    for pending in await _scan(client, "wx:acked:*"):
        theirs = [m for m in await client.zrange(pending, 0, -1)
                  if (json.loads(m).get("job") or {}).get("openid") in users]
        result.add("unanswered_callbacks", len(theirs), lambda c, k=pending, ms=theirs: c.zrem(k, *ms))
    for stream, field_name in STREAMS_BY_RECIPIENT.items():
        ids = [i for i, f in await client.xrange(stream) if f.get(field_name) in users]
        result.add(f"stream_entries:{stream}", len(ids), lambda c, s=stream, ids=ids: c.xdel(s, *ids))

    # their messages in the ops console's turn log (common/traffic_log.py; day counters name no one)
    turns = await traffic_log.entries_of(client, senders)
    result.add("turn_log_entries", len(turns), lambda c: traffic_log.forget(c, senders))

    await _plan_inbox(client, cid, result)
    await _plan_outbound(client, cid, senders, result)
    return result


async def _plan_outbound(client: aioredis.Redis, cid: str, senders: Set[str], result: Plan) -> None:
    """Issue 14: contact records (window, 退订), deliveries and notices naming them, their
    invite code and place among invitees, the restock lists they wait on, codes they used."""
    contacts = [k for s in senders for k in (contact_state.key(s),) if await client.exists(k)]
    result.add("contact_records", len(contacts), _delete(contacts))
    deliveries = await _scan(client, f"{_glob(TAG)}out:*:{_glob(cid)}")
    result.add("deliveries", len(deliveries), _delete(deliveries))
    theirs = [k for k in await _scan(client, f"{_glob(notices.PREFIX)}*") if await client.hget(k, "cid") == cid]

    async def drop_notices(c: aioredis.Redis, keys: List[str] = theirs) -> None:
        await c.zrem(notices.OUTBOX, *[k[len(notices.PREFIX):] for k in keys])
        await c.delete(*keys)
    result.add("notices", len(theirs), drop_notices)
    code = await client.get(f"{PREFIX}{cid}:ref_code")
    if code:
        result.add("invite_code", 1, _delete([referrals.CODE_PREFIX + code]))
    if await client.sismember(referrals.INVITEES, cid):
        result.add("invitee_entries", 1, lambda c: c.srem(referrals.INVITEES, cid))
    for product in await client.smembers(f"{PREFIX}{cid}:restock"):
        result.add("restock_wishes", 1, lambda c, k=restock.waiting_key(product): c.srem(k, cid))
    for used in await client.lrange(f"{PREFIX}{cid}:codes", 0, -1):
        result.add("redeemed_codes", 1, lambda c, k=codes.code_key(used): c.hset(k, "used_by", "erased"))
    # reward grants whose key does not carry `:<cid>:` (a code's, a push's coupon)
    grants = [g for g in [codes.grant_id(u) for u in await client.lrange(f"{PREFIX}{cid}:codes", 0, -1)]
              + await _scan(client, f"{_glob(outbox.GRANT_PREFIX)}push:*:{_glob(cid)}")
              if await client.hget(g, "cid") == cid]

    async def drop_grants(c: aioredis.Redis, keys: List[str] = grants) -> None:
        await c.zrem(coupons.OUTBOX, *keys)
        await c.delete(*keys)
    result.add("reward_grants", len(grants), drop_grants)


async def _plan_inbox(client: aioredis.Redis, cid: str, result: Plan) -> None:
    entries = [(i, f) for i, f in await client.xrange(inbox_store.STREAM) if f.get("customer") == cid]
    ids = [i for i, _ in entries]
    result.add("inbox_messages", len(ids), lambda c: c.xdel(inbox_store.STREAM, *ids))
    their_texts = {f.get("text") for _, f in entries}
    groups = []
    for samples in await _scan(client, f"{inbox_store.PREFIX}group:*:samples"):
        gid = samples[len(inbox_store.PREFIX) + len("group:"):-len(":samples")]
        raw = await client.lrange(samples, 0, -1)
        mine = [s for s in raw if json.loads(s).get("customer") == cid]
        their_texts |= {json.loads(s).get("text") for s in mine}
        groups.append((gid, samples, mine, [json.loads(s) for s in raw if s not in mine]))
    for gid, samples, mine, rest in groups:
        label = await client.hget(inbox_store.group_key(gid), "label")
        named_after_them = label in their_texts  # also when their sample was already capped away
        if not (mine or named_after_them):
            continue

        async def clean(c: aioredis.Redis, gid: str = gid, key: str = samples, mine: List[str] = mine,
                        rest: List[dict] = rest, relabel: bool = named_after_them) -> None:
            for sample in mine:
                await c.lrem(key, 0, sample)
            if not relabel:
                return
            if rest:
                await c.hset(inbox_store.group_key(gid), "label", rest[-1]["text"])
                if await c.hexists(inbox_store.LABELS, gid):  # open groups only
                    await c.hset(inbox_store.LABELS, gid, rest[-1]["text"])
                await c.hdel(inbox_store.VECTORS, gid)  # the vector was their message's
            else:
                await c.delete(inbox_store.group_key(gid), key)
                await c.zrem(inbox_store.OPEN, gid)
                await c.zrem(inbox_store.HANDLED, gid)
                await c.hdel(inbox_store.VECTORS, gid)
                await c.hdel(inbox_store.LABELS, gid)
        result.add("inbox_samples", max(len(mine), 1 if named_after_them else 0), clean)


async def erase(client: aioredis.Redis, cid: str, dry_run: bool = False) -> Dict[str, object]:
    found = await plan(client, cid)
    if not dry_run:
        for step in found.steps:
            await step(client)
    return {**found.report(), "dry_run": dry_run}
