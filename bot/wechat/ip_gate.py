"""Per-client-IP cap on the WeChat webhooks, checked before any signature work.

Generous by default (WEBHOOK_MAX_PER_IP_MINUTE): every genuine callback comes
from WeChat's servers; the cap stops one host hammering the crypto. Behind a
reverse proxy, Sanic's own settings decide the client address
(SANIC_PROXIES_COUNT / SANIC_REAL_IP_HEADER / SANIC_FORWARDED_SECRET); an
X-Forwarded-For header is not trusted unless they are set.
"""
from __future__ import annotations

import logging
from typing import Optional

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.flood import Verdict, webhook_ip_limiter
from bot.redis_conn import get_redis

logger = logging.getLogger("bot.wechat")


def client_ip(request: Request) -> str:
    return request.remote_addr or request.ip or "unknown"


async def ip_refusal(request: Request, channel: str) -> Optional[HTTPResponse]:
    """None when the caller's IP is under the cap, else a 429 (logged once per window)."""
    ip = client_ip(request)
    verdict = await webhook_ip_limiter().hit(get_redis(), ip)
    if verdict is Verdict.ALLOW:
        return None
    if verdict is Verdict.NOTICE:
        logger.warning("%s: callbacks from %s over WEBHOOK_MAX_PER_IP_MINUTE; answering 429.", channel, ip)
    return response.text("too many requests", status=429)
