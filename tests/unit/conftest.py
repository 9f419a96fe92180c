"""Fixtures shared by the unit tests that need a real Redis."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Iterator

import pytest
import redis.asyncio as aioredis

from bot import redis_conn
from bot.redis_server import RedisServer, free_port


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A private redis-server per test module, without persistence."""
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start(appendonly=False)
    try:
        yield server.url
    finally:
        server.stop()


def run_with_redis(url: str, body: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
    """Run `body` with an asyncio client of `url` on a fresh event loop, then close
    the client and the loop's pooled clients (bot.redis_conn)."""
    async def main() -> Any:
        client = aioredis.from_url(url, decode_responses=True, socket_timeout=2)
        try:
            return await body(client)
        finally:
            await client.close()
            await redis_conn.close_all()
    return asyncio.run(main())
