"""Turn what Rasa collected into what a WeChat channel sends.

Texts are joined into one reply (公众号 allows only a few 客服 messages per
user message, so fewer, longer messages are better) and then split at 2048
bytes; the last message's buttons become numbered options.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence

from bot.channels.options import Option, from_buttons, render_numbered
from bot.wechat.split import TEXT_LIMIT_BYTES, split_text

logger = logging.getLogger(__name__)


@dataclass
class Reply:
    body: str = ""  # the bot's text (images/attachments as links), without options
    options: List[Option] = field(default_factory=list)

    def text_with_options(self) -> str:
        numbered = render_numbered(self.options)
        return "\n\n".join(p for p in (self.body, numbered) if p)

    def parts(self, limit: int = TEXT_LIMIT_BYTES) -> List[str]:
        return split_text(self.text_with_options(), limit)


def build_reply(messages: Sequence[Dict[str, Any]]) -> Reply:
    chunks: List[str] = []
    options: List[Option] = []
    for message in messages:
        if message.get("text"):
            chunks.append(str(message["text"]).strip())
        for key in ("image", "attachment"):
            if message.get(key):
                chunks.append(str(message[key]))
        if message.get("custom"):
            logger.debug("Custom payload not renderable on WeChat text channels; skipped.")
        if message.get("buttons"):
            options = from_buttons(message["buttons"])  # the latest buttons win
    return Reply("\n\n".join(c for c in chunks if c), options)
