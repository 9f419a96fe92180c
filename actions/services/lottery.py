"""Lottery draws: eligibility in Python, the draw and what it gives atomic in Lua.

draw.lua spends the stock, records the claim, adds points prizes and puts a
coupon prize into the grant outbox keyed by the claim (actions/outbox.py); the
code is delivered right after the step, or by the sweeper if that step dies.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional, Set

import redis.asyncio as aioredis

from actions import outbox
from actions.services import prizes
from actions.services.catalog import Catalog, Lottery, Prize
from actions.services.clock import day_number, iso
from actions.services.coupons import OUTBOX
from actions.services.customers import key
from actions.services.store import IDEM_TTL_S, TAG, UNAVAILABLE, scripts

logger = logging.getLogger(__name__)
_rng = random.SystemRandom()
NO_IDEM = TAG + "idem:-"  # placeholder key when a call has no idempotency key (never written)


def stock_key(campaign: str) -> str:
    return f"{TAG}lot:{campaign}:stock"


def winners_key(campaign: str) -> str:
    return f"{TAG}lot:{campaign}:winners"


def user_key(campaign: str, cid: str) -> str:
    return f"{TAG}lot:{campaign}:user:{cid}"


def pick_campaign(catalog: Catalog, tags: Set[str], now: datetime, wechat: bool = True) -> Optional[Lottery]:
    """The first running campaign the customer may draw; `wechat` False (a web session)
    skips the campaigns that require a WeChat identity."""
    return next((c for c in catalog.lotteries
                 if c.running(now) and c.eligible(tags) and (wechat or not c.requires_wechat)), None)


@dataclass(frozen=True)
class Draw:
    outcome: str  # won | none | limit_daily | limit_total
    campaign: Lottery
    draws_today: int
    draws_total: int
    prize: Optional[Prize] = None
    claim_id: str = ""
    coupon_code: str = ""
    grant_id: str = ""
    coupon_delivery: str = ""  # coupon prize: issued | exists | empty (codes ran out) | pending (the sweeper will)
    replayed: bool = False  # the first result of this message, returned again

    @property
    def draws_left_today(self) -> int:
        return max(0, min(self.campaign.daily_limit - self.draws_today, self.campaign.total_limit - self.draws_total))


async def draw(client: aioredis.Redis, catalog: Catalog, campaign: Lottery, cid: str, now: datetime,
               rand: Optional[float] = None, idem_key: Optional[str] = None) -> Draw:
    args: List = [cid, day_number(now, catalog.timezone), campaign.daily_limit, campaign.total_limit,
                  _rng.random() if rand is None else rand, iso(now), campaign.id, prizes.CLAIM_PREFIX,
                  campaign.no_prize_weight, IDEM_TTL_S if idem_key else 0, outbox.GRANT_PREFIX, outbox.due_at()]
    for p in campaign.prizes:
        args += [p.id, p.weight, p.stock, p.kind, prizes.claim_status(p.kind), p.points, p.coupon or ""]
    raw = await scripts(client).draw(
        keys=[stock_key(campaign.id), user_key(campaign.id, cid), winners_key(campaign.id), prizes.CLAIM_SEQ,
              key(cid, "claims"), key(cid, "profile"), OUTBOX, idem_key or NO_IDEM],
        args=args,
    )
    outcome, replayed = str(raw[0]), bool(int(raw[6]))
    if replayed and str(raw[7]) != campaign.id:  # tags changed since the first call: answer for its campaign
        campaign = catalog.lottery(str(raw[7])) or campaign
    if outcome != "won":
        return Draw(outcome, campaign, int(raw[1]), int(raw[2]), replayed=replayed)
    prize = campaign.prize(str(raw[3]))
    grant_id, code, delivery = str(raw[5]), "", ""
    if grant_id:
        try:
            delivered = await outbox.deliver(client, catalog, grant_id, now)
            code, delivery = delivered.code, delivered.status
        except UNAVAILABLE as error:
            logger.warning("Grant %s left to the sweeper (%s).", grant_id, type(error).__name__)
            delivery = "pending"
    return Draw(outcome, campaign, int(raw[1]), int(raw[2]), prize, str(raw[4]), code, grant_id, delivery, replayed)


async def stock(client: aioredis.Redis, campaign: Lottery) -> Dict[str, int]:
    """Remaining stock; a prize never drawn yet still has its configured stock."""
    left = await client.hgetall(stock_key(campaign.id))
    return {p.id: int(left.get(p.id, p.stock)) for p in campaign.prizes}
