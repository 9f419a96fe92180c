"""Where a customer came from decides their guide and first tags (锁客, issue 12 item 2).

A *way* is one QR code or link with a `state`: a WeCom 联系我 code made by
`scripts/contact_way.py` (one or several guides), a 公众号 parametric QR code
(`qrscene_<state>`) or a 微信客服 link's `scene_param`. Ways live in Redis
(`{brand}:acq:way:<state>`: guides, tags, welcome, config_id), written by the CLI.

- A WeCom add through a way binds the customer to the guide who added them, the
  first time only (the profile's `guide`; `rebind: true` on the way lets a later
  add move them), applies the way's tags and returns its welcome text.
- A 公众号 / 微信客服 arrival with a state applies the way's tags, and binds to the
  way's guide when it names exactly one. Each state counts once per customer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional

import redis.asyncio as aioredis

from actions.services import customers, tags
from actions.services.catalog import Catalog
from common.handoff_routing import WAY_PREFIX


def way_key(state: str) -> str:
    return WAY_PREFIX + state


@dataclass(frozen=True)
class Way:
    state: str
    guides: List[str]
    tags: List[str]
    welcome: str = ""
    rebind: bool = False


@dataclass(frozen=True)
class Arrival:
    guide: str      # the customer's guide after this arrival ('' none)
    bound_now: bool  # this arrival made the binding
    tags_added: List[str]
    welcome: str    # the way's own welcome text ('' = the persona's default)


def _split(value: Optional[str]) -> List[str]:
    return [v for v in (value or "").split(",") if v]


async def way(client: aioredis.Redis, state: str) -> Optional[Way]:
    raw: Dict[str, str] = await client.hgetall(way_key(state)) if state else {}
    if not raw:
        return None
    return Way(state, _split(raw.get("guides")), _split(raw.get("tags")), raw.get("welcome", ""),
               raw.get("rebind") == "1")


async def _bind(client: aioredis.Redis, cid: str, guide: str, rebind: bool) -> bool:
    profile = customers.key(cid, "profile")
    if not rebind:
        return bool(await client.hsetnx(profile, "guide", guide))  # the first guide keeps them
    if await client.hget(profile, "guide") == guide:
        return False
    await client.hset(profile, "guide", guide)
    return True


async def _tag(client: aioredis.Redis, catalog: Catalog, cid: str, found: Optional[Way], now: datetime) -> List[str]:
    wanted = [t for t in (found.tags if found else []) if t in catalog.tags]
    if not wanted:
        return []
    have = await tags.tags_of(client, cid)
    new = [t for t in wanted if t not in have]
    if new:
        await tags.change(client, catalog, cid, add=new, by="acquisition", reason=f"way:{found.state}", now=now)
    return new


async def contact_added(client: aioredis.Redis, catalog: Catalog, cid: str, guide: str, state: str,
                        now: datetime) -> Arrival:
    """A guide added the customer in WeCom (change_external_contact / add_external_contact)."""
    found = await way(client, state)
    bound_now = await _bind(client, cid, guide, bool(found and found.rebind)) if guide else False
    added = await _tag(client, catalog, cid, found, now)
    current = await client.hget(customers.key(cid, "profile"), "guide") or ""
    return Arrival(current, bound_now, added, found.welcome if found else "")


async def arrived_with_state(client: aioredis.Redis, catalog: Catalog, cid: str, state: str,
                             now: datetime) -> Optional[Arrival]:
    """A 公众号 QR scene or a 微信客服 scene_param: the way's tags and single guide, once per customer."""
    if not state or not await client.sadd(customers.key(cid, "states"), state[:64]):
        return None
    found = await way(client, state)
    if found is None:
        return None
    bound_now = await _bind(client, cid, found.guides[0], found.rebind) if len(found.guides) == 1 else False
    added = await _tag(client, catalog, cid, found, now)
    current = await client.hget(customers.key(cid, "profile"), "guide") or ""
    return Arrival(current, bound_now, added, found.welcome)
