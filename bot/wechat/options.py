"""Rasa buttons on text-only channels: numbered options, and the way back.

The bot's last options per user are remembered in Redis (with a TTL), so a
reply of "2", "２", "2." or the option's title selects that button's payload
— from any process. A reply without buttons forgets them: "2" then means 2.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import redis.asyncio as aioredis


@dataclass(frozen=True)
class Option:
    title: str
    payload: str


def from_buttons(buttons: Sequence[Dict[str, Any]]) -> List[Option]:
    options = []
    for button in buttons or []:
        title = str(button.get("title") or "").strip()
        payload = str(button.get("payload") or title).strip()
        if title:
            options.append(Option(title, payload))
    return options


def render_numbered(options: Sequence[Option]) -> str:
    return "\n".join(f"{n}. {option.title}" for n, option in enumerate(options, start=1))


def _key(channel: str, user: str) -> str:
    return f"wx:opts:{channel}:{user}"


async def remember(redis: aioredis.Redis, channel: str, user: str, options: Sequence[Option], ttl_s: int) -> None:
    if options:
        data = json.dumps([[o.title, o.payload] for o in options], ensure_ascii=False)
        await redis.set(_key(channel, user), data, ex=ttl_s)
    else:
        await redis.delete(_key(channel, user))


def _normalise(text: str) -> str:
    # NFKC folds full-width digits and letters (２ → 2) typed on Chinese keyboards.
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return folded.rstrip(".。、)） ").lstrip("(（ ")


async def resolve(redis: aioredis.Redis, channel: str, user: str, text: Optional[str],
                  menu_id: Optional[str] = None) -> Optional[str]:
    """The payload the user picked, or None when the text is not a choice."""
    raw = await redis.get(_key(channel, user))
    if not raw:
        return None
    options = [Option(t, p) for t, p in json.loads(raw)]
    if menu_id and menu_id.isdigit() and 1 <= int(menu_id) <= len(options):
        return options[int(menu_id) - 1].payload
    if not text:
        return None
    answer = _normalise(text)
    if answer.isdigit() and 1 <= int(answer) <= len(options):
        return options[int(answer) - 1].payload
    for option in options:
        if _normalise(option.title) == answer:
            return option.payload
    return None
