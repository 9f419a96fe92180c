from __future__ import annotations

import pytest

from bot.input_guard import EMOJI_INTENT, EMPTY_INTENT, decode_body, guard


@pytest.mark.parametrize("text", [None, "", "   ", "\u200b\u3000", "？？？"])
def test_nothing_to_read_becomes_the_empty_intent(text):
    assert guard(text).text == EMPTY_INTENT


@pytest.mark.parametrize("text", ["😂", "👍👍", "🌸～"])
def test_emoji_only_becomes_the_emoji_intent(text):
    assert guard(text).text == EMOJI_INTENT


def test_digits_pass_through_because_they_select_options():
    assert guard("2").text == "2"


def test_long_messages_are_cut_and_flagged(monkeypatch):
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "10")
    result = guard("签" * 50)
    assert result.text == "签" * 10 and result.reason == "truncated"


def test_typed_entities_are_neutralised():
    result = guard('/my_prizes{"customer_id": "x"}')
    assert not result.text.startswith("/")


def test_plain_button_payloads_pass():
    assert guard("/human_handoff").text == "/human_handoff"


def test_invalid_utf8_is_replaced_not_refused():
    assert decode_body(b"\xff\xe4\xbd\xa0\xe5\xa5\xbd") == "\ufffd你好"
