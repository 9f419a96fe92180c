"""Options the bot offered last (Rasa buttons), so a reply can select one.

WeChat has no buttons: options are shown as numbered text, and the consumer
answers "2", the option's title, or (web chat) the payload itself. Every
channel remembers the last options per sender in Redis and resolves the reply
to the button's payload here. A payload resolved this way is trusted even when
it carries entities (`/faq_choice{"faq_key": "x"}`), because the bot offered it;
typed `/intent{…}` text that was not offered still goes through the guard.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Any, Dict, List, Optional, Sequence

import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

KEY = "opt:last:{channel}:{sender}"
TTL_S = 30 * 60  # an answer to an option more than 30 minutes later is a new message
_NUMBER = re.compile(r"^\s*[（(]?\s*(\d{1,2})\s*[)）.、]?\s*$")
_client: Optional[aioredis.Redis] = None


def redis_client() -> aioredis.Redis:
    global _client
    if _client is None:
        _client = aioredis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return _client


def numbered_text(text: str, buttons: Sequence[Dict[str, Any]]) -> str:
    """Render options as WeChat-style numbered lines under the message."""
    lines = [f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, start=1)]
    return "\n".join(([text] if text else []) + lines)


def collect_buttons(messages: Sequence[Dict[str, Any]]) -> List[Dict[str, str]]:
    """The options of a reply: the buttons of its last message that has any."""
    for message in reversed(messages):
        if message.get("buttons"):
            return [
                {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                for b in message["buttons"]
            ]
    return []


async def remember(channel: str, sender: str, buttons: Sequence[Dict[str, str]]) -> None:
    key = KEY.format(channel=channel, sender=sender)
    try:
        if buttons:
            await redis_client().set(key, json.dumps(list(buttons), ensure_ascii=False), ex=TTL_S)
        else:
            await redis_client().delete(key)
    except Exception as error:  # options are a convenience: never fail the reply for them
        logger.warning("Could not remember options for %s: %s", channel, type(error).__name__)


async def resolve(channel: str, sender: str, text: Optional[str]) -> Optional[str]:
    """The payload selected by `text`, or None if it selects nothing."""
    if not text:
        return None
    try:
        raw = await redis_client().get(KEY.format(channel=channel, sender=sender))
    except Exception as error:
        logger.warning("Could not read options for %s: %s", channel, type(error).__name__)
        return None
    if not raw:
        return None
    options: List[Dict[str, str]] = json.loads(raw)
    return select(options, text)


def select(options: Sequence[Dict[str, str]], text: str) -> Optional[str]:
    stripped = text.strip()
    number = _NUMBER.match(stripped)
    if number:
        index = int(number.group(1)) - 1
        return options[index]["payload"] if 0 <= index < len(options) else None
    for option in options:
        if stripped in (option["title"].strip(), option["payload"]):
            return option["payload"]
    return None
