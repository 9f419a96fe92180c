"""Abuse caps of the public web chat, counted per client IP in Redis.

- new web sessions per IP per hour (WEB_NEW_SESSIONS_PER_IP_HOUR, default 20):
  every session is a new customer for the bot, so a script must not mint them;
- web chat messages per IP per minute (WEB_MESSAGES_PER_IP_MINUTE, default 60).

A window starts with an IP's first counted request and lasts its length
(bot.flood.WindowLimiter, the same atomic counter as the per-sender flood
limit), so a burst cannot straddle two windows. IPs are stored only as a keyed hash. The client IP is the socket peer; X-Forwarded-For
is honoured only when the peer is listed in CONSOLE_TRUSTED_PROXIES.
If Redis fails the caps are skipped (logged): the chat keeps working.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import redis.asyncio as aioredis

from bot.flood import Verdict, WindowLimiter
from bot.redis_conn import get_redis

logger = logging.getLogger(__name__)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
KEY_PREFIX = "console:rl"

def trusted_proxies(value: Optional[str] = None) -> List[Network]:
    """CONSOLE_TRUSTED_PROXIES: comma-separated IPs or CIDRs of reverse proxies."""
    raw = os.environ.get("CONSOLE_TRUSTED_PROXIES", "") if value is None else value
    networks: List[Network] = []
    for item in raw.replace(" ", ",").split(","):
        if item:
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                logger.error("CONSOLE_TRUSTED_PROXIES: %r is not an IP or CIDR; ignored.", item)
    return networks


def _parse_ip(value: str) -> Optional[ipaddress._BaseAddress]:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: ipaddress._BaseAddress, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_ip(peer: str, forwarded_for: Optional[str], proxies: Sequence[Network]) -> str:
    """The IP the caps count: the socket peer, unless the peer is a trusted proxy;
    then the right-most X-Forwarded-For hop that is not itself a trusted proxy
    (hops further left were written by the client and prove nothing)."""
    peer_ip = _parse_ip(peer or "")
    if peer_ip is None:
        return peer or "unknown"
    if not forwarded_for or not _trusted(peer_ip, proxies):
        return str(peer_ip)
    client = peer_ip
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        hop_ip = _parse_ip(hop)
        if hop_ip is None:
            break  # garbage from further left: keep the last hop a proxy vouched for
        client = hop_ip
        if not _trusted(hop_ip, proxies):
            break
    return str(client)


def mask_ip(ip: str) -> str:
    """For logs: 203.0.113.7 -> 203.0.113.x, IPv6 keeps its /48."""
    address = _parse_ip(ip)
    if address is None:
        return "?"
    if address.version == 4:
        return ".".join(str(address).split(".")[:3]) + ".x"
    return str(ipaddress.ip_network(f"{address}/48", strict=False).network_address) + "/48"


@dataclass(frozen=True)
class Cap:
    name: str  # key part: new_session | message
    limit: int
    window_s: int


def caps_from_env() -> "tuple[Cap, Cap]":
    return (
        Cap("new_session", int(os.environ.get("WEB_NEW_SESSIONS_PER_IP_HOUR", "20")), 3600),
        Cap("message", int(os.environ.get("WEB_MESSAGES_PER_IP_MINUTE", "60")), 60),
    )


class IpLimiter:
    def __init__(self, redis: "aioredis.Redis | None", key_secret: bytes) -> None:
        self._redis = redis
        self._key_secret = key_secret

    def _subject(self, ip: str) -> str:
        return hmac.new(self._key_secret, ip.encode("utf-8"), hashlib.sha256).hexdigest()[:24]

    def _window(self, cap: Cap) -> WindowLimiter:
        return WindowLimiter(f"{KEY_PREFIX}{cap.name}", cap.limit, cap.window_s)

    def key(self, cap: Cap, ip: str) -> str:
        return self._window(cap).key(self._subject(ip))

    async def allow(self, cap: Cap, ip: str) -> bool:
        """Count one request from `ip`; False once the IP is over the cap (0 = no cap).
        Redis down: the limiter lets it through (logged), never locking everyone out."""
        verdict = await self._window(cap).hit(self._redis or get_redis(), self._subject(ip))
        if verdict is Verdict.NOTICE:  # one line per window, not one per refused request
            logger.warning("Web chat: %s cap (%d per %d s) reached for %s.", cap.name, cap.limit, cap.window_s,
                           mask_ip(ip))
        return verdict is Verdict.ALLOW
