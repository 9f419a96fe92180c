"""action_human_handoff and action_complain, as Rasa calls them: what the persona promises
is what the routing step did (guide named and paused, or a queue place, or when guides
are back), and a complaint is on record for ops."""
from __future__ import annotations

import json

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import customer_context
from actions.handoff import COMPLAINTS, ActionComplain, ActionHumanHandoff, failed_last_time
from actions.services import store, tags
from common import handoff_routing as routing
from marketing_support import WECHAT_ALICE, kwargs_of, make_tracker, responses

pytestmark = pytest.mark.asyncio


async def hand_off(tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionHumanHandoff().run(dispatcher, tracker, {})
    return dispatcher, events


def asks(sender: str = WECHAT_ALICE, message_id=None):
    return make_tracker(sender_id=sender, intent="human_handoff", text="转人工", message_id=message_id)


async def test_an_available_guide_is_named_the_bot_pauses_and_the_guide_is_owed_a_notice(redis, fake_clock, catalog):
    ask = asks()
    ctx = await customer_context(ask)
    await tags.change(redis, catalog, ctx.cid, add=["skin:dry"], by="test", reason="test", now=fake_clock.now)
    said, events = await hand_off(ask)
    assert responses(said) == ["utter_handoff_assigned"]
    assert kwargs_of(said, "utter_handoff_assigned")["guide"] == "林导购"  # Monday 12:00: lin is first free
    assert kwargs_of(said, "utter_handoff_assigned")["minutes"] == "5"
    assert [e["event"] for e in events] == ["pause"]
    request_id = await redis.get(routing.open_key(ctx.cid))
    held = await redis.hgetall(routing.request_key(request_id))
    assert (held["status"], held["guide"], held["sender"], held["reason"]) == \
        ("assigned", "guide-lin", WECHAT_ALICE, "asked")
    assert tags.display(catalog, "skin:dry") in json.loads(held["context"])["tags"]
    assert await redis.get(routing.held_key(WECHAT_ALICE)) == request_id
    assert await redis.zrange(routing.OUTBOX, 0, -1) == [f"notify:{request_id}"]
    assert await redis.hget(routing.profile_key(ctx.cid), "guide") == "guide-lin"  # 锁客: her guide from now on


async def test_asking_again_finds_the_same_request_and_assigns_nobody_twice(redis, fake_clock):
    first, _ = await hand_off(asks(message_id="m1"))
    again, events = await hand_off(asks(message_id="m1"))  # Rasa retried the call
    assert kwargs_of(again, "utter_handoff_assigned")["guide"] == kwargs_of(first, "utter_handoff_assigned")["guide"]
    assert [e["event"] for e in events] == ["pause"]
    assert await redis.get(routing.REQUEST_SEQ) == "1"
    assert await redis.hget(routing.LOAD, "guide-lin") == "1"


async def test_outside_working_hours_the_persona_says_when_guides_are_back_and_keeps_the_place(redis, fake_clock):
    fake_clock.set_local("2026-12-05T09:00:00")  # Saturday: lin and chen from 10:00, wang off
    said, events = await hand_off(asks())
    assert responses(said) == ["utter_handoff_after_hours"]
    assert kwargs_of(said, "utter_handoff_after_hours")["hours"] == "今天 10:00 上班"
    assert kwargs_of(said, "utter_handoff_after_hours")["position"] == "1"
    assert events == []  # nobody holds the conversation: the bot keeps answering
    fake_clock.set_local("2026-12-05T23:00:00")
    said, _ = await hand_off(asks("wechat_mp:openid-late"))
    assert kwargs_of(said, "utter_handoff_after_hours")["hours"] == "明天 10:00 上班"
    assert kwargs_of(said, "utter_handoff_after_hours")["position"] == "2"


async def test_when_every_guide_is_busy_the_customer_learns_their_place_and_can_ask_again(redis, fake_clock):
    for guide in ("guide-lin", "guide-chen", "guide-wang"):
        await redis.hset(routing.LOAD, guide, 5)  # all at capacity
    await hand_off(asks("wechat_mp:openid-first"))
    said, events = await hand_off(asks())
    assert responses(said) == ["utter_handoff_queued"]
    assert (kwargs_of(said, "utter_handoff_queued")["position"], kwargs_of(said, "utter_handoff_queued")["ahead"]) == \
        ("2", "1")
    assert events == []
    await redis.zrem(routing.QUEUE, "1")  # the first one was taken
    asked_again, _ = await hand_off(make_tracker(sender_id=WECHAT_ALICE, intent="human_handoff", text="我前面还有几位"))
    assert kwargs_of(asked_again, "utter_handoff_queued")["ahead"] == "0"


async def test_no_guides_at_all_is_said_honestly(redis, fake_clock, tmp_path, monkeypatch):
    empty = tmp_path / "guides.yml"
    empty.write_text("timezone: Asia/Shanghai\nguides: []\n", encoding="utf-8")
    monkeypatch.setenv("HANDOFF_ROSTER_FILE", str(empty))
    said, events = await hand_off(asks())
    assert responses(said) == ["utter_handoff_unavailable"] and events == []
    assert await redis.get(routing.REQUEST_SEQ) is None


async def test_a_complaint_is_recorded_once_for_ops(redis, fake_clock):
    complaint = make_tracker(sender_id=WECHAT_ALICE, intent="complain", text="等了一周还没发货，太差了", message_id="m7")
    dispatcher = CollectingDispatcher()
    await ActionComplain().run(dispatcher, complaint, {})
    await ActionComplain().run(CollectingDispatcher(), complaint, {})  # retried call
    assert responses(dispatcher) == ["utter_complaint_recorded"]
    entries = await redis.xrange(COMPLAINTS)
    assert len(entries) == 1
    assert entries[0][1]["text"] == "等了一周还没发货，太差了"
    assert entries[0][1]["customer"] == (await customer_context(complaint)).cid
    alerts = await redis.xrange(store.ALERTS)
    assert [(a["type"], a["complaint"]) for _, a in alerts] == [("complaint", entries[0][0])]  # on ops' to-do list


async def test_a_complaint_handed_to_a_guide_says_why(redis, fake_clock):
    complaint = make_tracker(sender_id=WECHAT_ALICE, intent="complain", text="我要投诉")
    said, _ = await hand_off(complaint)
    ctx = await customer_context(complaint)
    request_id = await redis.get(routing.open_key(ctx.cid))
    assert await redis.hget(routing.request_key(request_id), "reason") == "complaint"


async def test_a_failure_counts_only_when_the_previous_answer_was_one():
    failed = {"event": "bot", "text": "没答上", "metadata": {"utter_action": "utter_faq_no_match"}}
    answered = {"event": "bot", "text": "包邮", "metadata": {"utter_action": "utter_faq/shipping_fee"}}
    user = {"event": "user", "text": "?"}

    def after(*events):
        return Tracker("s", {}, {}, list(events), False, None, {}, "action_listen")
    assert failed_last_time(after(user, failed, user))
    assert not failed_last_time(after(user, answered, user))
    assert not failed_last_time(after(user, failed, user, answered, user))  # a failure two messages ago
