"""One consumer turn on a WeChat channel: options → Rasa → Reply.

Text goes through bot.channels.common.handle_user_text (input guard, persona
apology on failure) with a collecting output channel; the caller delivers.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional

import redis.asyncio as aioredis
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.common import handle_user_text
from bot.privacy import mask_id
from bot.wechat import options
from bot.wechat.outgoing import Reply, build_reply
from bot.wechat.settings import options_ttl_s

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


async def run_turn(
    on_new_message: OnNewMessage, redis: aioredis.Redis, channel: str, sender_id: str,
    text: Optional[str], metadata: Dict[str, Any], menu_id: Optional[str] = None,
) -> Reply:
    chosen = None
    try:
        chosen = await options.resolve(redis, channel, sender_id, text, menu_id)
    except Exception:  # options are a convenience; never lose the message over them
        logger.exception("%s: could not read remembered options for %s.", channel, mask_id(sender_id))
    if chosen:
        metadata = {**metadata, "selected_option": text}
    collector = CollectingOutputChannel()
    await handle_user_text(on_new_message, collector, chosen or text, sender_id, channel, metadata)
    reply = build_reply(collector.messages)
    try:
        await options.remember(redis, channel, sender_id, reply.options, options_ttl_s())
    except Exception:
        logger.exception("%s: could not remember options for %s.", channel, mask_id(sender_id))
    return reply
