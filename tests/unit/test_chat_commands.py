"""Codes and fixed requests the channels turn into intents (common/chat_commands.py)."""
from __future__ import annotations

import json

import pytest

from bot.input_guard import guard
from common.chat_commands import scene_text, typed


def parsed(message: str):
    name, _, entities = message[1:].partition("{")
    return name, json.loads("{" + entities) if entities else {}


@pytest.mark.parametrize("text", ["兑换 ABCD2345", "兑换码：abcd2345", "兑换ABCD2345", " 领奖 ABCD2345。"])
def test_a_typed_card_code_is_a_redemption_in_upper_case(text):
    assert parsed(typed(text)) == ("redeem_code", {"code": "ABCD2345"})


def test_invite_codes_my_invites_and_restock_requests():
    assert parsed(typed("邀请码 k7m2qp")) == ("use_invite", {"code": "K7M2QP"})
    assert parsed(typed("我的邀请")) == ("my_invites", {})
    assert parsed(typed("邀请好友")) == ("my_invites", {})
    assert parsed(typed("小绿瓶到货通知我")) == ("restock_notify", {"query": "小绿瓶到货通知我"})
    assert parsed(typed("有货了提醒我一下")) == ("restock_notify", {"query": "有货了提醒我一下"})
    assert parsed(typed("我要参加28天焕肤营")) == ("join_camp", {})
    assert parsed(typed("报名训练营")) == ("join_camp", {})


@pytest.mark.parametrize("text", ["兑换码怎么用", "我想兑换积分", "邀请码在哪里看", "什么时候到货", "兑换 AB", "", None, "营养", "训练营有什么",
                                  "兑换 " + "A" * 30])
def test_ordinary_questions_stay_ordinary(text):
    assert typed(text) is None


def test_scenes_with_a_card_code_read_as_typed_and_others_greet():
    assert scene_text("pkg_ABCD2345") == "兑换 ABCD2345"
    assert parsed(typed(scene_text("pkg_ABCD2345"))) == ("redeem_code", {"code": "ABCD2345"})
    assert scene_text("ref_K7M2QP") is None and scene_text("store_sh01") is None and scene_text("pkg_") is None
    assert scene_text('pkg_A"}{') is None  # nothing but a code gets into the entity


def test_a_consumer_cannot_type_the_intent_message_itself():
    assert guard('/redeem_code{"code": "ABCD2345"}').text != '/redeem_code{"code": "ABCD2345"}'
