"""The Rasa-side Redis client factory: one asyncio client per event loop and URL
(connections bind to their loop). Time-outs and standalone-or-cluster come from
common.redis_settings."""
from __future__ import annotations

import asyncio
from typing import Dict, Optional, Tuple

import redis.asyncio as aioredis

from common import redis_settings

_clients: Dict[Tuple[int, str], aioredis.Redis] = {}


def make_redis(url: Optional[str] = None) -> aioredis.Redis:
    """A new client with the project's time-outs (callers that own its lifetime)."""
    kind = aioredis.RedisCluster if redis_settings.cluster_mode() else aioredis.Redis
    return kind.from_url(redis_settings.redis_url(url), **redis_settings.client_options())


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
    kind = redis.RedisCluster if redis_settings.cluster_mode() else redis.Redis
    return kind.from_url(redis_settings.redis_url(url), **options)


# connection options of Rasa's own clients that a cluster client takes as they are
_CLUSTER_OPTIONS = ("username", "password", "decode_responses", "socket_timeout", "socket_connect_timeout",
                    "health_check_interval", "ssl_keyfile", "ssl_certfile", "ssl_ca_certs")


def cluster_twin(client: "redis.Redis") -> "redis.Redis":
    """Rasa's tracker and lock stores build a plain `redis.StrictRedis`, which a Redis
    Cluster answers with MOVED for most keys. In cluster mode this returns a cluster
    client with the same address, credentials and options; otherwise `client` itself."""
    if not redis_settings.cluster_mode():
        return client
    import redis
    from redis.connection import SSLConnection

    pool = client.connection_pool
    given = pool.connection_kwargs
    options = {k: given[k] for k in _CLUSTER_OPTIONS if given.get(k) is not None}
    if issubclass(pool.connection_class, SSLConnection):
        options["ssl"] = True
    client.close()
    return redis.RedisCluster(host=given.get("host", "localhost"), port=int(given.get("port", 6379)), **options)
