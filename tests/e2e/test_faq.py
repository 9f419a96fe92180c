"""FAQ through the REST webhook: answers, "猜你想问" selection by number and by
title, the honest fallback with a handoff offer, and the unanswered inbox."""
from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import List, Set

import pytest
import yaml

from common import inbox_store
from bot.persona import load_facts, load_persona, render_text

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text(encoding="utf-8"))["responses"]
# Vague or two-topic questions the classifier is unsure of (the FAQ gate or the
# fallback classifier routes them to action_faq_fallback).
UNSURE = ["积分和优惠券", "会员", "快递", "东西寄出来要等几天", "货什么时候到", "积分",
          "退货和发票", "会员积分优惠券", "运费和退款", "优惠券和包邮", "发票和快递", "积分 会员 券"]
UNRELATED = "鳄鱼咬人"


def answers_of(key: str) -> Set[str]:
    persona, facts = load_persona("qiqi"), load_facts()
    return {render_text(r["text"], persona, facts) for r in ANSWERS[f"utter_faq/{key}"]}


def every_faq_answer() -> Set[str]:
    return {a for key in ANSWERS if key.startswith("utter_faq/") for a in answers_of(key[len("utter_faq/"):])}


def faq_buttons(messages: List[dict]) -> List[dict]:
    return [b for m in messages for b in m.get("buttons") or [] if b["payload"].startswith("/faq_choice")]


def key_of(button: dict) -> str:
    return json.loads(button["payload"][len("/faq_choice"):])["faq_key"]


def inbox(stack, coroutine_factory):
    import redis.asyncio as aioredis

    async def run():
        client = aioredis.from_url(stack.redis_url, decode_responses=True)
        try:
            return await coroutine_factory(client)
        finally:
            await client.close()

    return asyncio.run(run())


@pytest.mark.parametrize("question", ["manduoshao baoyou", "滿多少包郵", "满多少包邮"])
def test_pinyin_and_traditional_characters_get_the_same_answer(chat, question):
    # consumers who skip the input method's candidates, or type 繁體
    assert chat.texts(question) in answers_of("shipping_fee")


@pytest.mark.parametrize("question, key, fact", [
    ("多久发货", "shipping_time", "ship_within_hours"),
    ("满多少包邮", "shipping_fee", "free_shipping_threshold"),
    ("退款多久能到账", "refund_time", "refund_arrival_days"),
    ("支持七天无理由退货吗", "return_policy", "return_window_days"),
])
def test_faq_questions_get_their_answer_with_brand_facts(chat, question, key, fact):
    reply = chat.texts(question)
    assert reply in answers_of(key)
    assert str(load_facts()[fact]) in reply


def _offer(chat_factory, stack) -> tuple:
    for text in UNSURE:
        chat = chat_factory(stack.rasa_url, f"e2e-faq-{secrets.token_hex(4)}")
        messages = chat.send(text)
        buttons = faq_buttons(messages)
        if buttons:
            return chat, messages, buttons
    pytest.fail(f"none of {UNSURE} was offered 猜你想问 options")


def test_unsure_question_offers_guesses_and_a_human(make_chat, stack):
    _, messages, buttons = _offer(make_chat, stack)
    assert 0 < len(buttons) <= 3
    all_buttons = [b for m in messages for b in m.get("buttons") or []]
    assert all_buttons[-1]["payload"] == "/human_handoff" and all_buttons[-1]["title"] == "转人工"
    assert "猜" in "".join(m.get("text", "") for m in messages)


def test_guess_selected_by_number(make_chat, stack):
    chat, _, buttons = _offer(make_chat, stack)
    choice = buttons[-1]  # the last FAQ option: proves the number is honoured
    reply = chat.texts(str(len(buttons)))
    assert reply in answers_of(key_of(choice))


def test_guess_selected_by_title(make_chat, stack):
    chat, _, buttons = _offer(make_chat, stack)
    reply = chat.texts(buttons[0]["title"])
    assert reply in answers_of(key_of(buttons[0]))


def test_unrelated_question_gets_honest_fallback(chat):
    messages = chat.send(UNRELATED)
    text = "".join(m.get("text", "") for m in messages)
    if "答不上来" in text:   # the FAQ matcher found nothing: it offers a human
        assert "转人工" in text
        assert [b["payload"] for m in messages for b in m.get("buttons") or []] == ["/human_handoff"]
    else:                    # recognised as out of scope: says what it can help with
        assert "帮不上" in text
    assert not faq_buttons(messages)
    assert text not in every_faq_answer()


def test_unanswered_questions_land_in_the_inbox_grouped(make_chat, stack):
    question = f"{UNRELATED}怎么办"
    for _ in range(2):
        make_chat(stack.rasa_url, f"e2e-inbox-{secrets.token_hex(4)}").send(question)

    listing = inbox(stack, lambda c: inbox_store.list_groups(c, limit=200))
    # one group holds both (it may be an open group of the same question asked earlier)
    group = next(g for g in listing["groups"] if question in [s["text"] for s in g["samples"]])
    asked = [s for s in group["samples"] if s["text"] == question]
    assert group["count"] >= 2 and len(asked) == 2
    assert len({s["customer"] for s in asked}) == 2  # two customers asked

    assert inbox(stack, lambda c: inbox_store.mark_handled(c, group["id"], by="e2e"))
    open_ids = [g["id"] for g in inbox(stack, lambda c: inbox_store.list_groups(c, limit=200))["groups"]]
    assert group["id"] not in open_ids


@pytest.fixture(scope="module")
def inbox_api(stack, tmp_path_factory):
    """The console's inbox blueprint on its own Sanic app (the console registers the same)."""
    import subprocess
    import sys

    from bot.redis_server import free_port
    from bot.stack import wait_http

    port = free_port()
    code = (
        "from sanic import Sanic\n"
        "from bot.console.inbox_api import inbox_blueprint\n"
        "app = Sanic('inbox_api_test')\n"
        "app.blueprint(inbox_blueprint())\n"
        f"app.run(host='127.0.0.1', port={port}, access_log=False)\n"
    )
    log = open(tmp_path_factory.mktemp("inbox-api") / "api.log", "wb")
    env = {**stack.env(), "CONSOLE_OPS_TOKEN": "ops-secret"}
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/inbox/groups", 60, process)
        yield f"http://127.0.0.1:{port}/api/inbox"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_ops_list_and_close_inbox_groups_over_http(make_chat, stack, inbox_api):
    import requests

    question = UNRELATED
    make_chat(stack.rasa_url, f"e2e-api-{secrets.token_hex(4)}").send(question)
    auth = {"Authorization": "Bearer ops-secret"}

    assert requests.get(f"{inbox_api}/groups", timeout=10).status_code == 401
    listing = requests.get(f"{inbox_api}/groups", params={"limit": 200}, headers=auth, timeout=10).json()
    # it joins an open group of similar questions (or starts one)
    group = next(g for g in listing["groups"] if question in [s["text"] for s in g["samples"]])
    assert group["count"] >= 1 and UNRELATED in group["label"]

    closed = requests.post(f"{inbox_api}/groups/{group['id']}/handled", json={"by": "amy", "note": "FAQ added"},
                           headers=auth, timeout=10)
    assert closed.status_code == 200 and closed.json()["status"] == "handled"
    handled = requests.get(f"{inbox_api}/groups", params={"status": "handled"}, headers=auth, timeout=10).json()
    assert group["id"] in [g["id"] for g in handled["groups"]]
    assert requests.post(f"{inbox_api}/groups/999999/handled", json={}, headers=auth, timeout=10).status_code == 404
