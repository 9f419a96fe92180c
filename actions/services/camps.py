"""28-day camp cohorts: enrolment in chat, one tip a day by the outbound worker.

`{brand}:camp:<camp>:members` (zset cid → local day ordinal of enrolment). Camp day 1 is the
enrolment day (its tip is in the welcome); the worker's daily job (bot/outbound/reminders.py)
sends day 2 … `days`, then the member leaves the set. The rewards are the check-in streak
milestones (campaigns.yml `checkin`), so the camp needs no reward logic of its own.
"""
from __future__ import annotations

from datetime import datetime
from typing import List, Optional, Tuple

import redis.asyncio as aioredis

from actions.services.catalog import Camp, Catalog
from actions.services.clock import day_number
from actions.services.store import TAG


def members_key(camp_id: str) -> str:
    return f"{TAG}camp:{camp_id}:members"


def open_camp(catalog: Catalog, now: datetime) -> Optional[Camp]:
    return next((c for c in catalog.camps if c.open_for_enrolment(now)), None)


async def enrol(client: aioredis.Redis, catalog: Catalog, camp: Camp, cid: str, now: datetime) -> Tuple[bool, int]:
    """(newly enrolled, camp day today); enrolling twice keeps the first day."""
    today = day_number(now, catalog.timezone)
    added = await client.zadd(members_key(camp.id), {cid: today}, nx=True)
    first = await client.zscore(members_key(camp.id), cid)
    return bool(added), today - int(first) + 1


async def members(client: aioredis.Redis, camp_id: str) -> List[Tuple[str, int]]:
    return [(cid, int(day)) for cid, day in await client.zrange(members_key(camp_id), 0, -1, withscores=True)]
