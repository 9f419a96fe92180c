"""Coupons: at most one per customer per type, codes never reused."""
from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, List

import redis.asyncio as aioredis

from actions.services.catalog import Catalog, CouponType
from actions.services.clock import iso
from actions.services.customers import key
from actions.services.store import scripts

_SUFFIX_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "O0I1")


def _keys(coupon_type: str) -> List[str]:
    return [f"cpn:{coupon_type}:pool", f"cpn:{coupon_type}:issued", f"cpn:{coupon_type}:seq"]


@dataclass(frozen=True)
class Issue:
    status: str  # issued | exists | empty
    code: str = ""
    coupon: CouponType = None  # type: ignore[assignment]


async def issue(client: aioredis.Redis, catalog: Catalog, cid: str, coupon_type: str, now: datetime) -> Issue:
    ctype = catalog.coupons[coupon_type]
    pool, issued, seq = _keys(coupon_type)
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(3))
    result = await scripts(client).issue_coupon(
        keys=[pool, issued, key(cid, "coupons"), seq],
        args=[cid, coupon_type, ctype.source, ctype.prefix, ctype.max_issued, iso(now),
              iso(now + timedelta(days=ctype.valid_days)), suffix],
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
    """The customer's coupons, soonest to expire first."""
    coupons = []
    for ctype, raw in (await client.hgetall(key(cid, "coupons"))).items():
        if ctype in catalog.coupons:
            data = json.loads(raw)
            coupons.append(Held(catalog.coupons[ctype], data["code"], datetime.fromisoformat(data["expires_at"])))
    return sorted(coupons, key=lambda c: c.expires_at)


async def load_codes(client: aioredis.Redis, coupon_type: str, codes: Iterable[str], batch: int = 1000) -> int:
    """Preload a pool; codes seen before (even already issued) are skipped."""
    pool = _keys(coupon_type)[0]
    known = f"cpn:{coupon_type}:known"
    codes = [c.strip() for c in codes if c.strip()]
    added = 0
    for i in range(0, len(codes), batch):
        added += int(await scripts(client).load_codes(keys=[pool, known], args=codes[i:i + batch]))
    return added
