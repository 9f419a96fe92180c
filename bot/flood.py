"""Flood limits: how many messages one sender (or one client IP) may send per window.

A window opens with the first message and lasts `window_s`; within it the
first `max_hits` pass, the next one gets `NOTICE` (the caller answers once,
politely), the rest `DROP` (no answer, no NLU). Counting is one Lua step, so
concurrent callbacks in several processes cannot both see "under the limit".
The clock is passed in (tests inject it; Redis TTL only cleans up).

Redis failures fail open: an outage must not silence every customer.
"""
from __future__ import annotations

import enum
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

from redis.exceptions import ConnectionError as RedisConnectionError

from common.lua_script import LuaScript

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGES = 20
DEFAULT_WINDOW_S = 10.0
DEFAULT_MAX_PER_IP_MINUTE = 6000

# KEYS[1] hash {s: window start (ms), n: hits}; ARGV: now ms, window ms, ttl ms.
_HIT = LuaScript("""
local now = tonumber(ARGV[1])
local start = tonumber(redis.call('HGET', KEYS[1], 's'))
if (not start) or now - start >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 's', now, 'n', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return redis.call('HINCRBY', KEYS[1], 'n', 1)
""")  # on every inbound message


class Verdict(enum.Enum):
    ALLOW = "allow"
    NOTICE = "notice"  # the first hit over the limit: tell the sender once
    DROP = "drop"


@dataclass(frozen=True)
class WindowLimiter:
    prefix: str  # Redis key prefix, e.g. "flood:sender"
    max_hits: int
    window_s: float

    def key(self, subject: str) -> str:
        return f"{self.prefix}:{subject}"

    async def hit(self, redis: Any, subject: str, now: Optional[float] = None) -> Verdict:
        """Count one hit for `subject`; ALLOW when Redis fails (logged)."""
        if self.max_hits <= 0:
            return Verdict.ALLOW  # 0 disables the limit
        window_ms = max(1, int(self.window_s * 1000))
        now_ms = int((time.time() if now is None else now) * 1000)
        args = [now_ms, window_ms, 2 * window_ms]
        try:
            try:
                count = int(await _HIT(redis, [self.key(subject)], args))
            except RedisConnectionError:
                # A pooled connection Redis dropped (a restart) fails once, then the pool
                # reconnects: a hit must not go uncounted for that (counting twice errs safe).
                count = int(await _HIT(redis, [self.key(subject)], args))
        except Exception as error:
            logger.warning("%s: limiter unavailable (%s); letting the message through.",
                           self.prefix, type(error).__name__)
            return Verdict.ALLOW
        if count <= self.max_hits:
            return Verdict.ALLOW
        return Verdict.NOTICE if count == self.max_hits + 1 else Verdict.DROP


def _env_number(name: str, default: float) -> float:
    raw = (os.environ.get(name) or "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        logger.warning("%s=%r is not a number; using %s.", name, raw, default)
        return default


def sender_limiter() -> WindowLimiter:
    """Per sender id, every inbound consumer path (FLOOD_MAX_MESSAGES per FLOOD_WINDOW_S)."""
    return WindowLimiter("flood:sender", int(_env_number("FLOOD_MAX_MESSAGES", DEFAULT_MAX_MESSAGES)),
                         _env_number("FLOOD_WINDOW_S", DEFAULT_WINDOW_S))


def webhook_ip_limiter() -> WindowLimiter:
    """Per client IP on the WeChat webhooks; generous: every callback comes from WeChat's servers."""
    return WindowLimiter("flood:ip", int(_env_number("WEBHOOK_MAX_PER_IP_MINUTE", DEFAULT_MAX_PER_IP_MINUTE)), 60.0)
