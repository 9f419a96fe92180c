"""The 公众号 customer's unionid, fetched from WeChat once per openid.

The action server trusts `unionid` in message metadata only for WeChat sender
namespaces, because only this channel puts it there, straight from
cgi-bin/user/info. Cached in Redis (`wx:mp:unionid:<openid>`): the unionid,
or "none" for an account without an open-platform binding. A failure never
blocks the reply: it is logged, cached briefly as "none" (no API hammering)
and the message goes on without a unionid.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from bot.wechat.api import MPClient
from bot.wechat.settings import env_float
from common.privacy import mask_id

logger = logging.getLogger(__name__)

NONE = "none"
CACHE_TTL_S = 30 * 24 * 3600
FAILURE_TTL_S = 300
# user/info runs inside the passive-reply budget; a slow API must not eat all of it.
LOOKUP_TIMEOUT_S = 1.5


def cache_key(openid: str) -> str:
    return f"wx:mp:unionid:{openid}"


async def unionid_for(client: MPClient, redis: Any, openid: str) -> Optional[str]:
    key = cache_key(openid)
    try:
        cached = await redis.get(key)
    except Exception as error:
        logger.warning("wechat_mp: unionid cache unavailable (%s); going on without unionid.", type(error).__name__)
        return None  # without Redis the token cache fails too: don't call the API
    if cached is not None:
        return None if cached == NONE else str(cached)
    timeout = env_float("WECHAT_MP_USERINFO_TIMEOUT_S", LOOKUP_TIMEOUT_S)
    try:
        info = await asyncio.wait_for(client.user_info(openid), timeout)
        unionid, ttl = str(info.get("unionid") or ""), CACHE_TTL_S
    except asyncio.CancelledError:
        raise
    except Exception as error:
        logger.warning("wechat_mp: user/info for %s failed (%s); going on without unionid.",
                       mask_id(openid), error if str(error) else type(error).__name__)
        unionid, ttl = "", FAILURE_TTL_S
    try:
        await redis.set(key, unionid or NONE, ex=ttl)
    except Exception as error:
        logger.warning("wechat_mp: could not cache the unionid of %s (%s).", mask_id(openid), type(error).__name__)
    return unionid or None
