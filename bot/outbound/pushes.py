"""Segment pushes (千人千券): a message, optionally with a coupon, to a segment, now or later.

`{brand}:push:<id>` (hash): name, text, segment (JSON), coupon, at (epoch s), by,
status (scheduled → planned → sending → done | cancelled), targeted, batches.
`{brand}:push:due` (zset id → at): pushes the worker's sweep still has to start;
`{brand}:push:<id>:targets` (list of customer ids, fixed when planned);
`{brand}:push:<id>:batches_done` (set of batch starts);
`{brand}:push:<id>:stats` (hash): sent, refused:<reason>, postponed:<reason>,
undeliverable:<errcode>, in_doubt, coupons, replied (common/contact_state).

Creating a push is one write; the worker plans and sends it (bot/outbound/worker.py),
so a push scheduled for 10:00 goes out even if nobody is logged in.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional

from bot.outbound.segments import Segment, select
from common import contact_state, key_tags

PREFIX = key_tags.MARKETING + "push:"
DUE = PREFIX + "due"
SEQ = PREFIX + "seq"
INDEX = PREFIX + "index"  # zset id → created at: the console's and CLI's list
BATCH = 100
TEXT_LIMIT = 600  # characters: a push is a short note, not an article


def key(push_id: str) -> str:
    return PREFIX + push_id


def targets_key(push_id: str) -> str:
    return f"{PREFIX}{push_id}:targets"


def done_key(push_id: str) -> str:
    return f"{PREFIX}{push_id}:batches_done"


def stats_key(push_id: str) -> str:
    return contact_state.push_stats_key(push_id)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Push:
    id: str
    name: str
    text: str
    segment: Segment
    coupon: str
    at: float
    by: str
    status: str
    targeted: int
    batches: int
    mass: bool = False  # also a guide-confirmed 企业群发 for those outside the window (bot/outbound/mass.py)

    @classmethod
    def from_hash(cls, push_id: str, raw: Dict[str, str]) -> "Push":
        return cls(id=push_id, name=raw.get("name", ""), text=raw.get("text", ""),
                   segment=Segment.from_dict(json.loads(raw.get("segment") or "{}")), coupon=raw.get("coupon", ""),
                   at=float(raw.get("at") or 0), by=raw.get("by", ""), status=raw.get("status", ""),
                   targeted=int(raw.get("targeted") or 0), batches=int(raw.get("batches") or 0),
                   mass=raw.get("mass") == "1")


def validate(name: str, text: str, coupon: str, coupon_types: Any, mass: bool = False) -> List[str]:
    problems = []
    if not name.strip():
        problems.append("name: 请给这次推送起个名字")
    if not text.strip():
        problems.append("text: 推送内容不能为空")
    elif len(text) > TEXT_LIMIT:
        problems.append(f"text: 推送内容最多 {TEXT_LIMIT} 字")
    if coupon and coupon not in coupon_types:
        problems.append(f"coupon: 没有这种优惠券 {coupon}")
    if "{coupon_code}" in text and not coupon:
        problems.append("text: 用了 {coupon_code} 却没选优惠券")
    if mass and coupon:
        problems.append("mass: 企业群发是同一段文字，带不了每人不同的券码")
    return problems


async def create(redis: Any, *, name: str, text: str, segment: Segment, coupon: str = "", at: Optional[float] = None,
                 by: str = "", mass: bool = False) -> str:
    push_id = f"p{int(await redis.incr(SEQ))}"
    when = time.time() if at is None else at
    pipe = redis.pipeline(transaction=True)
    pipe.hset(key(push_id), mapping={"name": name, "text": text, "segment": json.dumps(segment.to_dict(), ensure_ascii=False),
                                     "coupon": coupon, "at": str(when), "by": by, "status": "scheduled", "mass": "1" if mass else "",
                                     "created_at": str(time.time())})
    pipe.zadd(DUE, {push_id: when})
    pipe.zadd(INDEX, {push_id: time.time()})
    await pipe.execute()
    return push_id


async def get(redis: Any, push_id: str) -> Optional[Push]:
    raw = {_text(k): _text(v) for k, v in (await redis.hgetall(key(push_id)) or {}).items()}
    return Push.from_hash(push_id, raw) if raw else None


async def cancel(redis: Any, push_id: str) -> bool:
    """Stops a push that has not finished; what was sent stays sent."""
    push = await get(redis, push_id)
    if push is None or push.status in ("done", "cancelled"):
        return False
    await redis.hset(key(push_id), "status", "cancelled")
    await redis.zrem(DUE, push_id)
    return True


async def preview(redis: Any, segment: Segment, now: datetime) -> int:
    return len(await select(redis, segment, now))


async def plan(redis: Any, push: Push, now: datetime) -> int:
    """Fix the push's audience once (a re-run after a crash rebuilds it from scratch
    until it is marked planned); returns the number of batches."""
    if push.status in ("planned", "sending", "done"):
        return push.batches
    cids = await select(redis, push.segment, now)
    pipe = redis.pipeline(transaction=True)
    pipe.delete(targets_key(push.id))
    for start in range(0, len(cids), 1000):
        pipe.rpush(targets_key(push.id), *cids[start:start + 1000])
    batches = (len(cids) + BATCH - 1) // BATCH
    pipe.hset(key(push.id), mapping={"status": "planned", "targeted": len(cids), "batches": batches,
                                     "planned_at": str(time.time())})
    await pipe.execute()
    return batches


async def batch_targets(redis: Any, push_id: str, start: int, end: int) -> List[str]:
    return [_text(c) for c in await redis.lrange(targets_key(push_id), start, end - 1)]


async def batch_done(redis: Any, push: Push, start: int) -> bool:
    """Marks a batch finished; True when it was the last one (the push is done)."""
    pipe = redis.pipeline(transaction=True)
    pipe.sadd(done_key(push.id), start)
    pipe.scard(done_key(push.id))
    _, done = await pipe.execute()
    if int(done) >= push.batches:
        await redis.hset(key(push.id), mapping={"status": "done", "done_at": str(time.time())})
        return True
    return False


async def report(redis: Any, push_id: str) -> Optional[Dict[str, Any]]:
    push = await get(redis, push_id)
    if push is None:
        return None
    stats = {_text(k): int(v) for k, v in (await redis.hgetall(stats_key(push_id)) or {}).items()}

    def by_prefix(prefix: str) -> Dict[str, int]:
        return {k[len(prefix):]: v for k, v in sorted(stats.items()) if k.startswith(prefix)}

    refused, undeliverable = by_prefix("refused:"), by_prefix("undeliverable:")
    sent, in_doubt = stats.get("sent", 0), stats.get("in_doubt", 0)
    finished = sent + sum(refused.values()) + sum(undeliverable.values()) + in_doubt
    return {"id": push.id, "name": push.name, "status": push.status, "by": push.by, "at": push.at,
            "segment": push.segment.to_dict(), "coupon": push.coupon, "targeted": push.targeted, "sent": sent,
            "refused": refused, "undeliverable": undeliverable, "in_doubt": in_doubt,
            "postponed": by_prefix("postponed:"), "waiting": max(0, push.targeted - finished),
            "replied_24h": stats.get("replied", 0), "coupons_issued": stats.get("coupons", 0), "mass": push.mass}


async def recent(redis: Any, count: int = 50) -> List[str]:
    return [_text(p) for p in await redis.zrevrange(INDEX, 0, count - 1)]
