"""Process each WeChat message once across processes (CONTRACTS §5).

A callback is claimed with SET NX. A duplicate that arrives while the first
copy is still being processed means WeChat retried (it did not get our
answer in time, or a second instance got the retry), so the duplicate flips
the state to `retried`: the first copy then delivers through the send API
instead of a passive reply WeChat may no longer be listening for.
"""
from __future__ import annotations

from typing import Mapping

import redis.asyncio as aioredis

PENDING = "pending"
RETRIED = "retried"
DONE = "done"


def dedup_key(channel: str, message: Mapping[str, object]) -> str:
    """MsgId for messages; FromUserName+CreateTime for events (they have no MsgId)."""
    msg_id = str(message.get("MsgId") or "").strip()
    if msg_id:
        return f"wx:dedup:{channel}:msg:{msg_id}"
    return f"wx:dedup:{channel}:evt:{message.get('FromUserName', '')}:{message.get('CreateTime', '')}"


async def claim(redis: aioredis.Redis, key: str, ttl_s: int) -> bool:
    return bool(await redis.set(key, PENDING, nx=True, ex=ttl_s))


async def note_retry(redis: aioredis.Redis, key: str) -> None:
    # Only a still-pending claim matters; KEEPTTL keeps the original expiry.
    await redis.eval(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end return 0",
        1, key, PENDING, RETRIED,
    )


async def was_retried(redis: aioredis.Redis, key: str) -> bool:
    return (await redis.get(key)) == RETRIED


async def finish(redis: aioredis.Redis, key: str) -> None:
    await redis.set(key, DONE, xx=True, keepttl=True)
