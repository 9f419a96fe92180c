"""Persona rendering: the same response text in two voices, facts from one file."""
from __future__ import annotations

import random

import pytest

from bot.console.brand_data import SYSTEM_TEXT_VALUES
from bot.persona import PersonaNotFound, available_personas, load_facts, load_persona, render_text, system_text


def test_both_shipped_personas_load():
    assert {"qiqi", "xiaowanzi"} <= set(available_personas())
    assert load_persona("qiqi").name == "七七"
    assert load_persona("xiaowanzi").name == "小完子"


def test_unknown_persona_is_a_clear_error():
    with pytest.raises(PersonaNotFound, match="available"):
        load_persona("nobody")


def test_same_text_two_voices():
    text = "你好{you}，我是{brand}的{persona}{emoji_wave}"
    facts = load_facts()
    qiqi = render_text(text, load_persona("qiqi"), facts)
    wanzi = render_text(text, load_persona("xiaowanzi"), facts)
    assert qiqi == "你好你，我是青禾的七七"
    assert wanzi == "你好宝子，我是青禾的小完子👋"


def test_brand_facts_come_from_the_facts_file():
    facts = {"brand_name": "青禾", "free_shipping_threshold": 129}
    rendered = render_text("满{fact:free_shipping_threshold}元包邮", load_persona("qiqi"), facts)
    assert rendered == "满129元包邮"


def test_missing_fact_stays_visible_instead_of_printing_nothing():
    assert render_text("满{fact:nope}元", load_persona("qiqi"), {}) == "满{fact:nope}元"


def test_slot_placeholders_are_left_for_rasa():
    assert render_text("连续{streak}天", load_persona("qiqi"), {}) == "连续{streak}天"


def test_calm_persona_softens_exclamations():
    assert render_text("签到成功！", load_persona("qiqi"), {}) == "签到成功～"
    assert render_text("签到成功！", load_persona("xiaowanzi"), {}) == "签到成功！"


def test_signature_is_one_of_the_personas_phrases():
    persona = load_persona("xiaowanzi")
    assert render_text("{signature}", persona, {}, random.Random(1)) in persona.signature_phrases


def test_a_missing_emoji_leaves_no_stray_space():
    text = "真的很抱歉{emoji_sorry} 你的反馈已记下。收到啦！{emoji_love} 下次见"
    qiqi = render_text(text, load_persona("qiqi"), {})
    wanzi = render_text(text, load_persona("xiaowanzi"), {})
    assert qiqi == "真的很抱歉，你的反馈已记下。收到啦！下次见"
    assert wanzi == "真的很抱歉🥺 你的反馈已记下。收到啦！💖 下次见"


@pytest.mark.parametrize("persona_id", available_personas())
def test_every_persona_says_every_system_text_in_her_own_voice(persona_id):
    reference = set(load_persona("qiqi").system_texts)
    persona = load_persona(persona_id)
    assert reference and set(persona.system_texts) == reference
    for key in reference:
        # the values the handoff and outbound workers fill
        values = {name: "样例" for name in SYSTEM_TEXT_VALUES.get(key, ())}
        text = system_text(key, persona, **values)
        assert "{" not in text, (key, text)  # every placeholder filled
    assert system_text("service_apology", load_persona("qiqi")) != system_text("service_apology", load_persona("xiaowanzi"))
