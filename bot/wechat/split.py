"""Split a reply into parts of at most N UTF-8 bytes (WeChat counts bytes).

Cuts fall after sentence ends (。！？!?\\n…, with any closing quotes), so
each part reads whole; a single sentence longer than the limit is cut between
grapheme clusters, never inside an emoji sequence. Joining the parts gives
back the original text exactly.
"""
from __future__ import annotations

import re
import unicodedata
from typing import List

TEXT_LIMIT_BYTES = 2048

_SENTENCE = re.compile(r"[^。！？!?\n…]*[。！？!?\n…]+[”’\"'」』）)】]*|[^。！？!?\n…]+$", re.S)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _joins_previous(ch: str) -> bool:
    """Code points that belong to the preceding cluster: a cut must not go before them."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or cp == 0x200D  # zero-width joiner (family / profession emoji)
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors (emoji presentation)
        or 0x1F3FB <= cp <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
    )


def _after_zwj(text: str, index: int) -> bool:
    return index > 0 and text[index - 1] == "\u200d"


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _inside_flag(text: str, index: int) -> bool:
    """A flag is a pair of regional indicators: odd run before `index` = mid-flag."""
    if not _is_regional(text[index]):
        return False
    run = 0
    while index - run - 1 >= 0 and _is_regional(text[index - run - 1]):
        run += 1
    return run % 2 == 1


def _hard_split(text: str, limit: int) -> List[str]:
    parts: List[str] = []
    start = 0
    while start < len(text):
        end, size = start, 0
        while end < len(text) and size + utf8_len(text[end]) <= limit:
            size += utf8_len(text[end])
            end += 1
        if end < len(text):
            cut = end
            # Step back to a cluster boundary; keep regional-indicator pairs (flags) together.
            while cut > start + 1 and (_joins_previous(text[cut]) or _after_zwj(text, cut) or _inside_flag(text, cut)):
                cut -= 1
            end = cut if cut > start else end
        parts.append(text[start:end])
        start = end
    return parts


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> List[str]:
    if utf8_len(text) <= limit:
        return [text] if text else []
    parts: List[str] = []
    current = ""
    for sentence in _SENTENCE.findall(text):
        if utf8_len(current) + utf8_len(sentence) <= limit:
            current += sentence
            continue
        if current:
            parts.append(current)
            current = ""
        if utf8_len(sentence) <= limit:
            current = sentence
        else:
            pieces = _hard_split(sentence, limit)
            parts.extend(pieces[:-1])
            current = pieces[-1]
    if current:
        parts.append(current)
    return parts
