"""Selecting one of the options the bot offered: by number, title or payload."""
from __future__ import annotations

from bot.channels.options import Option, last_options, render_numbered, select

OFFERED = [
    Option("包邮门槛是多少", '/faq_choice{"faq_key": "shipping_fee"}'),
    Option("转人工", "/human_handoff"),
]


def test_number_title_and_payload_select_the_option():
    assert select(OFFERED, "2") == "/human_handoff"
    assert select(OFFERED, "２") == "/human_handoff"  # full-width digit from a Chinese keyboard
    assert select(OFFERED, "（1）") == OFFERED[0].payload
    assert select(OFFERED, " 转人工 ") == "/human_handoff"
    assert select(OFFERED, "/human_handoff") == "/human_handoff"
    assert select(OFFERED, None, menu_id="1") == OFFERED[0].payload


def test_other_text_and_out_of_range_numbers_select_nothing():
    assert select(OFFERED, "3") is None
    assert select(OFFERED, "包邮吗") is None


def test_options_render_as_numbered_lines():
    assert render_numbered(OFFERED) == "1. 包邮门槛是多少\n2. 转人工"


def test_the_last_message_with_buttons_defines_the_options():
    messages = [{"text": "a", "buttons": [{"title": "x", "payload": "/x"}]}, {"text": "b"}]
    assert last_options(messages) == [Option("x", "/x")]
