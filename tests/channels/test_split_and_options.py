"""Reply shaping a user sees: byte-limited parts on sentence boundaries, numbered options."""
from __future__ import annotations

from bot.wechat.outgoing import build_reply
from bot.wechat.split import split_text, utf8_len

SENTENCE_ENDS = ("。", "！", "？", "!", "?", "\n", "…")


def test_long_chinese_reply_with_emoji_splits_by_bytes_on_sentence_ends():
    text = "".join(f"第{i}条：敏感肌也能用，早晚各一次就好😊👩‍👩‍👧‍👦🇨🇳！还有问题吗？" for i in range(120))
    parts = split_text(text)
    assert len(parts) > 1
    assert all(utf8_len(p) <= 2048 for p in parts)
    assert "".join(parts) == text
    assert all(p.endswith(SENTENCE_ENDS) for p in parts[:-1])
    # No part starts inside an emoji sequence (ZWJ family, flags stay whole).
    assert all(not p.startswith(("\u200d", "\U0001f1f3")) for p in parts)


def test_one_sentence_longer_than_the_limit_is_cut_between_emoji_not_inside():
    text = "👨‍👩‍👧" * 400 + "🇨🇳" * 300
    parts = split_text(text)
    assert "".join(parts) == text and all(utf8_len(p) <= 2048 for p in parts)
    for part in parts:
        assert not part.startswith("\u200d") and not part.endswith("\u200d")
        flags = part.lstrip("👨‍👩‍👧")
        assert len(flags) % 2 == 0  # whole flags only


def test_buttons_become_numbered_options_after_the_text():
    reply = build_reply([{"text": "想做点什么？", "buttons": [
        {"title": "每日签到", "payload": "/checkin"}, {"title": "幸运抽奖", "payload": "/lottery"}]}])
    assert reply.text_with_options() == "想做点什么？\n\n1. 每日签到\n2. 幸运抽奖"
