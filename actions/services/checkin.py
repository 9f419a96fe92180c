"""Daily check-in: one per natural day, streaks, one-time milestone rewards."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import List, Optional

import redis.asyncio as aioredis

from actions.services import coupons, prizes
from actions.services.catalog import Catalog, Milestone
from actions.services.clock import day_number, iso
from actions.services.customers import key
from actions.services.store import scripts


def state_key(campaign: str, cid: str) -> str:
    return f"chk:{campaign}:{cid}"


@dataclass
class Granted:
    milestone: Milestone
    code: str = ""  # coupon code, when the reward is a coupon
    claim_id: str = ""  # parcel claim, when the reward is physical


@dataclass
class Result:
    status: str  # done | already | refused
    streak: int
    total: int
    granted: List[Granted] = field(default_factory=list)


async def check_in(client: aioredis.Redis, catalog: Catalog, cid: str, now: datetime) -> Result:
    campaign = catalog.checkin
    today = day_number(now, catalog.timezone)
    raw = await scripts(client).checkin(
        keys=[state_key(campaign.id, cid), state_key(campaign.id, cid) + ":granted"],
        args=[today] + [m.days for m in campaign.milestones],
    )
    status = {1: "done", 0: "already", -1: "refused"}[int(raw[0])]
    result = Result(status=status, streak=int(raw[1]), total=int(raw[2]))
    if status != "done":
        return result
    pipe = client.pipeline(transaction=False)
    pipe.hset(key(cid, "profile"), "last_checkin_at", iso(now))
    if campaign.points_per_day:
        pipe.hincrby(key(cid, "profile"), "points", campaign.points_per_day)
    await pipe.execute()
    # The script marked these milestones as granted exactly once; the grants below
    # are themselves idempotent (one coupon per type), so a retry cannot double them.
    for days in (int(d) for d in raw[3:]):
        milestone = next(m for m in campaign.milestones if m.days == days)
        result.granted.append(await _grant(client, catalog, cid, milestone, now))
    return result


async def _grant(client: aioredis.Redis, catalog: Catalog, cid: str, milestone: Milestone, now: datetime) -> Granted:
    reward = milestone.reward
    if reward.kind == "coupon":
        issued = await coupons.issue(client, catalog, cid, reward.coupon, now)
        return Granted(milestone, code=issued.code)
    if reward.kind == "points":
        await client.hincrby(key(cid, "profile"), "points", reward.points)
        return Granted(milestone)
    claim_id = await prizes.create(client, cid, catalog.checkin.id, f"m{milestone.days}", reward.kind, now)
    return Granted(milestone, claim_id=claim_id)


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
