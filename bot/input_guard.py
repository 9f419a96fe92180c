"""Normalise what a consumer sends before Rasa sees it.

Every channel passes user text through `guard()`: empty, whitespace-only and
emoji/punctuation-only messages become internal intents with a persona reply
(`/input_empty`, `/input_emoji`), over-long messages are cut, and Rasa's
`/intent{"entity": …}` syntax is accepted only as a plain button payload
(`/human_handoff`): a consumer cannot set entities or slots by typing it, and
Rasa's own intents (`/restart`…) are never accepted.
"""
from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

logger = logging.getLogger(__name__)

EMPTY_INTENT = "/input_empty"
EMOJI_INTENT = "/input_emoji"
_BUTTON_PAYLOAD = re.compile(r"^/[a-z_]+$")
# Rasa's own intents: `/restart` would wipe the conversation and bypass a guide's pause.
_RESERVED_PAYLOADS = {"/restart", "/session_start", "/back", "/nlu_fallback", "/out_of_scope",
                      "/contact_added"}  # the wecom channel's 锁客 event, never a consumer's
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u3000"}


def max_chars() -> int:
    return int(os.environ.get("MAX_MESSAGE_CHARS", "500"))


@dataclass(frozen=True)
class Guarded:
    text: str  # what goes to Rasa
    reason: Optional[str] = None  # why it was changed, for the log line


def _has_word_character(text: str) -> bool:
    # Letters (incl. CJK ideographs) or digits carry meaning; symbols, emoji,
    # punctuation and modifiers alone do not.
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


def _has_emoji(text: str) -> bool:
    return any(unicodedata.category(ch) == "So" or ord(ch) >= 0x1F000 for ch in text)


def guard(text: Optional[str]) -> Guarded:
    if not isinstance(text, str):
        return Guarded(EMPTY_INTENT, "missing")
    cleaned = "".join(" " if ch in _INVISIBLE else ch for ch in text).strip()
    if not cleaned:
        return Guarded(EMPTY_INTENT, "empty")
    if not _has_word_character(cleaned):
        return Guarded(EMOJI_INTENT if _has_emoji(cleaned) else EMPTY_INTENT, "no_words")
    reason = None
    if _BUTTON_PAYLOAD.match(cleaned) and cleaned not in _RESERVED_PAYLOADS:
        return Guarded(cleaned)
    if cleaned.startswith("/"):
        cleaned = cleaned.lstrip("/").strip() or EMPTY_INTENT
        reason = "slash_stripped"
    limit = max_chars()
    if len(cleaned) > limit:
        cleaned = cleaned[:limit]
        reason = "truncated"
    return Guarded(cleaned, reason)


def decode_body(raw: bytes) -> str:
    """Decode a request body; invalid UTF-8 is replaced, not refused."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        logger.warning("Request body is not valid UTF-8 (%d bytes); replacing bad bytes.", len(raw))
        return raw.decode("utf-8", errors="replace")
