"""到货通知: customers ask to be told when a product is back; ops say it is, and each is told once.

`{brand}:restock:<product>` (set of customer ids waiting) and `{brand}:cust:<cid>:restock`
(the products one customer waits for, for 我的 and erasure). `restocked` turns the waiting
set into notices (common/notices, kind `restock`) in chunks, one Lua step each.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

import redis.asyncio as aioredis

from actions.services.catalog import Catalog, Product
from actions.services.clock import day_number, iso
from actions.services.customers import key
from actions.services.store import PREFIX, TAG, scripts
from common import notices

WAITING_PREFIX = TAG + "restock:"
CHUNK = 500


def waiting_key(product_id: str) -> str:
    return WAITING_PREFIX + product_id


def find_product(catalog: Catalog, text: str) -> Optional[Product]:
    """The product a request names (full name or a short name; the longest match wins)."""
    best, length = None, 0
    for product in catalog.products:
        for name in (product.name, *product.aliases):
            if name and name in text and len(name) > length:
                best, length = product, len(name)
    return best


async def subscribe(client: aioredis.Redis, cid: str, product: Product) -> bool:
    """True when newly registered (asking twice is fine: one notice)."""
    pipe = client.pipeline(transaction=False)  # two idempotent adds; a Redis Cluster pipeline has no MULTI
    pipe.sadd(waiting_key(product.id), cid)
    pipe.sadd(key(cid, "restock"), product.id)
    added, _ = await pipe.execute()
    return bool(added)


async def restocked(client: aioredis.Redis, catalog: Catalog, product: Product, now: datetime) -> int:
    """Queue a notice for everyone waiting; returns how many."""
    values = json.dumps({"product": product.name}, ensure_ascii=False)
    prefix = f"restock:{product.id}:{day_number(now, catalog.timezone)}:"
    queued = 0
    while True:
        cids = await client.srandmember(waiting_key(product.id), CHUNK)
        if not cids:
            return queued
        queued += int(await scripts(client).restock_notices(
            keys=[waiting_key(product.id), notices.OUTBOX],
            args=[notices.PREFIX, prefix, iso(now), int(now.timestamp()), values, PREFIX, product.id, *cids]))


async def waiting(client: aioredis.Redis, product_id: str) -> int:
    return int(await client.scard(waiting_key(product_id)))
