"""Replies WeChat refused (48-hour window, quota, session state) kept for ops.

A capped stream, so a long outage cannot fill Redis; the console or an
operator can read it and follow up by hand.
"""
from __future__ import annotations

import logging
import time
from typing import Optional

import redis.asyncio as aioredis

from common.privacy import mask_id

logger = logging.getLogger(__name__)

STREAM = "wx:undeliverable"
MAX_ENTRIES = 10000


async def record_undeliverable(
    redis: aioredis.Redis, channel: str, recipient: str, text: str,
    errcode: int, errmsg: str, extra: Optional[str] = None,
) -> None:
    logger.warning(
        "%s: reply to %s undeliverable (errcode %s: %s); recorded in %s.",
        channel, mask_id(recipient), errcode, errmsg, STREAM,
    )
    try:
        await redis.xadd(
            STREAM,
            {"channel": channel, "recipient": recipient, "text": text[:4000], "errcode": str(errcode),
             "errmsg": errmsg[:200], "extra": extra or "", "ts": str(int(time.time()))},
            maxlen=MAX_ENTRIES, approximate=True,
        )
    except Exception:  # never let bookkeeping crash a delivery
        logger.exception("Could not record an undeliverable reply in Redis.")
