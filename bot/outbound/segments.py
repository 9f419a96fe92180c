"""Segments of customers by tags (any / all / none), member level and last activity.

Customers are enumerated by id (`c1` … `c<{brand}:cust:seq>`), read a chunk at a
time in one pipeline: no KEYS or SCAN over the keyspace, and a 10,000-customer
segment is about forty round trips.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Dict, List, Optional, Set

from common import key_tags

CUSTOMER = key_tags.MARKETING + "cust:"
CHUNK = 500


@dataclass(frozen=True)
class Segment:
    any_tags: List[str] = field(default_factory=list)
    all_tags: List[str] = field(default_factory=list)
    none_tags: List[str] = field(default_factory=list)
    levels: List[str] = field(default_factory=list)  # "gold" or "level:gold"
    active_within_days: int = 0  # 0: however long ago

    @classmethod
    def from_dict(cls, raw: Optional[Dict[str, Any]]) -> "Segment":
        raw = raw or {}
        unknown = set(raw) - {"any_tags", "all_tags", "none_tags", "levels", "active_within_days"}
        if unknown:
            raise ValueError(f"unknown segment fields: {', '.join(sorted(unknown))}")
        lists = {}
        for name in ("any_tags", "all_tags", "none_tags", "levels"):
            value = raw.get(name) or []
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{name} must be a list of tag ids")
            lists[name] = [str(t) for t in value]
        days = raw.get("active_within_days") or 0
        if not isinstance(days, int) or days < 0:
            raise ValueError("active_within_days must be a whole number of days")
        return cls(**lists, active_within_days=days)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def level_tags(self) -> Set[str]:
        return {lvl if lvl.startswith("level:") else f"level:{lvl}" for lvl in self.levels}

    def matches(self, tags: Set[str], last_seen: Optional[datetime], now: datetime) -> bool:
        if self.any_tags and not tags & set(self.any_tags):
            return False
        if self.all_tags and not set(self.all_tags) <= tags:
            return False
        if self.none_tags and tags & set(self.none_tags):
            return False
        if self.levels and not tags & self.level_tags():
            return False
        if self.active_within_days:
            if last_seen is None or now - last_seen > timedelta(days=self.active_within_days):
                return False
        return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _when(value: Any) -> Optional[datetime]:
    if not value:
        return None
    try:
        return datetime.fromisoformat(_text(value))
    except ValueError:
        return None


async def customer_chunks(redis: Any, chunk: int = CHUNK) -> AsyncIterator[List[str]]:
    top = int(await redis.get(f"{CUSTOMER}seq") or 0)
    for start in range(1, top + 1, chunk):
        yield [f"c{n}" for n in range(start, min(top, start + chunk - 1) + 1)]


async def select(redis: Any, segment: Segment, now: datetime) -> List[str]:
    """Every customer id in the segment, in id order (erased customers have no profile)."""
    chosen: List[str] = []
    async for cids in customer_chunks(redis):
        pipe = redis.pipeline(transaction=False)
        for cid in cids:
            pipe.smembers(f"{CUSTOMER}{cid}:tags")
            pipe.hmget(f"{CUSTOMER}{cid}:profile", "last_seen_at", "created_at")
        answers = await pipe.execute()
        for index, cid in enumerate(cids):
            tags = {_text(t) for t in answers[2 * index] or ()}
            last_seen, created = answers[2 * index + 1]
            if created is None and last_seen is None:
                continue  # erased, or never existed
            if segment.matches(tags, _when(last_seen), now):
                chosen.append(cid)
    return chosen
