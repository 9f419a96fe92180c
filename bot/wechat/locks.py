"""A small Redis lock (SET NX PX + owner token) for cross-process single-flight."""
from __future__ import annotations

import secrets
from typing import Optional

import redis.asyncio as aioredis

from common.lua_script import LuaScript

_RELEASE = LuaScript("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
_EXTEND = LuaScript("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0")


class RedisLock:
    def __init__(self, redis: aioredis.Redis, key: str, ttl_ms: int) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = ttl_ms
        self.owner: Optional[str] = None

    async def acquire(self) -> bool:
        owner = secrets.token_hex(8)
        if await self.redis.set(self.key, owner, nx=True, px=self.ttl_ms):
            self.owner = owner
            return True
        return False

    async def extend(self) -> bool:
        """Keep holding a lock during long work; False if it was lost (expired)."""
        if not self.owner:
            return False
        return bool(await _EXTEND(self.redis, [self.key], [self.owner, self.ttl_ms]))

    async def release(self) -> None:
        if self.owner:
            await _RELEASE(self.redis, [self.key], [self.owner])
            self.owner = None
