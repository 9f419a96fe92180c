"""access_token shared by all processes through Redis, one refresher at a time.

WeChat invalidates the previous token when a new one is fetched (公众号), and
both platforms rate-limit the token endpoints, so processes must not refresh
on their own: the lock holder fetches, the others wait for the cached value.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Tuple

import redis.asyncio as aioredis

from common.lua_script import LuaScript
from bot.wechat.locks import RedisLock

logger = logging.getLogger(__name__)

# (token, expires_in seconds)
Fetcher = Callable[[], Awaitable[Tuple[str, int]]]

_DROP_IF_SAME = LuaScript("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")


class TokenUnavailable(RuntimeError):
    pass


class AccessTokenCache:
    def __init__(self, redis: aioredis.Redis, name: str, fetch: Fetcher, wait_s: float = 8.0) -> None:
        self.redis = redis
        self.key = f"wx:token:{name}"
        self.lock_key = f"wx:token-lock:{name}"
        self.fetch = fetch
        self.wait_s = wait_s

    async def get(self) -> str:
        cached = await self.redis.get(self.key)
        if cached:
            return cached
        lock = RedisLock(self.redis, self.lock_key, ttl_ms=int(self.wait_s * 1000))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        while loop.time() < deadline:
            if await lock.acquire():
                try:
                    cached = await self.redis.get(self.key)  # someone may have just refreshed
                    if cached:
                        return cached
                    token, expires_in = await self.fetch()
                    # Refresh 5 minutes early so no call races the expiry.
                    await self.redis.set(self.key, token, ex=max(60, int(expires_in) - 300))
                    logger.info("Fetched a new access_token for %s (valid %ss).", self.key, expires_in)
                    return token
                finally:
                    await lock.release()
            await asyncio.sleep(0.05)
            cached = await self.redis.get(self.key)
            if cached:
                return cached
        raise TokenUnavailable(f"no access_token for {self.key} within {self.wait_s}s")

    async def invalidate(self, token: str) -> None:
        """Drop the cached token if it is still the one the API refused (40001/42001)."""
        await _DROP_IF_SAME(self.redis, [self.key], [token])
