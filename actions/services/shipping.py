"""Prize fulfilment: ops mark a parcel claim shipped; the winner is told (common/notices).

The claim's status, carrier and tracking number and the winner's notice are written in
one Lua step (ship_claim.lua): a claim is never shipped without its notice queued, and
marking it again with the same tracking number changes nothing (no second notice).
"""
from __future__ import annotations

import json
import re
from datetime import datetime

import redis.asyncio as aioredis

from actions.services import prizes
from actions.services.catalog import Catalog
from actions.services.clock import iso
from actions.services.store import scripts
from common import notices

SHIPPED = "shipped"
REPEAT = "repeat"
_TRACKING = re.compile(r"[A-Za-z0-9-]{6,40}")


def notice_id(claim_id: str) -> str:
    return f"shipped:{claim_id}"


async def mark_shipped(client: aioredis.Redis, catalog: Catalog, claim_id: str, carrier: str, tracking: str,
                       now: datetime, by: str) -> str:
    """shipped | repeat | shipped_before | not_ready | not_parcel | missing | bad_tracking"""
    tracking = tracking.strip()
    if not _TRACKING.fullmatch(tracking) or not carrier.strip():
        return "bad_tracking"
    claim = await prizes.get(client, claim_id)
    if claim is None:
        return "missing"
    values = {"prize": claim.prize_name(catalog), "carrier": carrier.strip(), "tracking": tracking}
    result = await scripts(client).ship_claim(
        keys=[f"{prizes.CLAIM_PREFIX}{claim_id}", notices.key(notice_id(claim_id)), notices.OUTBOX],
        args=[carrier.strip(), tracking, iso(now), int(now.timestamp()), by, notice_id(claim_id),
              json.dumps(values, ensure_ascii=False)])
    return str(result[0])
