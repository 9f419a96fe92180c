"""The tracker store Rasa loads from endpoints.yml writes no raw phone number,
address or name to Redis (real redis-server, Rasa's own tracker classes)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, ConversationPaused, SlotSet, UserUttered
from rasa.utils.endpoints import read_endpoint_config

from bot.redis_server import RedisServer, free_port
from bot.stack import redis_env
from bot.tracker_store import RedactingRedisTrackerStore, redact_events

ROOT = Path(__file__).resolve().parents[2]
FORM = "prize_address_form"
RAW = ["13800138000", "0013", "文三路", "100号", "王小明"]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start(appendonly=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def store(redis_server, domain, monkeypatch):
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("ACTIONS_TOKEN", "test-actions-token")  # endpoints.yml sends it to the action server
    monkeypatch.setenv("MODEL_SERVER_URL", "http://127.0.0.1:1/models/production")  # endpoints.yml `models`
    monkeypatch.setenv("MODEL_SERVER_TOKEN", "test-model-server-token")
    for name, value in redis_env(redis_server.url).items():
        monkeypatch.setenv(name, value)
    created = TrackerStore.create(read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store"), domain)
    created.red.flushdb()
    return created


def _user(text, intent="nlu_fallback", entities=None):
    return UserUttered(text, {"name": intent, "confidence": 0.9}, entities or [],
                       parse_data={"text": text, "intent": {"name": intent, "confidence": 0.9},
                                   "entities": entities or []})


def _form_turns(tracker):
    """The prize form as Rasa records it: question, answer, extracted slot."""
    tracker.update(ActiveLoop(FORM))
    for slot, typed, value in [
        ("recipient_name", "王小明", "王小明"),
        ("recipient_phone", "手机 138-0013-8000", "13800138000"),
        ("address_province", "浙江省杭州市西湖区文三路100号", "浙江省"),
    ]:
        tracker.update(SlotSet("requested_slot", slot))
        tracker.update(BotUttered(f"请发{slot}"))
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(_user(typed, entities=[{"entity": "x", "value": typed, "start": 0, "end": len(typed)}]))
        tracker.update(SlotSet(slot, value))
    tracker.update(SlotSet("address_detail", "西湖区文三路100号"))
    tracker.update(BotUttered("收到 王小明（138****8000），地址：浙江省杭州市西湖区文三路100号"))


def test_endpoints_yml_loads_the_redacting_store(store):
    # Rasa falls back to an in-memory store when a custom type cannot be imported
    inner = getattr(store, "_tracker_store", store)
    assert isinstance(inner, RedactingRedisTrackerStore)


def test_stored_tracker_has_no_raw_personal_data_but_keeps_the_conversation(store, domain):
    async def scenario():
        tracker = await store.get_or_create_tracker("wechat_mp:o-alice")
        tracker.update(_user("我的奖品", intent="my_prizes"))
        _form_turns(tracker)
        await store.save(tracker)
        # Rasa saves again after the next turn (merge with the stored tracker)
        again = await store.retrieve("wechat_mp:o-alice")
        again.update(ActiveLoop(None))  # the form is done
        again.update(_user("谢谢", intent="thanks"))
        await store.save(again)
        return await store.retrieve("wechat_mp:o-alice")

    final = asyncio.run(scenario())
    # Rasa writes \uXXXX escapes: scan the decoded text, or Chinese would never match
    events = json.loads(store.red.get("rasa:tracker:wechat_mp:o-alice"))["events"]
    for event in events:  # a timestamp like 1796146458.9800138 holds "0013" too
        event.pop("timestamp", None)
    raw_json = json.dumps(events, ensure_ascii=False)
    for fragment in RAW:
        assert fragment not in raw_json, fragment
    assert "我的奖品" in raw_json and "浙江省杭州市西湖区" in raw_json  # what is not personal stays
    assert final.get_slot("recipient_phone") == "138****8000"
    assert final.get_slot("address_detail") == "西湖区***"
    assert final.get_slot("recipient_name") == "王**"
    texts = [e.text for e in final.events if isinstance(e, UserUttered)]
    assert texts.count("谢谢") == 1 and len(texts) == 5  # the merge duplicated nothing
    assert store.red.ttl("rasa:tracker:wechat_mp:o-alice") > 0  # record_exp kept


def test_an_answer_to_a_personal_question_is_masked_whatever_it_looks_like():
    events = [
        {"event": "active_loop", "name": FORM},
        {"event": "slot", "name": "requested_slot", "value": "recipient_phone"},
        {"event": "user", "text": "一三八零零一三八零零零", "parse_data": {"text": "一三八零零一三八零零零", "entities": []}},
        {"event": "slot", "name": "requested_slot", "value": "recipient_name"},
        {"event": "user", "text": "欧阳娜娜", "parse_data": {"text": "欧阳娜娜"}},
        {"event": "slot", "name": "recipient_name", "value": "欧阳娜娜"},
        {"event": "bot", "text": "好的欧阳娜娜"},
        {"event": "active_loop", "name": None},
        {"event": "user", "text": "欧阳娜娜是谁", "parse_data": {"text": "欧阳娜娜是谁"}},
    ]
    dumped = json.dumps(redact_events(events), ensure_ascii=False)
    assert "一三八" not in dumped and "欧阳娜娜" not in dumped
    assert "欧***是谁" in dumped  # after the form, the name is still replaced where it is echoed


def test_redaction_is_idempotent():
    events = [{"event": "user", "text": "寄到北京市朝阳区望京SOHO塔3-1502 电话13912345678",
               "parse_data": {"text": "x"}}, {"event": "slot", "name": "recipient_phone", "value": "13912345678"}]
    once = redact_events(events)
    assert redact_events(once) == once
    assert once[0]["text"] == "寄到北京市朝阳区*** 电话139****5678"


def _faq_turn(tracker, text):
    tracker.update(_user(text, intent="faq"))
    tracker.update(ActionExecuted("utter_faq"))
    tracker.update(BotUttered(f"答：{text}"))
    tracker.update(ActionExecuted("action_listen"))


def _long_conversation(store, sender, opening):
    async def scenario():
        tracker = await store.get_or_create_tracker(sender)
        for event in opening:
            tracker.update(event)
        tracker.update(ActionExecuted("action_listen"))
        for turn in range(120):
            _faq_turn(tracker, f"第{turn}个问题")
            await store.save(tracker)
            tracker = await store.retrieve(sender)
        return tracker

    tracker = asyncio.run(scenario())
    stored = json.loads(store.red.get(store.key_prefix + sender))["events"]
    assert len(stored) <= store.max_events
    assert tracker.latest_action_name == "action_listen"
    return tracker


def test_a_long_conversation_is_stored_bounded_and_keeps_its_state(store, domain):
    """Turn 200 must cost what turn 1 costs: the stored tracker stays bounded,
    and what the dropped turns left (slots) is still there."""
    tracker = _long_conversation(store, "wechat_mp:o-long", [SlotSet("prize_pending", True),
                                                             SlotSet("claim_id", "claim-42")])
    assert tracker.get_slot("prize_pending") is True and tracker.get_slot("claim_id") == "claim-42"
    texts = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert texts[-1] == "第119个问题" and "第0个问题" not in texts  # the latest turns, in order
    assert texts == sorted(texts, key=lambda t: int(t[1:-3]))


def test_a_paused_conversation_stays_paused_when_old_turns_are_dropped(store, domain):
    """A guide's handoff pauses the bot; dropping old turns must not wake it."""
    tracker = _long_conversation(store, "wechat_mp:o-paused", [ConversationPaused()])
    assert tracker.is_paused()


def test_a_form_open_when_old_turns_are_dropped_stays_open(store, domain):
    tracker = _long_conversation(store, "wechat_mp:o-form", [ActiveLoop(FORM), SlotSet("requested_slot", "recipient_name")])
    assert tracker.active_loop_name == FORM and tracker.get_slot("requested_slot") == "recipient_name"


def test_a_short_conversation_is_stored_unchanged(store, domain):
    async def scenario():
        tracker = await store.get_or_create_tracker("wechat_mp:o-short")
        for turn in range(5):
            _faq_turn(tracker, f"问题{turn}")
        await store.save(tracker)
        return tracker

    tracker = asyncio.run(scenario())
    stored = json.loads(store.red.get(store.key_prefix + "wechat_mp:o-short"))["events"]
    assert [e["event"] for e in stored] == [e.as_dict()["event"] for e in tracker.events]


def test_saving_the_latest_session_keeps_the_earlier_ones(store, domain):
    """Rasa hands back only the latest session; a save must not drop the others."""
    from rasa.shared.core.events import SessionStarted

    async def scenario():
        tracker = await store.get_or_create_tracker("wechat_mp:o-sessions")
        _faq_turn(tracker, "昨天的问题")
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(SessionStarted())
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
        latest = await store.retrieve("wechat_mp:o-sessions")
        assert "昨天的问题" not in [e.text for e in latest.events if isinstance(e, UserUttered)]
        _faq_turn(latest, "今天的问题")
        await store.save(latest)

    asyncio.run(scenario())
    stored = json.loads(store.red.get(store.key_prefix + "wechat_mp:o-sessions"))["events"]
    assert [e["text"] for e in stored if e["event"] == "user"] == ["昨天的问题", "今天的问题"]
