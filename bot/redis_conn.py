"""One asyncio Redis client per event loop (connections bind to their loop)."""
from __future__ import annotations

import asyncio
import os
from typing import Dict, Optional, Tuple

import redis.asyncio as aioredis

_clients: Dict[Tuple[int, str], aioredis.Redis] = {}


def get_redis(url: Optional[str] = None) -> aioredis.Redis:
    url = url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    key = (id(asyncio.get_running_loop()), url)
    client = _clients.get(key)
    if client is None:
        client = aioredis.from_url(url, decode_responses=True, socket_timeout=5, health_check_interval=30)
        _clients[key] = client
    return client


async def close_all() -> None:
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _clients if k[0] == loop_id]:
        await _clients.pop(key).close()
