"""Lottery draws: eligibility in Python, the draw itself atomic in Lua."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional, Set

import redis.asyncio as aioredis

from actions.services import coupons, prizes
from actions.services.catalog import Catalog, Lottery, Prize
from actions.services.clock import day_number, iso
from actions.services.customers import key
from actions.services.store import scripts

_rng = random.SystemRandom()


def stock_key(campaign: str) -> str:
    return f"lot:{campaign}:stock"


def winners_key(campaign: str) -> str:
    return f"lot:{campaign}:winners"


def user_key(campaign: str, cid: str) -> str:
    return f"lot:{campaign}:user:{cid}"


def pick_campaign(catalog: Catalog, tags: Set[str], now: datetime) -> Optional[Lottery]:
    return next((c for c in catalog.lotteries if c.running(now) and c.eligible(tags)), None)


@dataclass(frozen=True)
class Draw:
    outcome: str  # won | none | limit_daily | limit_total
    campaign: Lottery
    draws_today: int
    draws_total: int
    prize: Optional[Prize] = None
    claim_id: str = ""
    coupon_code: str = ""

    @property
    def draws_left_today(self) -> int:
        return max(0, min(self.campaign.daily_limit - self.draws_today, self.campaign.total_limit - self.draws_total))


async def draw(client: aioredis.Redis, catalog: Catalog, campaign: Lottery, cid: str, now: datetime,
               rand: Optional[float] = None) -> Draw:
    args: List = [cid, day_number(now, catalog.timezone), campaign.daily_limit, campaign.total_limit,
                  _rng.random() if rand is None else rand, iso(now), campaign.id, prizes.CLAIM_PREFIX,
                  campaign.no_prize_weight]
    for p in campaign.prizes:
        args += [p.id, p.weight, p.stock, p.kind, prizes.claim_status(p.kind)]
    raw = await scripts(client).draw(
        keys=[stock_key(campaign.id), user_key(campaign.id, cid), winners_key(campaign.id), prizes.CLAIM_SEQ,
              key(cid, "claims")],
        args=args,
    )
    result = Draw(outcome=raw[0], campaign=campaign, draws_today=int(raw[1]), draws_total=int(raw[2]))
    if result.outcome != "won":
        return result
    prize = campaign.prize(raw[3])
    code = ""
    if prize.kind == "coupon":
        code = (await coupons.issue(client, catalog, cid, prize.coupon, now)).code
    elif prize.kind == "points":
        await client.hincrby(key(cid, "profile"), "points", prize.points)
    return Draw(result.outcome, campaign, result.draws_today, result.draws_total, prize, str(raw[4]), code)


async def stock(client: aioredis.Redis, campaign: Lottery) -> Dict[str, int]:
    """Remaining stock; a prize never drawn yet still has its configured stock."""
    left = await client.hgetall(stock_key(campaign.id))
    return {p.id: int(left.get(p.id, p.stock)) for p in campaign.prizes}
