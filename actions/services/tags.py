"""Customer tags: apply changes atomically with a history entry, and run the
YAML tag rules on events."""
from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, List, Optional, Set

import redis.asyncio as aioredis

from actions.services.catalog import Catalog
from actions.services.clock import iso
from actions.services.customers import key
from actions.services.store import scripts

logger = logging.getLogger(__name__)

HISTORY_CAP = 200  # per customer: enough for ops to see why a tag is there


def apply_args(catalog: Catalog, add: Iterable[str], remove: Iterable[str], by: str, reason: str, now: datetime) -> List[Any]:
    """Lua arguments for apply_tags; exclusive groups drop the other tags of the group."""
    add = [t for t in dict.fromkeys(add) if t in catalog.tags]
    remove_all = list(dict.fromkeys(list(remove) + [s for t in add for s in catalog.exclusive_siblings(t)]))
    remove_all = [t for t in remove_all if t not in add]
    level = next((catalog.tags[t].name for t in add if catalog.tags[t].group == "level"), "")
    return [by, reason, iso(now), HISTORY_CAP, level, len(add)] + add + remove_all


def apply_keys(cid: str) -> List[str]:
    return [key(cid, "tags"), key(cid, "tag_log"), key(cid, "profile")]


async def change(client: aioredis.Redis, catalog: Catalog, cid: str, *, add: Iterable[str] = (),
                 remove: Iterable[str] = (), by: str, reason: str, now: datetime) -> List[str]:
    """Returns the real changes ("+tag"/"-tag"); unknown tags are ignored and logged."""
    add, remove = list(add), list(remove)
    unknown = [t for t in add if t not in catalog.tags]
    if unknown:
        logger.warning("Ignoring tags not in the catalogue: %s", unknown)
    args = apply_args(catalog, add, remove, by, reason, now)
    return list(await scripts(client).apply_tags(keys=apply_keys(cid), args=args))


async def tags_of(client: aioredis.Redis, cid: str) -> Set[str]:
    return set(await client.smembers(key(cid, "tags")))


async def history(client: aioredis.Redis, cid: str, limit: int = 50) -> List[Dict[str, str]]:
    return [json.loads(e) for e in await client.lrange(key(cid, "tag_log"), 0, limit - 1)]


async def on_event(client: aioredis.Redis, catalog: Catalog, cid: str, event: str, now: datetime,
                   **context: Any) -> List[str]:
    """Record the event where a counting rule needs it and apply every rule it triggers."""
    rules = [r for r in catalog.rules if event in r.on]
    changes: List[str] = []
    for rule in rules:
        if rule.min_streak and int(context.get("streak", 0)) < rule.min_streak:
            continue
        if rule.count > 1 and await _count(client, cid, rule.id, now, rule.within_days) < rule.count:
            continue
        try:
            tag = rule.add.format(**context)
        except KeyError:
            logger.warning("Tag rule %s needs %s", rule.id, rule.add)
            continue
        changes += await change(client, catalog, cid, add=[tag], by=f"rule:{rule.id}", reason=event, now=now)
    return changes


async def _count(client: aioredis.Redis, cid: str, rule_id: str, now: datetime, within_days: int) -> int:
    """Events of a rule in a sliding window (sorted set by time, trimmed on write)."""
    zkey = key(cid, f"events:{rule_id}")
    ts = now.timestamp()
    window = timedelta(days=within_days or 1).total_seconds()
    return int(await scripts(client).count_event(keys=[zkey], args=[ts, f"{ts}:{secrets.token_hex(3)}", window]))


def display(catalog: Catalog, tag_id: str) -> str:
    tag = catalog.tags.get(tag_id)
    return f"{catalog.groups[tag.group].name}:{tag.name}" if tag else tag_id


def first_in_group(catalog: Catalog, tags: Set[str], group: str) -> Optional[str]:
    return next((t for t in sorted(tags) if t in catalog.tags and catalog.tags[t].group == group), None)
