"""The grant outbox: rewards that must arrive exactly once, even across a crash.

A grant is written in the same Lua step as what earned it (check-in milestone:
`grant:<campaign>:<cid>:m<days>`; lottery coupon win: `grant:<campaign>:<cid>:claim<id>`):
a hash with `cid`, `coupon`, `status` (pending | done | parked) and, once done, `code`,
plus its id in the zset `outbox:grants` scored by when the sweeper may try it.
The action delivers it right away; if that step dies (crash, Redis blip), the
sweeper (actions/background.py) retries until done. Delivery is idempotent by
grant id: the coupon script marks the grant done and removes it from the outbox in
the step that issues the code, so a grant never yields two codes.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

import redis.asyncio as aioredis

from actions.services import coupons
from actions.services.catalog import Catalog
from actions.services.coupons import OUTBOX
from actions.services.store import TAG

logger = logging.getLogger(__name__)

GRANT_PREFIX = TAG + "grant:"
GRACE_S = 30  # the action delivers first; the sweeper only picks up what it left behind
RETRY_S = 30  # a failed attempt waits this long before the next sweep tries again


def due_at(now_epoch: Optional[float] = None) -> int:
    """Outbox score of a new grant: when the sweeper may first try it."""
    return int((time.time() if now_epoch is None else now_epoch) + GRACE_S)


@dataclass(frozen=True)
class Delivery:
    status: str  # issued | exists (delivered before) | empty (codes ran out; parked, ops alerted) | missing
    code: str = ""
    coupon_type: str = ""


async def deliver(client: aioredis.Redis, catalog: Catalog, grant_id: str, now: datetime) -> Delivery:
    record = await client.hgetall(grant_id)
    if not record:
        await client.zrem(OUTBOX, grant_id)
        return Delivery("missing")
    ctype = record.get("coupon", "")
    if record.get("status") == "done":
        return Delivery("exists", record.get("code", ""), ctype)
    if ctype not in catalog.coupons:
        # the catalogue lost the type: keep the grant for ops, do not spin on it
        logger.error("Grant %s names unknown coupon type %r; left pending.", grant_id, ctype)
        await client.zadd(OUTBOX, {grant_id: time.time() + 3600})
        return Delivery("missing", coupon_type=ctype)
    issued = await coupons.issue(client, catalog, record["cid"], ctype, now, grant_id=grant_id)
    return Delivery(issued.status, issued.code, ctype)


async def sweep_once(client: aioredis.Redis, catalog: Catalog, now: datetime, until: Optional[float] = None,
                     limit: int = 100) -> int:
    """Deliver the grants due by `until` (default: now); returns how many were delivered."""
    due = await client.zrangebyscore(OUTBOX, "-inf", time.time() if until is None else until, start=0, num=limit)
    delivered = 0
    for grant_id in due:
        try:
            result = await deliver(client, catalog, grant_id, now)
        except Exception as error:  # one bad grant must not stop the others
            logger.warning("Grant %s not delivered yet (%s); retrying later.", grant_id, type(error).__name__)
            try:
                await client.zadd(OUTBOX, {grant_id: time.time() + RETRY_S}, xx=True)
            except Exception:
                pass
            continue
        if result.status == "issued":
            delivered += 1
            logger.info("Sweeper delivered grant %s.", grant_id)
    return delivered


async def pending(client: aioredis.Redis) -> int:
    return int(await client.zcard(OUTBOX))
