"""Callbacks acknowledged before their answer went out, kept until it did.

A 公众号 turn that outlives the passive budget is acknowledged with `success`
and answered later through 客服消息. WeChat never retries an acknowledged
callback, so a Rasa server that dies in between (OOM kill, node loss) used to
lose that answer. Now the acknowledgement first records the job in
`wx:acked:<channel>` (a sorted set by acknowledgement time) and the worker
removes it once the answer was sent. Every Rasa process sweeps the set: an entry
whose message lease (bot/wechat/dedup.py) ran out belongs to a dead worker, so
the sweeper claims the message (TAKEOVER: one process wins) and runs the turn
again with the same message id (no effect repeats: idempotency keys) and
answers through 客服消息. An entry whose message is already done is dropped.

Entries hold the customer's text for the seconds until the answer is out
(needed to run the turn again, so not masked); `ops.py erase` removes a
customer's entries, and entries older than the dedup key's life
(WECHAT_DEDUP_TTL_S) are dropped unanswered: past it nobody can tell whether
the message was answered.
"""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Tuple


def key(channel: str) -> str:
    return f"wx:acked:{channel}"


def entry(dedup_key: str, job: Dict[str, Any]) -> str:
    """The set member: deterministic, so the worker removes exactly what the handler added."""
    return json.dumps({"key": dedup_key, "job": job}, sort_keys=True, ensure_ascii=False)


async def remember(redis: Any, channel: str, member: str) -> None:
    await redis.zadd(key(channel), {member: time.time()})


async def forget(redis: Any, channel: str, member: str) -> None:
    await redis.zrem(key(channel), member)


async def due(redis: Any, channel: str, older_than_s: float, max_age_s: float,
              limit: int = 50) -> List[Tuple[str, Dict[str, Any]]]:
    """(member, decoded) of entries acknowledged more than `older_than_s` ago; entries past
    `max_age_s` (the dedup key's life) are dropped: answering them could answer twice."""
    now = time.time()
    await redis.zremrangebyscore(key(channel), "-inf", now - max_age_s)
    members = await redis.zrangebyscore(key(channel), "-inf", now - older_than_s, start=0, num=limit)
    return [(m, json.loads(m)) for m in members]
