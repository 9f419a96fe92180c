"""Daily check-in: one per natural day, streaks, one-time milestone rewards.

Everything a check-in earns is decided in one Lua step (checkin.lua): the
streak, last_checkin_at, the daily points, bonus points, parcel claims and
coupon grants in the outbox (actions/outbox.py). The coupon codes are delivered
right after the step; a crash in between leaves the grant to the sweeper.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import List, Optional

import redis.asyncio as aioredis

from actions import outbox
from actions.services import prizes
from actions.services.catalog import Catalog, Milestone
from actions.services.clock import day_number, iso
from actions.services.coupons import OUTBOX
from actions.services.customers import key
from actions.services.store import IDEM_TTL_S, TAG, UNAVAILABLE, scripts

logger = logging.getLogger(__name__)
NO_IDEM = TAG + "idem:-"  # placeholder key when a call has no idempotency key (never written)


def state_key(campaign: str, cid: str) -> str:
    return f"{TAG}chk:{campaign}:{cid}"


@dataclass
class Granted:
    milestone: Milestone
    code: str = ""  # coupon code, when the reward is a coupon and it was delivered
    claim_id: str = ""  # parcel claim, when the reward is physical
    grant_id: str = ""  # outbox grant of a coupon reward
    delivery: str = ""  # coupon: issued | exists | empty (codes ran out) | pending (the sweeper will)


@dataclass
class Result:
    status: str  # done | already | refused
    streak: int
    total: int
    granted: List[Granted] = field(default_factory=list)
    replayed: bool = False  # the first result of this message, returned again


async def check_in(client: aioredis.Redis, catalog: Catalog, cid: str, now: datetime,
                   idem_key: Optional[str] = None, with_milestones: bool = True) -> Result:
    campaign = catalog.checkin
    milestones = campaign.milestones if with_milestones else ()
    args: List = [day_number(now, catalog.timezone), iso(now), campaign.points_per_day,
                  IDEM_TTL_S if idem_key else 0, cid, campaign.id, prizes.CLAIM_PREFIX, outbox.GRANT_PREFIX,
                  outbox.due_at()]
    for m in milestones:
        args += [m.days, m.reward.kind, m.reward.points, m.reward.coupon or "", prizes.claim_status(m.reward.kind)]
    raw = await scripts(client).checkin(
        keys=[state_key(campaign.id, cid), state_key(campaign.id, cid) + ":granted", key(cid, "profile"),
              prizes.CLAIM_SEQ, key(cid, "claims"), OUTBOX, idem_key or NO_IDEM],
        args=args,
    )
    status = {1: "done", 0: "already", -1: "refused"}[int(raw[0])]
    result = Result(status=status, streak=int(raw[1]), total=int(raw[2]), replayed=bool(int(raw[3])))
    pairs = raw[4:]
    for days, ref in zip(pairs[::2], pairs[1::2]):
        milestone = next(m for m in campaign.milestones if m.days == int(days))
        kind = milestone.reward.kind
        if kind == "coupon":
            result.granted.append(await _deliver(client, catalog, milestone, str(ref), now))
        elif kind == "physical":
            result.granted.append(Granted(milestone, claim_id=str(ref)))
        else:
            result.granted.append(Granted(milestone))
    return result


async def _deliver(client: aioredis.Redis, catalog: Catalog, milestone: Milestone, grant_id: str,
                   now: datetime) -> Granted:
    try:
        delivery = await outbox.deliver(client, catalog, grant_id, now)
    except UNAVAILABLE as error:
        logger.warning("Grant %s left to the sweeper (%s).", grant_id, type(error).__name__)
        return Granted(milestone, grant_id=grant_id, delivery="pending")
    return Granted(milestone, code=delivery.code, grant_id=grant_id, delivery=delivery.status)


@dataclass(frozen=True)
class Status:
    streak: int  # 0 when the streak is broken (a day was missed)
    total: int
    checked_today: bool
    next_milestone: Optional[Milestone]
    days_to_next: int


async def status(client: aioredis.Redis, catalog: Catalog, cid: str, now: datetime) -> Status:
    campaign = catalog.checkin
    raw = await client.hgetall(state_key(campaign.id, cid))
    granted = {int(d) for d in await client.smembers(state_key(campaign.id, cid) + ":granted")}
    today = day_number(now, catalog.timezone)
    last = int(raw.get("last_day", -10))
    streak = int(raw.get("streak", 0)) if last >= today - 1 else 0
    checked_today = last == today
    upcoming = [m for m in campaign.milestones if m.days not in granted and m.days > streak]
    nxt = upcoming[0] if upcoming else None
    # Checking in today is itself one of the days still to go.
    return Status(streak, int(raw.get("total", 0)), checked_today, nxt, (nxt.days - streak) if nxt else 0)
