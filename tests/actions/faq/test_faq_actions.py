"""action_faq_fallback and action_faq_choice, as Rasa calls them."""
from __future__ import annotations

import json

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from common import inbox_store
from actions.faq.actions import ActionFaqChoice, ActionFaqFallback, choice_payload
from actions.faq.index import Hit
from actions.faq.matcher import fuse, reset_matcher
from actions.faq.settings import load_settings
from actions.services import store

pytestmark = pytest.mark.asyncio


def fallback_tracker(text: str, sender: str = "openid-bob", faq_ranking=None, intent: str = "nlu_fallback",
                     typed: str = "") -> Tracker:
    """`typed` is what the customer wrote when the NLU normalised it into `text`."""
    parse = {"intent": {"name": intent, "confidence": 0.3}, "entities": [], "text": text,
             "intent_ranking": [{"name": intent, "confidence": 0.3}]}
    if faq_ranking:
        parse["response_selector"] = {"faq": {"ranking": [
            {"intent_response_key": f"faq/{k}", "confidence": c} for k, c in faq_ranking]}}
    events = [{"event": "action", "name": "action_listen"},
              {"event": "user", "text": typed or text, "parse_data": parse, "input_channel": "wechat_mp", "metadata": {}}]
    return Tracker(sender, {}, parse, events, False, None, {}, "action_listen")


def choice_tracker(key: str) -> Tracker:
    parse = {"intent": {"name": "faq_choice", "confidence": 1.0}, "text": choice_payload(key),
             "entities": [{"entity": "faq_key", "value": key}]}
    return Tracker("openid-bob", {}, parse, [], False, None, {}, "action_listen")


DOMAIN = {"responses": {"utter_faq/shipping_fee": [{"text": "x"}], "utter_faq_no_match": [{"text": "y"}]}}


async def run_fallback(text, settings_env, monkeypatch, **kwargs):
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    dispatcher = CollectingDispatcher()
    events = await ActionFaqFallback().run(dispatcher, fallback_tracker(text, **kwargs), {})
    return dispatcher.messages, events


async def test_a_clear_paraphrase_is_answered_directly(redis, installed_matcher, monkeypatch):
    messages, _ = await run_fallback("买多少才不要邮费", {"FAQ_ANSWER_THRESHOLD": "0.5", "FAQ_ANSWER_MARGIN": "0"},
                                     monkeypatch)
    assert [m["response"] for m in messages] == ["utter_faq_matched", "utter_faq/shipping_fee"]
    assert "包邮" in messages[0]["question"]  # the consumer sees which question was answered


async def test_an_unsure_match_offers_three_guesses_and_a_human(redis, installed_matcher, monkeypatch):
    messages, _ = await run_fallback("买多少才不要邮费", {"FAQ_ANSWER_THRESHOLD": "1.1", "FAQ_SUGGEST_THRESHOLD": "-1"},
                                     monkeypatch)
    assert [m["response"] for m in messages] == ["utter_faq_suggest"]
    buttons = messages[0]["buttons"]
    assert len(buttons) == 4 and buttons[0]["payload"] == choice_payload("shipping_fee")
    assert buttons[0]["title"] == "运费多少？满多少包邮？"
    assert buttons[-1] == {"title": "转人工", "payload": "/human_handoff"}
    assert json.loads(buttons[1]["payload"][len("/faq_choice"):])["faq_key"] != "shipping_fee"


async def test_guesses_are_ranked_by_embeddings_words_and_classifier_together(redis, installed_matcher, monkeypatch):
    # the response selector's favourite is only the embeddings' second guess
    text = "买多少才不要邮费"
    every_key = len(installed_matcher.index.keys)
    semantic = installed_matcher.search_vector(installed_matcher.embed(text), every_key)
    classifier = [(semantic[1].key, 0.6), ("invoice", 0.2), (semantic[0].key, 0.1)]
    messages, _ = await run_fallback(text, {"FAQ_ANSWER_THRESHOLD": "1.1", "FAQ_SUGGEST_THRESHOLD": "-1"}, monkeypatch,
                                     faq_ranking=classifier)
    offered = [json.loads(b["payload"][len("/faq_choice"):])["faq_key"] for b in messages[0]["buttons"][:-1]]
    expected = fuse(semantic, [[Hit(k, c, "") for k, c in classifier], installed_matcher.lexical_ranking(text)],
                    load_settings().fusion_rrf_k)
    assert offered == [h.key for h in expected[:3]]
    assert semantic[1].key in offered and "invoice" not in offered  # one vote is not enough


async def test_no_match_is_honest_and_lands_in_the_inbox(redis, installed_matcher, monkeypatch):
    messages, _ = await run_fallback("帮我订一张去成都的机票", {}, monkeypatch, sender="openid-carol")
    assert [m["response"] for m in messages] == ["utter_faq_no_match"]
    groups = (await inbox_store.list_groups(redis))["groups"]
    assert groups[0]["label"] == "帮我订一张去成都的机票"
    sample = groups[0]["samples"][0]
    assert sample["outcome"] == "none" and sample["customer"]  # the resolved customer id


async def test_a_second_no_match_in_a_row_hands_the_customer_to_a_guide(redis, installed_matcher, fake_clock):
    first = fallback_tracker("帮我订一张去成都的机票", sender="wechat_mp:openid-dan")
    second = fallback_tracker("那帮我订酒店", sender="wechat_mp:openid-dan")
    second.events[:0] = first.events + [
        {"event": "bot", "text": "答不上", "metadata": {"utter_action": "utter_faq_no_match"}}]
    dispatcher = CollectingDispatcher()
    events = await ActionFaqFallback().run(dispatcher, second, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_assigned"]
    assert [e["event"] for e in events] == ["pause"]
    assert len((await inbox_store.list_groups(redis))["groups"]) == 1  # still recorded for ops


async def test_out_of_scope_gets_no_faq_guess_but_lands_in_the_inbox(redis, installed_matcher, monkeypatch):
    messages, _ = await run_fallback("推荐一部好看的电影", {"FAQ_SUGGEST_THRESHOLD": "-1"}, monkeypatch,
                                     intent="out_of_scope")
    assert [m["response"] for m in messages] == ["utter_out_of_scope"]
    recent = await inbox_store.recent_messages(redis)
    assert recent[0]["text"] == "推荐一部好看的电影" and recent[0]["outcome"] == "out_of_scope"


async def test_the_inbox_keeps_what_the_customer_typed_not_the_normalised_text(redis, installed_matcher, monkeypatch):
    # the NLU dropped the voice fillers and read the Cantonese; ops read the original
    await run_fallback("你们公司招不招兼职", {}, monkeypatch, intent="out_of_scope", typed="嗯那个你们公司招唔招兼职啊")
    recent = await inbox_store.recent_messages(redis)
    assert recent[0]["text"] == "嗯那个你们公司招唔招兼职啊"


async def test_every_fallback_is_recorded_even_when_answered(redis, installed_matcher, monkeypatch):
    await run_fallback("买多少才不要邮费", {"FAQ_ANSWER_THRESHOLD": "0.5", "FAQ_ANSWER_MARGIN": "0"}, monkeypatch)
    recent = await inbox_store.recent_messages(redis)
    assert recent[0]["outcome"] == "answer" and recent[0]["guesses"][0]["key"] == "shipping_fee"


async def test_without_the_model_the_classifier_guesses_are_offered(redis, monkeypatch, tmp_path):
    monkeypatch.setenv("FAQ_EMBEDDING_MODEL", str(tmp_path / "missing"))
    reset_matcher(None)
    try:
        messages, _ = await run_fallback("买多少才不要邮费", {}, monkeypatch,
                                         faq_ranking=[("shipping_fee", 0.4), ("coupon_usage", 0.3)])
    finally:
        reset_matcher(None)
    assert messages[0]["response"] == "utter_faq_suggest"
    assert messages[0]["buttons"][0]["payload"] == choice_payload("shipping_fee")


async def test_redis_down_gives_the_service_apology(installed_matcher, redis_server, monkeypatch):
    from bot.redis_server import free_port

    dead = store.make_client(f"redis://127.0.0.1:{free_port()}/0")
    store.use_client(dead)
    try:
        dispatcher = CollectingDispatcher()
        await ActionFaqFallback().run(dispatcher, fallback_tracker("你们卖猫粮吗"), {})
    finally:
        store.use_client(None)
    assert [m["response"] for m in dispatcher.messages] == ["utter_service_unavailable"]


async def test_choosing_a_guess_answers_that_faq():
    dispatcher = CollectingDispatcher()
    await ActionFaqChoice().run(dispatcher, choice_tracker("shipping_fee"), DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_faq/shipping_fee"]


async def test_an_unknown_choice_is_not_trusted():
    dispatcher = CollectingDispatcher()
    await ActionFaqChoice().run(dispatcher, choice_tracker("utter_greet"), DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_faq_no_match"]
