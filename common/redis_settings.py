"""Where Redis is and how long a caller waits for it: one place for both runtimes.

Each runtime builds its clients through one factory that reads these numbers
(and `cluster_mode`: a standalone Redis or a Redis Cluster):
the Rasa side `bot.redis_conn.get_redis` (channels, console) and the tracker
store `bot.tracker_store`, the action server `actions.services.store.get_client`
(scripts: `store.make_client`).

Short time-outs on purpose: a channel must answer inside WeChat's 5-second
deadline and an action inside Rasa's action time-out, so a dead or hung Redis
has to fail fast into the persona's apology instead of stalling the turn.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Dict, Optional, Tuple

from redis.exceptions import RedisClusterException, RedisError

DEFAULT_URL = "redis://127.0.0.1:6379/0"

SOCKET_TIMEOUT_S = 2.0          # one command (read/write) on an open connection
CONNECT_TIMEOUT_S = 1.0         # opening a TCP connection
HEALTH_CHECK_INTERVAL_S = 30    # ping an idle pooled connection before reuse

# What "Redis is unreachable" looks like to a caller: connection refused, time-out,
# a server still loading, OS-level socket errors, and a cluster with no reachable
# node (redis-py's RedisClusterException is not a RedisError).
UNAVAILABLE: Tuple[type, ...] = (RedisError, RedisClusterException, OSError, asyncio.TimeoutError)


def cluster_mode() -> bool:
    """REDIS_CLUSTER=1: REDIS_URL names one node of a Redis Cluster and every client is a
    cluster client (it discovers the other nodes and follows MOVED). Keys that one
    atomic step touches share a hash tag (common/key_tags.py)."""
    return os.environ.get("REDIS_CLUSTER", "").strip().lower() in ("1", "true", "yes", "on")


def redis_url(url: Optional[str] = None) -> str:
    return url or os.environ.get("REDIS_URL") or DEFAULT_URL


def client_options() -> Dict[str, Any]:
    """Keyword arguments of redis-py's `from_url` (or the client constructor) for every client."""
    return {
        "decode_responses": True,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
    }
