"""Coupons: codes unique and never reused.

Two ways to hold a coupon (the choice for a second win of the same type):
- once per customer (`grant_id=None`): the welcome coupon; asking again returns
  the first code. Stored under field `<type>` of `cust:<cid>:coupons`.
- once per grant (`grant_id` from the outbox: a lottery win keyed by its claim,
  a check-in milestone): every grant is a new code, so a customer who wins the
  same coupon prize twice holds two codes. Stored under field `<type>#<grant id>`.
An empty pool raises one ops alert (stream `ops:alerts`) and parks the grant;
loading codes puts parked grants back into the outbox for the sweeper.
"""
from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, List, Optional

import redis.asyncio as aioredis

from actions.services.catalog import Catalog, CouponType
from actions.services.clock import iso
from actions.services.customers import key
from actions.services.store import ALERTS, IDEM_TTL_S, TAG, scripts

_SUFFIX_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "O0I1")
OUTBOX = TAG + "outbox:grants"  # zset grant id -> when the sweeper may (re)try it (epoch s)
NO_KEY = TAG + "cpn:-"  # placeholder for a key a mode does not use (never written)


def _keys(coupon_type: str) -> List[str]:
    return [f"{TAG}cpn:{coupon_type}:pool", f"{TAG}cpn:{coupon_type}:issued", f"{TAG}cpn:{coupon_type}:seq"]


def parked_key(coupon_type: str) -> str:
    return f"{TAG}cpn:{coupon_type}:parked"


@dataclass(frozen=True)
class Issue:
    status: str  # issued | exists | empty
    code: str = ""
    coupon: CouponType = None  # type: ignore[assignment]


async def issue(client: aioredis.Redis, catalog: Catalog, cid: str, coupon_type: str, now: datetime,
                grant_id: Optional[str] = None, idem_key: Optional[str] = None) -> Issue:
    """Once per customer, or once per grant id; `idem_key` keeps the first answer for a retry."""
    ctype = catalog.coupons[coupon_type]
    pool, issued, seq = _keys(coupon_type)
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(3))
    result = await scripts(client).issue_coupon(
        keys=[pool, issued, key(cid, "coupons"), seq, grant_id or NO_KEY, OUTBOX, ALERTS, idem_key or NO_KEY,
              f"{TAG}cpn:{coupon_type}:granted", parked_key(coupon_type)],
        args=[cid, coupon_type, ctype.source, ctype.prefix, ctype.max_issued, iso(now),
              iso(now + timedelta(days=ctype.valid_days)), suffix, grant_id or "", IDEM_TTL_S if idem_key else 0],
    )
    return Issue(status=result[0], code=result[1] if len(result) > 1 else "", coupon=ctype)


@dataclass(frozen=True)
class Held:
    coupon: CouponType
    code: str
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now > self.expires_at


async def held(client: aioredis.Redis, catalog: Catalog, cid: str) -> List[Held]:
    """Every code the customer holds (several of one type when they came from different
    grants), soonest to expire first."""
    coupons = []
    for field, raw in (await client.hgetall(key(cid, "coupons"))).items():
        data = json.loads(raw)
        ctype = data.get("type") or field.partition("#")[0]
        if ctype in catalog.coupons:
            coupons.append(Held(catalog.coupons[ctype], data["code"], datetime.fromisoformat(data["expires_at"])))
    return sorted(coupons, key=lambda c: (c.expires_at, c.code))


async def load_codes(client: aioredis.Redis, coupon_type: str, codes: Iterable[str], batch: int = 1000) -> int:
    """Preload a pool; codes seen before (even already issued) are skipped. Grants parked
    on the empty pool go back into the outbox, so the sweeper delivers them."""
    pool = _keys(coupon_type)[0]
    known = f"{TAG}cpn:{coupon_type}:known"
    codes = [c.strip() for c in codes if c.strip()]
    added = 0
    for i in range(0, len(codes), batch):
        added += int(await scripts(client).load_codes(keys=[pool, known], args=codes[i:i + batch]))
    if added:
        await requeue_parked(client, coupon_type)
    return added


async def requeue_parked(client: aioredis.Redis, coupon_type: str) -> int:
    requeued = 0
    for grant_id in await client.smembers(parked_key(coupon_type)):
        requeued += await scripts(client).requeue_grant(
            keys=[grant_id, OUTBOX, parked_key(coupon_type)], args=[grant_id, time.time()])
    return requeued
