"""A consumer's first conversation, through the real Rasa server and action server."""
from __future__ import annotations

import requests


def test_greeting_comes_from_the_persona(chat):
    reply = chat.texts("你好")
    assert "七七" in reply


def test_bot_challenge_is_answered_honestly(chat):
    reply = chat.texts("你是机器人吗")
    assert "智能助手" in reply
    assert "转人工" in reply  # tells how to reach a human


def test_unrelated_request_gets_an_honest_fallback(chat):
    reply = chat.texts("帮我订一张明天去北京的机票")
    assert reply, "the consumer must never get silence"
    assert "七七" in reply
    assert ("转人工" in reply) or ("帮不上" in reply)


def test_faq_question_is_answered_with_brand_facts(chat, stack):
    reply = chat.texts("买多少钱包邮呀")
    assert "99" in reply  # from data/brand/facts.yml, not written in the answer
    assert "{fact:" not in reply


def test_capability_intents_reach_the_action_server(chat):
    reply = chat.texts("我要签到")
    assert "连续签到 1 天" in reply  # the check-in action ran, not the outage apology


def test_model_parse_requires_the_token_and_returns_contract_intents(stack):
    url = f"{stack.rasa_url}/model/parse"
    assert requests.post(url, json={"text": "我要签到"}, timeout=10).status_code == 401
    parsed = requests.post(url, params={"token": stack.rasa_token}, json={"text": "帮我签个到"}, timeout=10).json()
    assert parsed["intent"]["name"] == "checkin"
