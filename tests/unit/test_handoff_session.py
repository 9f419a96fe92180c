"""A held conversation on a real Redis (common/handoff_session.py): who may speak in it,
what the outbox owes whom, the reply timer taking a request back, and the 锁客 binding
written by the routing step."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from common import handoff_routing as routing
from common import handoff_session as session
from tests.unit.conftest import run_with_redis

MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LATER = MONDAY_10 + timedelta(minutes=1)


@pytest.fixture(scope="module")
def roster() -> routing.Roster:
    return routing.load_roster()


def run(redis_url, body):
    async def flushed(client):
        await client.flushdb()
        return await body(client)
    return run_with_redis(redis_url, flushed)


async def outbox(client) -> list:
    return await client.zrange(routing.OUTBOX, 0, -1)


def test_a_held_conversation_relays_both_ways_and_only_its_guide_may_speak(redis_url, roster):
    async def body(client):
        routed = await routing.request(client, roster, "c1", MONDAY_10, bound_guide="guide-lin",
                                       sender="wechat_mp:o1", channel="wechat_mp", reason="asked")
        rid = routed.request_id
        seen = {"held": await session.held_request(client, "wechat_mp:o1"), "after_request": await outbox(client)}
        seen["customer"] = await session.append(client, roster, rid, session.CUSTOMER, "快递还没到", LATER)
        seen["intruder"] = await session.append(client, roster, rid, session.GUIDE, "我来", LATER, guide="guide-chen")
        seen["guide"] = await session.append(client, roster, rid, session.GUIDE, "我帮您查", LATER, guide="guide-lin")
        seen["timers"] = await client.zrange(routing.TIMERS, 0, -1)
        seen["details"] = await session.details(client, rid)
        seen["messages"] = [(m["who"], m["text"]) for m in await session.messages(client, rid)]
        seen["before_end"] = await outbox(client)
        await routing.free_and_offer(client, roster, roster.guide("guide-lin"), LATER, freed_request=rid,
                                     outcome="guide_ended")
        seen["after_end"] = await outbox(client)
        seen["held_after"] = await session.held_request(client, "wechat_mp:o1")
        seen["late"] = await session.append(client, roster, rid, session.CUSTOMER, "还在吗", LATER)
        seen["ended"] = await session.details(client, rid)
        return rid, seen
    rid, seen = run(redis_url, body)
    assert seen["held"] == rid
    assert seen["after_request"] == [f"notify:{rid}"]
    assert seen["customer"].ok and seen["customer"].index == 0
    assert (seen["intruder"].ok, seen["intruder"].refused) == (False, "not_yours")
    assert seen["guide"].ok and seen["guide"].index == 1
    assert seen["timers"] == [f"idle:{rid}"]  # the reply timer stopped at the guide's first answer
    assert seen["details"]["first_reply_at"] == LATER.isoformat()
    assert seen["messages"] == [("customer", "快递还没到"), ("guide", "我帮您查")]
    assert sorted(seen["before_end"]) == sorted([f"notify:{rid}", f"in:{rid}:0", f"out:{rid}:1"])
    assert f"resume:{rid}" in seen["after_end"]
    assert seen["held_after"] is None  # the channels give the customer back to the bot
    assert (seen["late"].ok, seen["late"].refused) == (False, "ended")
    assert (seen["ended"]["status"], seen["ended"]["outcome"]) == ("ended", "guide_ended")


def test_a_silent_guide_loses_the_request_to_the_next_guide_not_back_to_themselves(redis_url, roster):
    one = replace(roster, guides=tuple(replace(g, capacity=1) for g in roster.guides))

    async def body(client):
        routed = await routing.request(client, one, "c1", MONDAY_10, bound_guide="guide-lin", sender="web:s1")
        rid = routed.request_id
        due_early = await session.due_timers(client, MONDAY_10 + timedelta(minutes=4))
        due = await session.due_timers(client, MONDAY_10 + timedelta(minutes=6))
        taken_from = await session.take_back(client, rid, MONDAY_10 + timedelta(minutes=6))
        again = await session.take_back(client, rid, MONDAY_10 + timedelta(minutes=6))  # a second worker: nothing
        queued = await session.details(client, rid)
        held = await session.held_request(client, "web:s1")
        by_lin = await routing.free_and_offer(client, one, one.guide("guide-lin"), LATER)
        by_chen = await routing.free_and_offer(client, one, one.guide("guide-chen"), LATER)
        return rid, due_early, due, taken_from, again, queued, held, by_lin, by_chen, await outbox(client), \
            await client.hget(routing.LOAD, "guide-lin")
    rid, due_early, due, taken_from, again, queued, held, by_lin, by_chen, box, lin_load = run(redis_url, body)
    assert due_early == [] and due == [f"reply:{rid}"]
    assert (taken_from, again) == ("guide-lin", "")
    assert (queued["status"], queued["passed_by"]) == ("queued", "guide-lin")
    assert held is None  # the bot answers while they wait again
    assert by_lin == [] and by_chen == [rid]
    assert f"takeback:{rid}:guide-lin" in box and f"notify:{rid}" in box
    assert lin_load == "0"


def test_the_first_guide_becomes_the_bound_guide_and_a_bound_customer_keeps_theirs(redis_url, roster):
    async def body(client):
        first = await routing.request(client, roster, "c1", MONDAY_10, group="hangzhou-xihu")
        bound = await client.hget(routing.profile_key("c1"), "guide")
        await routing.free_and_offer(client, roster, roster.guide(first.guide), LATER, freed_request=first.request_id)
        await client.hset(routing.LOAD, first.guide, 0)
        second = await routing.request(client, roster, "c1", LATER)  # no group given: the binding decides
        return first, bound, second
    first, bound, second = run(redis_url, body)
    assert first.guide == "guide-wang" and bound == "guide-wang"
    assert second.guide == "guide-wang"


def test_claiming_outbox_members_hides_them_for_a_lease_and_done_removes_them(redis_url, roster):
    async def body(client):
        routed = await routing.request(client, roster, "c1", MONDAY_10, sender="wechat_mp:o1")
        first = await session.claim_due(client, MONDAY_10, lease_s=30)
        second = await session.claim_due(client, MONDAY_10 + timedelta(seconds=10), lease_s=30)
        after_lease = await session.claim_due(client, MONDAY_10 + timedelta(seconds=31), lease_s=30)
        await session.done(client, after_lease[0])
        return routed.request_id, first, second, after_lease, await outbox(client)
    rid, first, second, after_lease, left = run(redis_url, body)
    assert first == [f"notify:{rid}"]
    assert second == []  # another worker does not take what one is sending
    assert after_lease == [f"notify:{rid}"]  # a worker that died with it: retried, not lost
    assert left == []


def test_a_guide_takes_a_waiting_request_once_and_hands_it_to_a_colleague_with_a_note(redis_url, roster):
    one = replace(roster, guides=tuple(replace(g, capacity=1) for g in roster.guides), offer="pick")

    async def body(client):
        for guide in ("guide-lin", "guide-chen", "guide-wang"):
            await client.hset(routing.LOAD, guide, 1)  # everyone busy: the request waits
        waiting = await routing.request(client, one, "c1", MONDAY_10, sender="wecom_kf:wm1")
        rid = waiting.request_id
        await client.hset(routing.LOAD, mapping={"guide-lin": 0, "guide-chen": 0})
        ended_elsewhere = await routing.free_and_offer(client, one, one.guide("guide-wang"), LATER)  # pick: no push
        taken = await routing.take(client, one, one.guide("guide-lin"), rid, LATER)
        again = await routing.take(client, one, one.guide("guide-chen"), rid, LATER)  # a second click, elsewhere
        not_hers = await routing.transfer(client, one, one.guide("guide-chen"), one.guide("guide-wang"), rid, LATER)
        full = await routing.transfer(client, one, one.guide("guide-lin"), one.guide("guide-wang"), rid, LATER)
        moved = await routing.transfer(client, one, one.guide("guide-lin"), one.guide("guide-chen"), rid, LATER,
                                       note="她想换色号")
        return rid, ended_elsewhere, taken, again, not_hers, full, moved, await session.details(client, rid), \
            await client.hgetall(routing.LOAD), await session.held_request(client, "wecom_kf:wm1"), \
            await client.smembers(routing.ASSIGNED), [f["kind"] for _, f in await client.xrange(routing.CHANGES)]
    rid, ended_elsewhere, taken, again, not_hers, full, moved, details, loads, held, assigned, changes = \
        run(redis_url, body)
    assert ended_elsewhere == [] and (taken, again) == ("ok", "not_waiting")
    assert (not_hers, full, moved) == ("not_yours", "full", "ok")
    assert (details["guide"], details["transferred_from"], details["transfer_note"]) == \
        ("guide-chen", "guide-lin", "她想换色号")
    assert (loads["guide-lin"], loads["guide-chen"]) == ("0", "1")  # the slot moved with the conversation
    assert held == rid and assigned == {rid}
    assert changes == ["queued", "assigned", "transferred"]  # what the live console hears
