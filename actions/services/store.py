"""The Redis connection (env REDIS_URL) and the Lua scripts, loaded once per client."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Dict, Optional, Tuple

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from common import key_tags, redis_settings

LUA_DIR = Path(__file__).resolve().parent / "lua"
# Every customer and marketing key opens with one hash tag (common/key_tags.py): the Lua
# steps move stock, claim ids, grants, codes and one customer's records together.
TAG = key_tags.MARKETING
PREFIX = TAG + "cust:"  # customers: identities, profile, tags, coupons, claims
IDEM_TTL_S = 86400  # a retried action call finds its first result for a day
ALERTS = TAG + "ops:alerts"  # stream of things ops must act on (e.g. an empty coupon pool)

UNAVAILABLE: Tuple[type, ...] = redis_settings.UNAVAILABLE

_clients: Dict[int, aioredis.Redis] = {}
_override: Optional[aioredis.Redis] = None


def redis_url() -> str:
    return redis_settings.redis_url()


def make_client(url: Optional[str] = None) -> aioredis.Redis:
    """A new client (scripts and tests that own it); time-outs from common.redis_settings."""
    kind = aioredis.RedisCluster if redis_settings.cluster_mode() else aioredis.Redis
    return kind.from_url(redis_settings.redis_url(url), **redis_settings.client_options())


def get_client() -> aioredis.Redis:
    """One client per event loop (asyncio connections cannot cross loops)."""
    if _override is not None:
        return _override
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _clients:
        _clients[loop_id] = make_client()
    return _clients[loop_id]


def use_client(client: Optional[aioredis.Redis]) -> None:
    """Tests and tools point every service at their own Redis."""
    global _override
    _override = client


class Scripts:
    """The project's Lua scripts registered on one client (EVALSHA, reloaded on NOSCRIPT)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._scripts: Dict[str, AsyncScript] = {}

    def __getattr__(self, name: str) -> AsyncScript:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._scripts:
            self._scripts[name] = self.client.register_script((LUA_DIR / f"{name}.lua").read_text())
        return self._scripts[name]


def scripts(client: aioredis.Redis) -> Scripts:
    """The scripts of this client, kept on the client so they live and die with it."""
    found = getattr(client, "_qinghe_scripts", None)
    if found is None:
        found = Scripts(client)
        setattr(client, "_qinghe_scripts", found)
    return found
