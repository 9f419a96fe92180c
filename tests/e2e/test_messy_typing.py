"""How consumers really type, through the REST webhook on the real model: a voice
transcript, a typo'd check-in, a Cantonese request for a human, and a near-domain
request the bot must not answer (honest fallback, kept in the inbox as typed)."""
from __future__ import annotations

import secrets

import pytest

from common import inbox_store
from tests.e2e.test_faq import answers_of, every_faq_answer, inbox
from tests.e2e.trackers import tracker_events

HONEST_FALLBACK_MARKS = ("帮不上", "答不上来")


def test_a_voice_transcript_gets_the_faq_answer_and_the_transcript_keeps_it(chat, stack):
    # 公众号 Recognition text: no punctuation, fillers, a greeting run into the question
    spoken = "喂你好嗯那个我想问一下就是你们这个满多少包邮啊"
    assert chat.texts(spoken) in answers_of("shipping_fee")

    user = [e for e in tracker_events(stack, chat.sender) if e["event"] == "user"][-1]
    assert user["text"] == spoken                       # the transcript: as the customer said it
    assert "那个" not in user["parse_data"]["text"]    # the classifiers: without the fillers


def test_a_typod_check_in_checks_in(chat):
    reply = chat.texts("我要签导")  # pinyin input picked 导 for 到
    assert "连续签到 1 天" in reply


def test_a_cantonese_request_for_a_human_is_a_handoff(chat):
    reply = chat.texts("唔该揾个真人同我倾下")
    assert "导购" in reply and ("请到" in reply or "排第" in reply)


@pytest.mark.parametrize("question", ["嗯那个你们公司招不招兼职导购啊", "宝宝湿疹反反复复该去医院吗"])
def test_a_near_domain_request_gets_the_honest_fallback_and_reaches_the_inbox(make_chat, stack, question):
    chat = make_chat(stack.rasa_url, f"e2e-oos-{secrets.token_hex(4)}")
    reply = chat.texts(question, allow_apology=False)
    assert any(mark in reply for mark in HONEST_FALLBACK_MARKS), reply
    assert reply not in every_faq_answer()

    listing = inbox(stack, lambda c: inbox_store.list_groups(c, limit=500))
    samples = [s["text"] for g in listing["groups"] for s in g["samples"]]
    assert question in samples  # ops read what the customer wrote, fillers and all
