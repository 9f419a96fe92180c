"""The Rasa-side Redis client factory: one asyncio client per event loop and URL
(connections bind to their loop). Time-outs come from common.redis_settings."""
from __future__ import annotations

import asyncio
from typing import Dict, Optional, Tuple

import redis.asyncio as aioredis

from common import redis_settings

_clients: Dict[Tuple[int, str], aioredis.Redis] = {}


def make_redis(url: Optional[str] = None) -> aioredis.Redis:
    """A new client with the project's time-outs (callers that own its lifetime)."""
    return aioredis.from_url(redis_settings.redis_url(url), **redis_settings.client_options())


def get_redis(url: Optional[str] = None) -> aioredis.Redis:
    url = redis_settings.redis_url(url)
    key = (id(asyncio.get_running_loop()), url)
    client = _clients.get(key)
    if client is None:
        client = make_redis(url)
        _clients[key] = client
    return client


async def close_all() -> None:
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _clients if k[0] == loop_id]:
        await _clients.pop(key).close()


def make_sync_redis(url: Optional[str] = None, **overrides: object) -> "redis.Redis":
    """A blocking client for command-line tools (e.g. scripts/migrate_sender_ids.py);
    `overrides` lets a bulk job wait longer per command than a chat turn may."""
    import redis

    options = {**redis_settings.client_options(), "decode_responses": False, **overrides}
    return redis.Redis.from_url(redis_settings.redis_url(url), **options)
