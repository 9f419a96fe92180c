"""The turn log (common/traffic_log.py) as the tracker store Rasa loads from endpoints.yml
writes it: each new user message once, masked, one round trip, never failing a save;
and the review search over it (real redis-server, Rasa's own tracker classes)."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, timedelta
from pathlib import Path

import os

import pytest
import redis.asyncio as aioredis
import yaml
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.redis_server import RedisServer, free_port
from bot.stack import redis_env
from bot.tracker_store import RedactingRedisTrackerStore
from common import traffic_log

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start(appendonly=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(ROOT / "domain.yml"))


def tracker_store_config() -> EndpointConfig:
    """endpoints.yml's tracker_store section, ${VAR}s expanded as Rasa does (only this
    section: other sections may name variables this test does not set)."""
    section = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))["tracker_store"]
    expanded = {k: os.path.expandvars(v) if isinstance(v, str) else v for k, v in section.items()}
    return EndpointConfig.from_dict(expanded)


@pytest.fixture
def store(redis_server, domain, monkeypatch):
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("ACTIONS_TOKEN", "test-actions-token")
    for name, value in redis_env(redis_server.url).items():
        monkeypatch.setenv(name, value)
    created = TrackerStore.create(tracker_store_config(), domain)
    created = getattr(created, "_tracker_store", created)
    assert isinstance(created, RedactingRedisTrackerStore)  # Rasa falls back to memory if it cannot load it
    created.red.flushdb()
    return created


def user(text, intent="greet", confidence=0.93, key=None, key_confidence=0.88, channel="rest"):
    parse = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}
    if key:
        retrieval = key.split("/")[0]
        parse["response_selector"] = {"all_retrieval_intents": ["faq", "chitchat"], retrieval: {
            "response": {"intent_response_key": key, "confidence": key_confidence}, "ranking": []}}
        parse["intent"]["full_retrieval_intent_name"] = key
    return UserUttered(text, parse["intent"], [], parse_data=parse, input_channel=channel)


def turn(tracker, text, action="utter_greet", **kwargs):
    tracker.update(user(text, **kwargs))
    tracker.update(ActionExecuted(action))
    tracker.update(BotUttered("好的"))
    tracker.update(ActionExecuted("action_listen"))


def turns(store):
    return [fields for _, fields in store.red.xrange(traffic_log.STREAM)]


def today_counters(store):
    return store.red.hgetall(traffic_log.day_key(traffic_log.today().isoformat()))


def test_each_new_user_message_is_recorded_once(store):
    async def scenario():
        tracker = await store.get_or_create_tracker("wechat_mp:o-alice")
        turn(tracker, "你好")
        turn(tracker, "包邮吗", action="utter_faq", intent="faq", key="faq/shipping_fee")
        await store.save(tracker)
        await store.save(tracker)  # Rasa saving the same tracker again
        again = await store.retrieve("wechat_mp:o-alice")
        await store.save(again)  # retrieved and saved unchanged
        turn(again, "谢谢", action="utter_thanks", intent="thanks")
        await store.save(again)  # the next turn: one more
        # a tracker built elsewhere (not retrieved) holding the stored turns: nothing new
        copy = DialogueStateTracker.from_dict("wechat_mp:o-alice", [e.as_dict() for e in again.events],
                                              store.domain.slots)
        await store.save(copy)

    asyncio.run(scenario())
    recorded = turns(store)
    assert [t["text"] for t in recorded] == ["你好", "包邮吗", "谢谢"]
    faq = recorded[1]
    assert (faq["sender"], faq["channel"], faq["intent"], faq["key"], faq["low"]) == \
        ("wechat_mp:o-alice", "wechat_mp", "faq", "faq/shipping_fee", "0")
    assert faq["action"] == "utter_faq" and float(faq["conf"]) == pytest.approx(0.93)
    counters = today_counters(store)
    assert counters["msg"] == "3" and counters["msg:wechat_mp"] == "3"
    assert counters["key:faq/shipping_fee"] == "1" and counters["intent:thanks"] == "1" and "low" not in counters
    assert store.red.pfcount(traffic_log.senders_key(traffic_log.today().isoformat())) == 1
    assert 0 < store.red.ttl(traffic_log.day_key(traffic_log.today().isoformat())) <= traffic_log.DAY_TTL_S


def test_a_save_with_nothing_new_costs_no_round_trip(store, monkeypatch):
    async def first():
        tracker = await store.get_or_create_tracker("web:s-quiet")
        turn(tracker, "你好")
        await store.save(tracker)
        return tracker

    tracker = asyncio.run(first())
    pipelines = []
    original = store.red.pipeline
    monkeypatch.setattr(store.red, "pipeline", lambda *a, **k: pipelines.append(1) or original(*a, **k))
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(asyncio.run(store.retrieve("web:s-quiet"))))
    assert pipelines == []
    tracker.update(ActionExecuted("action_listen"))  # events, but no user message
    asyncio.run(store.save(tracker))
    assert pipelines == []
    turn(tracker, "再见", intent="goodbye")
    asyncio.run(store.save(tracker))
    assert pipelines == [1]  # one pipeline for the new turn
    assert [t["channel"] for t in turns(store)] == ["web", "web"]


def test_the_recorded_text_is_masked(store):
    async def scenario():
        tracker = await store.get_or_create_tracker("wecom_kf:wm-bob")
        turn(tracker, "我的电话是13800138000，寄到北京市朝阳区望京SOHO塔3-1502", intent="nlu_fallback",
             confidence=0.55, action="action_faq_fallback")
        await store.save(tracker)

    asyncio.run(scenario())
    (recorded,) = turns(store)
    assert "13800138000" not in json.dumps(recorded, ensure_ascii=False) and "望京" not in recorded["text"]
    assert "138****8000" in recorded["text"] and recorded["text"].startswith("我的电话是")
    assert recorded["low"] == "1" and recorded["channel"] == "wecom_kf"
    counters = today_counters(store)
    assert counters["low"] == "1" and counters["low:wecom_kf"] == "1"


def test_low_confidence_and_core_fallback_count_as_low(store):
    async def scenario():
        tracker = await store.get_or_create_tracker("wechat_mp:o-low")
        turn(tracker, "嗯嗯", intent="affirm", confidence=0.31)
        turn(tracker, "啥", intent="greet", confidence=0.9, action="action_default_fallback")
        turn(tracker, "不知道问啥", intent="out_of_scope", confidence=0.99)
        turn(tracker, "你好呀", intent="greet", confidence=0.99)
        await store.save(tracker)

    asyncio.run(scenario())
    assert [t["low"] for t in turns(store)] == ["1", "1", "1", "0"]


def test_a_failing_turn_log_never_fails_the_save(store, caplog):
    store.red.set(traffic_log.STREAM, "not a stream")  # every XADD now fails (WRONGTYPE)

    async def scenario():
        tracker = await store.get_or_create_tracker("wechat_mp:o-carol")
        turn(tracker, "你好")
        with caplog.at_level(logging.WARNING, logger="bot.tracker_store"):
            await store.save(tracker)
        return await store.retrieve("wechat_mp:o-carol")

    saved = asyncio.run(scenario())
    assert [e.text for e in saved.events if isinstance(e, UserUttered)] == ["你好"]
    assert any("Turn log" in r.getMessage() for r in caplog.records)


def test_a_dead_turn_log_client_never_fails_the_save(store, monkeypatch):
    def down(*_args, **_kwargs):
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(traffic_log, "record_sync", down)

    async def scenario():
        tracker = await store.get_or_create_tracker("wechat_mp:o-dave")
        turn(tracker, "你好")
        await store.save(tracker)
        return await store.retrieve("wechat_mp:o-dave")

    assert len([e for e in asyncio.run(scenario()).events if isinstance(e, UserUttered)]) == 1


def test_external_events_and_empty_texts_are_not_customer_messages():
    assert traffic_log.turn("web:s", {"event": "user", "text": "EXTERNAL: reminder"}) is None
    assert traffic_log.turn("web:s", {"event": "user", "text": "  "}) is None
    assert traffic_log.turn("web:s", {"event": "bot", "text": "hi"}) is None
    assert traffic_log.channel_of("no-namespace", "socketio") == "socketio"
    assert traffic_log.channel_of("wechat_mp:o1", "rest") == "wechat_mp"
    assert traffic_log.channel_of("plain") == "rest"


# --- the review search --------------------------------------------------------------

def _record(text, sender="wechat_mp:o-1", intent="greet", confidence=0.9, key="", timestamp=0.0):
    event = {"event": "user", "text": text, "timestamp": timestamp,
             "parse_data": {"intent": {"name": intent, "confidence": confidence}}}
    if key:
        event["parse_data"]["intent"]["full_retrieval_intent_name"] = key
    return traffic_log.turn(sender, event, ["utter_x"])


def _run(url, body):
    async def main():
        client = aioredis.from_url(url, decode_responses=True)
        try:
            await client.flushdb()
            return await body(client)
        finally:
            await client.close()
    return asyncio.run(main())


def test_search_filters_by_text_intent_channel_day_and_low(redis_server):
    day1, day2 = date(2026, 3, 1), date(2026, 3, 2)

    async def body(client):
        rows = [(day1, _record("包邮吗", key="faq/shipping_fee", intent="faq")),
                (day1, _record("能顺丰吗", sender="wecom_kf:wm-2", key="faq/shipping_carrier", intent="faq")),
                (day2, _record("今天天气怎么样", sender="web:s-3", intent="nlu_fallback", confidence=0.55)),
                (day2, _record("包邮门槛多少", sender="web:s-3", key="faq/shipping_fee", intent="faq"))]
        for n, (day, record) in enumerate(rows):
            at_ms = traffic_log.day_start_ms(day.isoformat()) + 1000 + n
            record["ts"] = f"{at_ms / 1000:.3f}"
            await client.xadd(traffic_log.STREAM, record, id=f"{at_ms}-0")

        async def texts(**kw):
            return [t["text"] for t in (await traffic_log.search(client, **kw))["turns"]]

        assert await texts() == ["包邮门槛多少", "今天天气怎么样", "能顺丰吗", "包邮吗"]  # newest first
        assert await texts(q="包邮") == ["包邮门槛多少", "包邮吗"]
        assert await texts(intent="faq/shipping_fee") == ["包邮门槛多少", "包邮吗"]
        assert await texts(intent="nlu_fallback") == ["今天天气怎么样"]
        assert await texts(channel="wecom_kf") == ["能顺丰吗"]
        assert await texts(low=True) == ["今天天气怎么样"]
        assert await texts(day_from="2026-03-02") == ["包邮门槛多少", "今天天气怎么样"]
        assert await texts(day_to="2026-03-01") == ["能顺丰吗", "包邮吗"]
        assert await texts(day_from="2026-03-01", day_to="2026-03-01", q="顺丰") == ["能顺丰吗"]
        assert await texts(sender="web:s-3") == ["包邮门槛多少", "今天天气怎么样"]
        # paging: the cursor continues below the last turn shown
        first = await traffic_log.search(client, limit=3)
        assert len(first["turns"]) == 3 and first["next_before"] == first["turns"][-1]["id"]
        rest = await traffic_log.search(client, limit=3, before=first["next_before"])
        assert [t["text"] for t in rest["turns"]] == ["包邮吗"] and rest["next_before"] is None
        shown = first["turns"][1]
        assert shown["low"] is True and shown["confidence"] == pytest.approx(0.55)
        assert shown["time"].startswith("2026-03-02T00:00:01+08:00") and shown["actions"] == ["utter_x"]

    _run(redis_server.url, body)


def test_search_reads_a_bounded_range_and_hands_back_a_cursor(redis_server):
    async def body(client):
        pipe = client.pipeline(transaction=False)
        for n in range(250):
            pipe.xadd(traffic_log.STREAM, _record(f"消息{n}", intent="nlu_fallback" if n == 3 else "greet"),
                      id=f"{1_700_000_000_000 + n}-0")
        await pipe.execute()
        found = await traffic_log.search(client, low=True, budget=100)
        assert found["turns"] == [] and found["scanned"] == 100 and found["next_before"]
        hops = 1
        while found["next_before"] and not found["turns"]:
            found = await traffic_log.search(client, low=True, budget=100, before=found["next_before"])
            hops += 1
        assert [t["text"] for t in found["turns"]] == ["消息3"] and hops == 3

    _run(redis_server.url, body)


def test_forget_deletes_one_customers_turns(redis_server):
    async def body(client):
        for n, sender in enumerate(["wechat_mp:o-a", "wechat_mp:o-b", "wechat_mp:o-a"]):
            await client.xadd(traffic_log.STREAM, _record(f"m{n}", sender=sender))
        assert await traffic_log.forget(client, ["wechat_mp:o-a"]) == 2
        return [f["sender"] for _, f in await client.xrange(traffic_log.STREAM)]

    assert _run(redis_server.url, body) == ["wechat_mp:o-b"]


def test_days_reads_the_counters_in_one_round_trip(redis_server):
    async def body(client):
        record = _record("你好", timestamp=1_772_300_000.0)  # 2026-03-01 Shanghai
        await traffic_log.record(client, [record, _record("包邮吗", key="faq/shipping_fee", intent="faq",
                                                           sender="web:s-9", timestamp=1_772_300_100.0)])
        return await traffic_log.days(client, [record["day"], (date.fromisoformat(record["day"])
                                                               + timedelta(days=1)).isoformat()])

    first, second = _run(redis_server.url, body)
    assert first["counters"]["msg"] == 2 and first["counters"]["msg:web"] == 1 and first["senders"] == 2
    assert first["counters"]["key:faq/shipping_fee"] == 1
    assert second == {"day": second["day"], "counters": {}, "senders": 0}
