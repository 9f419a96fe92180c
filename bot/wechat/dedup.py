"""Process each WeChat message once across processes (CONTRACTS §5).

A callback is claimed with a lease: `pending:<lease end, ms>`. The worker
processing it renews the lease while it works and sets `done` at the end.
A duplicate that arrives while the lease is alive means WeChat retried (it
did not get our answer in time, or a second instance got the retry): it
flips the state to `retried`, so the first copy delivers through the send
API instead of a passive reply WeChat may no longer be listening for, and
it waits for the owner within its own reply budget. A duplicate that finds
the lease expired takes the message over: its owner died (a killed Rasa
server), and answering WeChat `success` then would lose the message.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import AsyncIterator, Mapping

import redis.asyncio as aioredis

from common.lua_script import LuaScript
from bot.wechat.settings import env_float, passive_budget_s

logger = logging.getLogger(__name__)

PENDING = "pending"
RETRIED = "retried"
DONE = "done"

# Verdicts of a claim.
FIRST = "first"          # nobody had it: process it
TAKEOVER = "takeover"    # its owner's lease ran out: process it
BUSY = "busy"            # its owner is alive and working on it
SETTLED = "done"         # already processed

# Redis' clock in ms, so that processes on different hosts agree on when a lease ran out.
_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1]: the dedup key. ARGV: key ttl s, lease ms.
_CLAIM = LuaScript(_NOW_MS + """
local lease_end = now + tonumber(ARGV[2])
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], 'pending:' .. lease_end, 'EX', ARGV[1])
  return 'first'
end
if value == 'done' then return 'done' end
local state, until_ms = string.match(value, '^(%a+):(%d+)$')
if not state then return 'busy' end
if tonumber(until_ms) < now then
  redis.call('SET', KEYS[1], 'pending:' .. lease_end, 'KEEPTTL')
  return 'takeover'
end
if state == 'pending' then redis.call('SET', KEYS[1], 'retried:' .. until_ms, 'KEEPTTL') end
return 'busy'
""")

# KEYS[1]: the dedup key. ARGV: lease ms. Keeps the state word (pending/retried).
_RENEW = LuaScript(_NOW_MS + """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local state = string.match(value, '^(%a+):%d+$')
if not state then return 0 end
redis.call('SET', KEYS[1], state .. ':' .. (now + tonumber(ARGV[1])), 'KEEPTTL')
return 1
""")

# A lease shorter than a few round trips would be taken over from a live owner.
MIN_LEASE_S = 0.3


def lease_s() -> float:
    """WECHAT_DEDUP_LEASE_S, renewed every third of it: a dead owner's message is
    taken over by a retry once this long passed without renewal. Kept below
    WECHAT_PASSIVE_BUDGET_S (the longest a retry waits for the owner), or a retry
    of a dead owner's message would give up before the lease ran out."""
    wanted = env_float("WECHAT_DEDUP_LEASE_S", 3.0)
    return max(MIN_LEASE_S, min(wanted, 0.75 * passive_budget_s()))


def dedup_key(channel: str, message: Mapping[str, object]) -> str:
    """MsgId for messages; FromUserName+CreateTime for events (they have no MsgId)."""
    msg_id = str(message.get("MsgId") or "").strip()
    if msg_id:
        return f"wx:dedup:{channel}:msg:{msg_id}"
    return f"wx:dedup:{channel}:evt:{message.get('FromUserName', '')}:{message.get('CreateTime', '')}"


async def claim(redis: aioredis.Redis, key: str, ttl_s: int) -> str:
    """FIRST or TAKEOVER: this caller processes the message; BUSY or SETTLED: it does not."""
    return str(await _CLAIM(redis, [key], [ttl_s, int(lease_s() * 1000)]))


async def claim_within(redis: aioredis.Redis, key: str, ttl_s: int, budget_s: float) -> str:
    """Claim; while the owner is busy, wait for it (up to budget_s) and take
    the message over if its lease runs out meanwhile."""
    deadline = time.monotonic() + budget_s
    verdict = await claim(redis, key, ttl_s)
    while verdict == BUSY and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        verdict = await claim(redis, key, ttl_s)
    return verdict


@contextlib.asynccontextmanager
async def leased(redis: aioredis.Redis, key: str) -> AsyncIterator[None]:
    """Renew the claim's lease while the body runs (a Redis hiccup is logged, not raised)."""
    lease_ms = int(lease_s() * 1000)

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_ms / 3000)
            try:
                await _RENEW(redis, [key], [lease_ms])
            except Exception as error:
                logger.warning("Could not renew the lease of %s (%s).", key, type(error).__name__)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()


async def was_retried(redis: aioredis.Redis, key: str) -> bool:
    return str(await redis.get(key) or "").startswith(RETRIED)


async def finish(redis: aioredis.Redis, key: str) -> None:
    await redis.set(key, DONE, xx=True, keepttl=True)
