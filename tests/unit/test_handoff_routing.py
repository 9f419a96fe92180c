"""Handoff routing on a real Redis (common/handoff_routing.py): the bound guide first,
then the customer's group, then anyone on duty, else a FIFO queue that the next
free guide takes from; never a guide past capacity, never one request twice."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from common import handoff_routing as routing
from tests.unit.conftest import run_with_redis

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)  # lin, chen and wang on duty
SATURDAY_9 = datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)   # nobody yet (lin and chen from 10:00)
SATURDAY_10 = datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def roster() -> routing.Roster:
    return routing.load_roster()


def run(redis_url, body):
    async def flushed(client):
        await client.flushdb()
        return await body(client)
    return run_with_redis(redis_url, flushed)


def test_the_roster_knows_who_is_on_duty_in_the_brand_s_time_zone(roster):
    assert [g.userid for g in roster.on_duty(MONDAY_10)] == ["guide-lin", "guide-chen", "guide-wang"]
    assert roster.on_duty(SATURDAY_9) == []
    assert [g.userid for g in roster.on_duty(SATURDAY_10)] == ["guide-lin", "guide-chen"]
    assert [g.userid for g in roster.on_duty(datetime(2026, 11, 30, 2, 0, tzinfo=ZoneInfo("UTC")))] == \
        ["guide-lin", "guide-chen", "guide-wang"]  # 10:00 in Shanghai


def test_the_bound_guide_comes_first_even_when_others_are_freer(redis_url, roster):
    async def body(client):
        await routing.request(client, roster, "c1", MONDAY_10, bound_guide="guide-wang")
        return await routing.request(client, roster, "c2", MONDAY_10, bound_guide="guide-wang", group="shanghai-jingan")
    routed = run(redis_url, body)
    assert (routed.verdict, routed.guide) == ("assigned", "guide-wang")


def test_a_full_or_off_duty_bound_guide_gives_way_to_the_customer_s_group(redis_url, roster):
    full = replace(roster, guides=tuple(replace(g, capacity=1) if g.userid == "guide-lin" else g for g in roster.guides))

    async def body(client):
        await routing.request(client, full, "c1", MONDAY_10, bound_guide="guide-lin")  # lin now full
        when_full = await routing.request(client, full, "c2", MONDAY_10, bound_guide="guide-lin",
                                          group="shanghai-jingan")
        off_duty = await routing.request(client, roster, "c3", SATURDAY_10, bound_guide="guide-wang",
                                         group="hangzhou-xihu")
        return when_full, off_duty
    when_full, off_duty = run(redis_url, body)
    assert when_full.guide == "guide-chen"  # lin is full: the other guide of the group
    assert off_duty.guide in ("guide-lin", "guide-chen")  # wang is off on Saturdays: anyone on duty


def test_nobody_on_duty_queues_in_order_and_the_first_guide_on_duty_takes_the_oldest(redis_url, roster):
    async def body(client):
        waiting = [await routing.request(client, roster, f"c{i}", SATURDAY_9) for i in range(3)]
        again = await routing.request(client, roster, "c1", SATURDAY_9)  # "我前面还有几位？"
        lin = roster.guide("guide-lin")
        early = await routing.free_and_offer(client, roster, lin, SATURDAY_9)  # still off duty: takes nothing
        taken = await routing.free_and_offer(client, roster, lin, SATURDAY_10)
        left = await routing.position(client, waiting[2].request_id)
        return waiting, again, early, taken, left
    waiting, again, early, taken, left = run(redis_url, body)
    assert [(w.verdict, w.position) for w in waiting] == [("queued", 1), ("queued", 2), ("queued", 3)]
    assert (again.verdict, again.request_id, again.position) == ("existing", waiting[1].request_id, 2)
    assert early == []
    assert taken == [w.request_id for w in waiting]  # oldest first, all three fit lin's capacity of 5
    assert left == 0


def test_fifty_requests_at_once_fill_three_guides_to_capacity_and_queue_the_rest_in_order(redis_url, roster):
    async def body(client):
        import redis.asyncio as aioredis
        second = aioredis.from_url(redis_url, decode_responses=True)  # another process's connection
        try:
            routed = await asyncio.gather(*[routing.request(client if i % 2 else second, roster, f"c{i}", MONDAY_10)
                                            for i in range(50)])
        finally:
            await second.close()
        return routed, await client.hgetall(routing.LOAD)
    routed, load = run(redis_url, body)
    assigned = [r for r in routed if r.verdict == "assigned"]
    queued = sorted((r for r in routed if r.verdict == "queued"), key=lambda r: r.position)
    assert load == {"guide-lin": "5", "guide-chen": "5", "guide-wang": "5"}
    assert len(assigned) == 15 and len({r.request_id for r in assigned}) == 15
    assert [r.position for r in queued] == list(range(1, 36))
    assert [int(r.request_id) for r in queued] == sorted(int(r.request_id) for r in queued)  # in arrival order


def test_ending_a_conversation_gives_the_slot_to_the_oldest_waiting_request(redis_url, roster):
    one_each = replace(roster, guides=tuple(replace(g, capacity=1) for g in roster.guides))

    async def body(client):
        held = [await routing.request(client, one_each, f"c{i}", MONDAY_10) for i in range(3)]
        waiting = [await routing.request(client, one_each, f"w{i}", MONDAY_10) for i in range(2)]
        chen = one_each.guide("guide-chen")
        freed_by = next(h for h in held if h.guide == "guide-chen")
        taken = await routing.free_and_offer(client, one_each, chen, MONDAY_10, freed_request=freed_by.request_id)
        ended = await client.hgetall(routing.request_key(freed_by.request_id))
        anew = await routing.request(client, one_each, f"c{held.index(freed_by)}", MONDAY_10)  # its customer
        return waiting, taken, ended, await client.hgetall(routing.LOAD), anew
    waiting, taken, ended, load, anew = run(redis_url, body)
    assert taken == [waiting[0].request_id]
    assert ended["status"] == "ended" and ended["ended_at"]
    assert load["guide-chen"] == "1"  # freed, then taken again: never above capacity
    assert anew.verdict == "queued" and anew.position == 2  # the ended customer asks again: a new request, behind w1

