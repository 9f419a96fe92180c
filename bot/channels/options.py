"""Options the bot offered last (Rasa buttons), and the way back.

WeChat has no buttons: options are shown as numbered text, and the consumer
answers "2", "２", "2.", the option's title, a 微信客服 menu click, or (web
chat) the payload itself. `bot.channels.common.handle_user_text` remembers the
last options per sender in Redis after every reply and resolves the next
message here, from any process. A payload resolved this way is trusted even
when it carries entities (`/faq_choice{"faq_key": "x"}`), because the bot
offered it; typed `/intent{…}` text that was not offered goes through the
input guard. A reply without buttons forgets them: "2" then means 2.

A 微信客服 `msgmenu` can be clicked long after newer options were offered, so
its item ids name the option, not its position: `m<token>.<n>`, where the
token keys the menu's own options in Redis (`remember_menu`). A click resolves
to exactly the option it showed, or to nothing once the menu expired.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import redis.asyncio as aioredis


@dataclass(frozen=True)
class Option:
    title: str
    payload: str


def ttl_s() -> int:
    return int(float(os.environ.get("OPTIONS_TTL_S", "1800")))


def from_buttons(buttons: Sequence[Dict[str, Any]]) -> List[Option]:
    options = []
    for button in buttons or []:
        title = str(button.get("title") or "").strip()
        payload = str(button.get("payload") or title).strip()
        if title:
            options.append(Option(title, payload))
    return options


def last_options(messages: Sequence[Dict[str, Any]]) -> List[Option]:
    """The options of a reply: the buttons of its last message that has any."""
    for message in reversed(messages):
        if message.get("buttons"):
            return from_buttons(message["buttons"])
    return []


def render_numbered(options: Sequence[Option]) -> str:
    return "\n".join(f"{n}. {option.title}" for n, option in enumerate(options, start=1))


def _key(channel: str, user: str) -> str:
    return f"opt:{channel}:{user}"


async def remember(redis: aioredis.Redis, channel: str, user: str, options: Sequence[Option]) -> None:
    if options:
        data = json.dumps([[o.title, o.payload] for o in options], ensure_ascii=False)
        await redis.set(_key(channel, user), data, ex=ttl_s())
    else:
        await redis.delete(_key(channel, user))


def _normalise(text: str) -> str:
    # NFKC folds full-width digits and letters (２ → 2) typed on Chinese keyboards.
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return folded.rstrip(".。、)） ").lstrip("(（ ")


def select(options: Sequence[Option], text: Optional[str], menu_id: Optional[str] = None) -> Optional[str]:
    """The payload the user picked, or None when the text is not a choice."""
    if menu_id and menu_id.isdigit() and 1 <= int(menu_id) <= len(options):
        return options[int(menu_id) - 1].payload
    if not text:
        return None
    answer = _normalise(text)
    if answer.isdigit():
        return options[int(answer) - 1].payload if 1 <= int(answer) <= len(options) else None
    for option in options:
        if answer in (_normalise(option.title), option.payload.casefold()):
            return option.payload
    return None


async def resolve(redis: aioredis.Redis, channel: str, user: str, text: Optional[str],
                  menu_id: Optional[str] = None) -> Optional[str]:
    if parse_menu_item_id(menu_id):
        return await resolve_menu_item(redis, channel, user, menu_id)
    raw = await redis.get(_key(channel, user))
    if not raw:
        return None
    return select([Option(t, p) for t, p in json.loads(raw)], text, menu_id)


_MENU_ITEM_ID = re.compile(r"^m([0-9a-f]{12})\.([0-9]{1,2})$")


def _menu_key(channel: str, token: str) -> str:
    return f"opt:menu:{channel}:{token}"


def parse_menu_item_id(menu_id: Optional[str]) -> Optional[Tuple[str, int]]:
    """(menu token, 1-based index) of an id made by `remember_menu`, else None."""
    match = _MENU_ITEM_ID.match(menu_id or "")
    return (match.group(1), int(match.group(2))) if match else None


async def remember_menu(redis: aioredis.Redis, channel: str, user: str, options: Sequence[Option]) -> List[str]:
    """Store one menu's options under a fresh token; returns the item ids to send, in order."""
    token = secrets.token_hex(6)
    data = json.dumps({"user": user, "options": [[o.title, o.payload] for o in options]}, ensure_ascii=False)
    await redis.set(_menu_key(channel, token), data, ex=ttl_s())
    return [f"m{token}.{n}" for n in range(1, len(options) + 1)]


async def resolve_menu_item(redis: aioredis.Redis, channel: str, user: str, menu_id: Optional[str]) -> Optional[str]:
    """The payload of the clicked item of that very menu; None if unknown, expired or another user's."""
    parsed = parse_menu_item_id(menu_id)
    if not parsed:
        return None
    raw = await redis.get(_menu_key(channel, parsed[0]))
    if not raw:
        return None
    data = json.loads(raw)
    items = data.get("options") or []
    if data.get("user") != user or not 1 <= parsed[1] <= len(items):
        return None
    return str(items[parsed[1] - 1][1])
