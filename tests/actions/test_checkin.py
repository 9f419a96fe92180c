"""Daily check-in: one per natural day in Asia/Shanghai, streaks, one-time milestones."""
from __future__ import annotations

import asyncio

import pytest

from actions.checkin import ActionCheckin, ActionCheckinStatus
from actions.services import checkin, coupons, customers
from marketing_support import kwargs_of, responses

pytestmark = pytest.mark.asyncio


async def test_fifty_simultaneous_checkins_of_one_customer_count_once(redis, catalog, fake_clock):
    results = await asyncio.gather(*(checkin.check_in(redis, catalog, "c1", fake_clock()) for _ in range(50)))
    assert sorted(r.status for r in results).count("done") == 1
    assert {(r.streak, r.total) for r in results} == {(1, 1)}
    assert await redis.hget(customers.key("c1", "profile"), "points") == str(catalog.checkin.points_per_day)


async def test_midnight_in_shanghai_starts_a_new_day(redis, catalog, fake_clock):
    first = await checkin.check_in(redis, catalog, "c1", fake_clock.set_local("2025-03-10T23:59:59"))
    second = await checkin.check_in(redis, catalog, "c1", fake_clock.set_local("2025-03-11T00:00:00"))
    assert (first.status, second.status) == ("done", "done")
    assert (second.streak, second.total) == (2, 2)


async def test_utc_midnight_is_not_a_new_day(redis, catalog, fake_clock):
    # 07:59 and 08:01 Shanghai straddle UTC midnight but are the same local day
    await checkin.check_in(redis, catalog, "c1", fake_clock.set_local("2025-03-10T07:59:00"))
    again = await checkin.check_in(redis, catalog, "c1", fake_clock.set_local("2025-03-10T08:01:00"))
    assert again.status == "already"


async def test_a_missed_day_resets_the_streak_but_not_the_total(redis, catalog, fake_clock):
    for day in ("2025-03-01", "2025-03-02", "2025-03-03"):
        await checkin.check_in(redis, catalog, "c1", fake_clock.set_local(f"{day}T09:00:00"))
    after_gap = await checkin.check_in(redis, catalog, "c1", fake_clock.set_local("2025-03-05T09:00:00"))
    assert (after_gap.streak, after_gap.total) == (1, 4)
    status = await checkin.status(redis, catalog, "c1", fake_clock.set_local("2025-03-07T09:00:00"))
    assert status.streak == 0  # 03-06 missed too: the streak shown is broken


async def _streak_days(redis, catalog, fake_clock, cid, start_day: int, days: int):
    results = []
    for offset in range(days):
        results.append(await checkin.check_in(redis, catalog, cid, fake_clock.set_local(f"2025-04-{start_day + offset:02d}T10:00:00")))
    return results


async def test_each_milestone_is_granted_once(redis, catalog, fake_clock):
    first_run = await _streak_days(redis, catalog, fake_clock, "c1", 1, 7)
    assert [g.milestone.days for r in first_run for g in r.granted] == [7]
    code = first_run[-1].granted[0].code
    assert code.startswith("QHC7")
    # break the streak and build it up again: day 7 brings nothing new
    second_run = await _streak_days(redis, catalog, fake_clock, "c1", 10, 7)
    assert [g for r in second_run for g in r.granted] == []
    held = await coupons.held(redis, catalog, "c1")
    assert [h.code for h in held] == [code]


async def test_fourteen_days_give_the_coupon_then_the_points(redis, catalog, fake_clock):
    results = await _streak_days(redis, catalog, fake_clock, "c1", 1, 14)
    assert [(r.streak, [g.milestone.reward.kind for g in r.granted]) for r in results if r.granted] == [
        (7, ["coupon"]), (14, ["points"])]
    points = int(await redis.hget(customers.key("c1", "profile"), "points"))
    assert points == 14 * catalog.checkin.points_per_day + 200


async def test_action_twice_the_same_day_says_already_with_the_streak(redis, tracker, fake_clock):
    from rasa_sdk.executor import CollectingDispatcher
    first, second = CollectingDispatcher(), CollectingDispatcher()
    assert await ActionCheckin().run(first, tracker(intent="checkin"), {}) == []
    await ActionCheckin().run(second, tracker(intent="checkin"), {})
    assert responses(first) == ["utter_checkin_done", "utter_checkin_next_reward"]
    assert kwargs_of(first, "utter_checkin_next_reward")["days_left"] == 6
    assert responses(second) == ["utter_checkin_already"]
    assert kwargs_of(second, "utter_checkin_already")["streak"] == 1


async def test_seventh_day_tells_the_coupon_code_and_tags_the_checkin_master(redis, tracker, fake_clock):
    from rasa_sdk.executor import CollectingDispatcher
    from actions.services import tags
    last = None
    for day in range(1, 8):
        fake_clock.set_local(f"2025-05-{day:02d}T08:00:00")
        last = CollectingDispatcher()
        await ActionCheckin().run(last, tracker(intent="checkin"), {})
    assert responses(last) == ["utter_checkin_done", "utter_checkin_reward_coupon"]
    assert kwargs_of(last, "utter_checkin_reward_coupon")["code"].startswith("QHC7")
    cid = (await customers.resolve(redis, customers.identity_from("wechat_mp:openid-alice"), fake_clock())).id
    assert "campaign:checkin_master" in await tags.tags_of(redis, cid)


async def test_status_tells_streak_total_and_days_to_next_reward(redis, tracker, dispatcher, fake_clock):
    for day in (1, 2, 3):
        fake_clock.set_local(f"2025-06-{day:02d}T08:00:00")
        await ActionCheckin().run(type(dispatcher)(), tracker(intent="checkin"), {})
    fake_clock.set_local("2025-06-04T08:00:00")
    await ActionCheckinStatus().run(dispatcher, tracker(intent="checkin_status"), {})
    assert responses(dispatcher) == ["utter_checkin_status_not_today", "utter_checkin_next_reward"]
    assert kwargs_of(dispatcher, "utter_checkin_status_not_today")["streak"] == 3
    assert kwargs_of(dispatcher, "utter_checkin_next_reward")["days_left"] == 4


async def test_status_without_any_checkin(redis, tracker, dispatcher, fake_clock):
    await ActionCheckinStatus().run(dispatcher, tracker(intent="checkin_status"), {})
    assert responses(dispatcher) == ["utter_checkin_status_none"]


async def test_the_21_day_sample_waits_in_my_prizes_for_an_address(redis, catalog, tracker, fake_clock):
    from rasa_sdk.events import SlotSet
    from rasa_sdk.executor import CollectingDispatcher
    from actions.base import customer_context
    from actions.prizes import ActionMyPrizes
    cid = (await customer_context(tracker())).cid
    results = [await checkin.check_in(redis, catalog, cid, fake_clock.set_local(f"2025-07-{d:02d}T09:00:00"))
               for d in range(1, 22)]
    assert [g.milestone.reward.kind for g in results[-1].granted] == ["physical"]
    dispatcher = CollectingDispatcher()
    events = await ActionMyPrizes().run(dispatcher, tracker(intent="my_prizes"), {})
    assert responses(dispatcher) == ["utter_my_prizes_list", "utter_my_prizes_need_address"]
    assert kwargs_of(dispatcher, "utter_my_prizes_need_address")["prize"] == "小绿瓶修护精华体验装"
    assert events[0] == SlotSet("prize_pending", True)
