"""包裹卡 and 一物一码: batches of one-time codes that pay once, however many scan them.

A batch (`{brand}:codebatch:<batch>` hash) says what a code grants: a coupon type, extra
lottery draws in a campaign, a product (its tag `purchased:<product>`), and until when.
Each code is `{brand}:code:<CODE>` (batch, status new | used, used_by, used_at); the batch's
counters (`{brand}:codebatch:<batch>:stats`: scans, redeemed, used_again, expired) and
`{brand}:codebatch:-:stats` for codes nobody made (unknown). Redemption is one Lua step
(redeem_code.lua); the coupon goes through the grant outbox like every other reward.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Optional

import redis.asyncio as aioredis

from actions import outbox
from actions.services import lottery, tags
from actions.services.catalog import Catalog
from actions.services.clock import iso
from actions.services.customers import key
from actions.services.store import TAG, UNAVAILABLE, scripts
from common.chat_commands import CODE_ALPHABET, PACKAGE_SCENE, normalise_code

BATCH_PREFIX = TAG + "codebatch:"
CODE_PREFIX = TAG + "code:"
BATCHES = TAG + "codebatch:index"  # zset batch id → created at
CODE_LENGTH = 8
PACKAGE_TAG = "channel:package_card"
NO_KEY = TAG + "code:-:none"  # a key a redemption does not use (never written)


def batch_key(batch: str) -> str:
    return BATCH_PREFIX + batch


def stats_key(batch: str) -> str:
    return f"{BATCH_PREFIX}{batch or '-'}:stats"


def code_key(code: str) -> str:
    return CODE_PREFIX + normalise_code(code)


def grant_id(code: str) -> str:
    return f"{outbox.GRANT_PREFIX}pkg:{normalise_code(code)}"


@dataclass(frozen=True)
class Batch:
    id: str
    coupon: str = ""
    draws: int = 0
    campaign: str = ""
    product: str = ""
    expires_at: float = 0.0  # epoch s, 0 = never

    @classmethod
    def from_hash(cls, batch_id: str, raw: Dict[str, str]) -> "Batch":
        return cls(batch_id, raw.get("coupon", ""), int(raw.get("draws") or 0), raw.get("campaign", ""),
                   raw.get("product", ""), float(raw.get("expires_at") or 0))


def problems(catalog: Catalog, batch: Batch) -> List[str]:
    found = []
    if not batch.id or not all(c.isalnum() or c in "_-" for c in batch.id):
        found.append("batch id: letters, digits, _ and - only")
    if batch.coupon and batch.coupon not in catalog.coupons:
        found.append(f"unknown coupon type {batch.coupon}")
    if batch.draws and not catalog.lottery(batch.campaign):
        found.append(f"extra draws need a lottery campaign (--campaign); {batch.campaign or 'none'} is not one")
    if batch.product and f"purchased:{batch.product}" not in catalog.tags:
        found.append(f"unknown product {batch.product} (data/catalog/products.yml)")
    if not (batch.coupon or batch.draws):
        found.append("a code must grant something: --coupon and/or --draws")
    return found


async def create_batch(client: aioredis.Redis, batch: Batch, count: int, now: datetime) -> List[str]:
    """Make `count` new codes (unique across every batch); returns them for printing."""
    if await client.exists(batch_key(batch.id)):
        raise ValueError(f"batch {batch.id} exists")
    await client.hset(batch_key(batch.id), mapping={
        "coupon": batch.coupon, "draws": batch.draws, "campaign": batch.campaign, "product": batch.product,
        "expires_at": batch.expires_at or "", "created_at": iso(now), "count": count})
    await client.zadd(BATCHES, {batch.id: time.time()})
    made: List[str] = []
    while len(made) < count:
        wanted = [_new_code() for _ in range(min(500, count - len(made)))]
        pipe = client.pipeline(transaction=False)
        for code in wanted:
            pipe.hsetnx(code_key(code), "batch", batch.id)
        fresh = [code for code, ok in zip(wanted, await pipe.execute()) if ok]
        pipe = client.pipeline(transaction=False)
        for code in fresh:
            pipe.hset(code_key(code), "status", "new")
        await pipe.execute()
        made += fresh
    return made


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def qr_payloads(code: str) -> Dict[str, str]:
    """What to print on the card: the 公众号 QR's scene string, the 微信客服 link's scene_param, the typed form."""
    scene = f"{PACKAGE_SCENE}{code}"
    return {"code": code, "mp_qr_scene_str": scene, "mp_event_key": f"qrscene_{scene}", "kf_scene_param": scene,
            "typed": f"兑换 {code}"}


@dataclass(frozen=True)
class Redemption:
    result: str  # redeemed | mine | used | expired | unknown
    batch: Optional[Batch] = None
    coupon_code: str = ""
    coupon_status: str = ""  # issued | exists | empty | pending


async def redeem(client: aioredis.Redis, catalog: Catalog, cid: str, code: str, now: datetime) -> Redemption:
    code = normalise_code(code)
    batch_id = await client.hget(code_key(code), "batch") or ""
    raw = await client.hgetall(batch_key(batch_id)) if batch_id else {}
    batch = Batch.from_hash(batch_id, raw) if raw else None
    counters = lottery.user_key(batch.campaign, cid) if batch and batch.campaign else NO_KEY
    result, _ = await scripts(client).redeem_code(
        keys=[code_key(code), batch_key(batch_id or "-"), stats_key(batch_id), grant_id(code), outbox.OUTBOX,
              counters, key(cid, "codes")],
        args=[cid, iso(now), int(now.timestamp()), outbox.due_at(now.timestamp()), code])
    result = str(result)
    if result not in ("redeemed", "mine") or batch is None:
        return Redemption(result, batch)
    # tags and the coupon are idempotent: a retried or repeated redemption completes them
    await tags.change(client, catalog, cid, add=[PACKAGE_TAG] + ([f"purchased:{batch.product}"] if batch.product else []),
                      by="package_card", reason=f"code {code}", now=now)
    coupon_code, status = "", ""
    if batch.coupon:
        try:
            delivered = await outbox.deliver(client, catalog, grant_id(code), now)
            coupon_code, status = delivered.code, delivered.status
        except UNAVAILABLE:
            status = "pending"  # the sweeper delivers it
    return Redemption(result, batch, coupon_code, status)


async def batch_stats(client: aioredis.Redis, batch_id: str) -> Optional[Dict[str, object]]:
    raw = await client.hgetall(batch_key(batch_id))
    if not raw:
        return None
    stats = {k: int(v) for k, v in (await client.hgetall(stats_key(batch_id))).items()}
    return {"batch": batch_id, **{k: raw.get(k, "") for k in ("coupon", "draws", "campaign", "product", "created_at")},
            "codes": int(raw.get("count") or 0), "scans": stats.get("scans", 0), "redeemed": stats.get("redeemed", 0),
            "used_again": stats.get("used_again", 0), "expired": stats.get("expired", 0)}


def expiry(now: datetime, valid_days: int) -> float:
    return (now + timedelta(days=valid_days)).timestamp() if valid_days else 0.0
