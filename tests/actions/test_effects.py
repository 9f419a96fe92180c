"""Effects happen once and the customer hears the truth: idempotent retries,
WeChat-only campaigns, a new code per coupon win, an empty pool said honestly,
and rewards that survive a crash between the Lua step and their delivery."""
from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import timedelta

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import background, outbox
from actions.base import customer_context
from actions.checkin import ActionCheckin
from actions.coupons import ActionMyCoupons
from actions.greet import ActionGreet
from actions.lottery import ActionLottery
from actions.services import checkin, coupons, customers, lottery, prizes, store
from actions.services.catalog import Prize
from marketing_support import WECHAT_ALICE, kwargs_of, make_tracker, responses
from common.key_tags import MARKETING as TAG

pytestmark = pytest.mark.asyncio

COUPON_RAND = 0.2  # spring_wheel: past 小绿瓶 (2) and 面膜 (13), inside the coupon (20) of 100


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher.messages, events


async def keys_like(redis, pattern: str) -> list:
    """SCAN, not KEYS: on a Redis Cluster KEYS asks one node, SCAN every primary."""
    return [k async for k in redis.scan_iter(match=pattern)]


async def draws_recorded(redis, cid: str, campaign: str = "spring_wheel") -> int:
    return int(await redis.hget(lottery.user_key(campaign, cid), "total") or 0)


# --- idempotency keys ------------------------------------------------------------

async def test_a_retried_lottery_call_returns_the_first_draw_and_draws_once(redis, fake_clock, monkeypatch):
    monkeypatch.setattr(lottery._rng, "random", lambda: 0.0)  # a parcel: claim + form slot
    same_message = make_tracker(sender_id=WECHAT_ALICE, intent="lottery", message_id="mid-1")
    first = await run(ActionLottery(), same_message)
    monkeypatch.setattr(lottery._rng, "random", lambda: 0.99)  # a second draw would lose
    second = await run(ActionLottery(), same_message)
    assert second == first
    assert [m["response"] for m in first[0]] == ["utter_lottery_won_parcel"]
    cid = (await customer_context(same_message)).cid
    assert await draws_recorded(redis, cid) == 1
    assert len(await prizes.of_customer(redis, cid)) == 1
    assert await redis.ttl(f"{TAG}idem:{cid}:lottery:mid-1") > 0


async def test_a_new_message_is_a_new_draw(redis, fake_clock, monkeypatch):
    monkeypatch.setattr(lottery._rng, "random", lambda: 0.99)
    await run(ActionLottery(), make_tracker(sender_id=WECHAT_ALICE, intent="lottery", message_id="mid-1"))
    fake_clock.now += timedelta(days=1)
    messages, _ = await run(ActionLottery(), make_tracker(sender_id=WECHAT_ALICE, intent="lottery", message_id="mid-2"))
    assert responses_of(messages) == ["utter_lottery_no_prize"]
    assert await draws_recorded(redis, (await customer_context(make_tracker(sender_id=WECHAT_ALICE))).cid) == 2


def responses_of(messages):
    return [m["response"] for m in messages]


async def test_fifty_concurrent_retries_of_one_checkin_message_check_in_once_with_one_reply(redis, fake_clock):
    same_message = make_tracker(sender_id=WECHAT_ALICE, intent="checkin", message_id="mid-checkin")
    results = await asyncio.gather(*(run(ActionCheckin(), same_message) for _ in range(50)))
    assert len({repr(r) for r in results}) == 1  # the same reply, 50 times
    assert responses_of(results[0][0]) == ["utter_checkin_done", "utter_checkin_next_reward"]
    cid = (await customer_context(same_message)).cid
    profile = await customers.profile(redis, cid)
    assert profile["points"] == "10" and "last_checkin_at" in profile
    assert (await redis.hgetall(checkin.state_key("daily", cid)))["total"] == "1"


async def test_the_message_id_falls_back_to_the_latest_user_event(redis, fake_clock):
    from actions.base import message_id
    tracker = make_tracker(message_id="from-event")
    assert "message_id" not in tracker.latest_message
    assert message_id(tracker) == "from-event"
    tracker.latest_message["message_id"] = "from-latest"
    assert message_id(tracker) == "from-latest"


async def test_a_retried_greeting_repeats_the_welcome_offer_with_the_same_code(redis, fake_clock):
    same_message = make_tracker(sender_id=WECHAT_ALICE, message_id="mid-hello")
    first = await run(ActionGreet(), same_message)
    second = await run(ActionGreet(), same_message)
    assert second == first and responses_of(first[0]) == ["utter_greet", "utter_welcome_offer"]
    later, _ = await run(ActionGreet(), make_tracker(sender_id=WECHAT_ALICE, message_id="mid-hello-again"))
    assert responses_of(later) == ["utter_greet"]
    assert len(await coupons.held(redis, (await customer_context(same_message)).catalog,
                                  (await customer_context(same_message)).cid)) == 1


# --- campaigns that require a WeChat identity ------------------------------------------

@pytest.mark.parametrize("sender", ["web:session-1", "rest:tool-1", "no-namespace-1"])
async def test_a_web_customer_is_refused_the_draw_honestly_and_spends_nothing(redis, catalog, fake_clock, monkeypatch, sender):
    monkeypatch.setattr(lottery._rng, "random", lambda: 0.0)
    messages, events = await run(ActionLottery(), make_tracker(sender_id=sender, intent="lottery", channel="wechat_mp"))
    assert responses_of(messages) == ["utter_lottery_wechat_only"]
    assert events == [SlotSet("prize_pending", False)]
    assert await keys_like(redis, TAG + "lot:*") == [] and await keys_like(redis, TAG + "claim:*") == []
    assert await lottery.stock(redis, catalog.lottery("spring_wheel")) == {
        p.id: p.stock for p in catalog.lottery("spring_wheel").prizes}


async def test_a_web_customer_gets_no_welcome_coupon(redis, fake_clock):
    messages, _ = await run(ActionGreet(), make_tracker(sender_id="web:session-2"))
    assert responses_of(messages) == ["utter_greet"]
    assert await keys_like(redis, TAG + "cpn:welcome:*") == []


async def test_a_forged_unionid_from_a_web_session_joins_nobody(redis, fake_clock):
    victim = await customer_context(make_tracker(sender_id="wechat_mp:o-victim", metadata={"unionid": "U-victim"}))
    forged = await customer_context(make_tracker(sender_id="web:attacker", channel="wechat_mp",
                                                 metadata={"unionid": "U-victim", "scene": "qr_x"}))
    assert forged.cid != victim.cid and not forged.wechat
    assert await redis.smembers(customers.key(forged.cid, "idents")) == {"web:attacker"}
    assert (await customers.profile(redis, forged.cid))["first_scene"] == ""


async def test_a_rest_caller_reporting_a_wechat_channel_is_still_a_web_identity(redis, fake_clock):
    ident = customers.identity_from("o-openid", {"unionid": "U1"})
    assert (ident.channel, ident.user_id, ident.unionid, ident.wechat) == ("web", "o-openid", "", False)
    assert customers.identity_from("rest:o-openid").keys == ["web:o-openid"]  # legacy REST senders keep their customer


async def test_existing_wechat_customers_keep_their_id(redis, fake_clock):
    await redis.set(TAG + "cust:ident:wechat_mp:o-legacy", "c77")  # written before sender ids had namespaces
    ctx = await customer_context(make_tracker(sender_id="wechat_mp:o-legacy"))
    assert ctx.cid == "c77" and ctx.wechat


async def test_web_check_in_collects_points_but_no_streak_rewards(redis, catalog, fake_clock):
    for day in range(1, 8):
        fake_clock.set_local(f"2025-05-{day:02d}T08:00:00")
        messages, _ = await run(ActionCheckin(), make_tracker(sender_id="web:s-7", intent="checkin"))
    assert responses_of(messages) == ["utter_checkin_done", "utter_checkin_web_note"]
    cid = (await customer_context(make_tracker(sender_id="web:s-7"))).cid
    assert (await customers.profile(redis, cid))["points"] == "70"
    assert await coupons.held(redis, catalog, cid) == []
    assert await redis.smembers(checkin.state_key("daily", cid) + ":granted") == set()


# --- coupon prizes ---------------------------------------------------------------

async def test_a_second_win_of_the_same_coupon_gives_a_new_code_and_my_coupons_lists_both(redis, fake_clock, monkeypatch):
    monkeypatch.setattr(lottery._rng, "random", lambda: COUPON_RAND)
    codes = []
    for day in (1, 2):
        fake_clock.set_local(f"2025-03-{day:02d}T10:00:00")
        messages, _ = await run(ActionLottery(), make_tracker(sender_id=WECHAT_ALICE, intent="lottery"))
        assert responses_of(messages) == ["utter_lottery_won_coupon"]
        codes.append(messages[0]["code"])
    assert codes[0] != codes[1] and all(c.startswith("QHL") for c in codes)
    listed, _ = await run(ActionMyCoupons(), make_tracker(sender_id=WECHAT_ALICE, intent="my_coupons"))
    assert listed[0]["response"] == "utter_my_coupons_list" and listed[0]["count"] == 2
    assert codes[0] in listed[0]["coupons"] and codes[1] in listed[0]["coupons"]


async def test_the_welcome_coupon_stays_one_per_customer(redis, catalog, fake_clock):
    issued = await asyncio.gather(*(coupons.issue(redis, catalog, "c1", "welcome", fake_clock()) for _ in range(20)))
    assert [i.status for i in issued].count("issued") == 1 and len({i.code for i in issued}) == 1


def pool_coupon_campaign(catalog):
    base = catalog.lottery("spring_wheel")
    return replace(base, no_prize_weight=0, daily_limit=5, total_limit=5,
                   prizes=(Prize(id="sf", name="顺丰包邮券", kind="coupon", coupon="partner_sf", stock=10, weight=100),))


async def test_an_empty_pool_is_said_honestly_alerts_ops_and_the_code_follows_once_loaded(redis, catalog, fake_clock, monkeypatch):
    campaign = pool_coupon_campaign(catalog)
    monkeypatch.setattr(lottery, "pick_campaign", lambda *a, **k: campaign)
    messages, _ = await run(ActionLottery(), make_tracker(sender_id=WECHAT_ALICE, intent="lottery"))
    assert responses_of(messages) == ["utter_lottery_won_coupon_no_code", "utter_coupon_codes_out"]
    assert all("code" not in m for m in messages)
    alerts = await redis.xrange(store.ALERTS)
    assert len(alerts) == 1
    alert = alerts[0][1]
    assert (alert["type"], alert["coupon"]) == ("coupon_pool_empty", "partner_sf") and alert["at"]
    cid = (await customer_context(make_tracker(sender_id=WECHAT_ALICE))).cid
    assert await coupons.held(redis, catalog, cid) == []
    # a sweep before codes exist neither delivers nor alerts again
    assert await outbox.sweep_once(redis, catalog, fake_clock(), until=float("inf")) == 0
    assert await redis.xlen(store.ALERTS) == 1
    # ops load codes: the parked grant goes back into the outbox and the sweeper delivers it, once
    assert await coupons.load_codes(redis, "partner_sf", ["SF-001", "SF-002"]) == 2
    assert await outbox.sweep_once(redis, catalog, fake_clock(), until=float("inf")) == 1
    assert await outbox.sweep_once(redis, catalog, fake_clock(), until=float("inf")) == 0
    assert [h.code for h in await coupons.held(redis, catalog, cid)] == ["SF-001"]


# --- the outbox: a grant step killed after the Lua step ----------------------------------

async def _check_in_days(fake_clock, days, sender=WECHAT_ALICE):
    messages = []
    for day in range(1, days + 1):
        fake_clock.set_local(f"2025-04-{day:02d}T10:00:00")
        messages, _ = await run(ActionCheckin(), make_tracker(sender_id=sender, intent="checkin",
                                                              message_id=f"day-{day}"))
    return messages


async def test_a_killed_milestone_grant_is_delivered_by_the_sweeper_never_twice(redis, catalog, fake_clock, monkeypatch):
    await _check_in_days(fake_clock, 6)
    real_deliver = outbox.deliver

    async def crash(*args, **kwargs):
        raise ConnectionError("process died after the Lua step")

    monkeypatch.setattr(outbox, "deliver", crash)
    fake_clock.set_local("2025-04-07T10:00:00")
    day7 = make_tracker(sender_id=WECHAT_ALICE, intent="checkin", message_id="day-7")
    messages, _ = await run(ActionCheckin(), day7)
    assert responses_of(messages) == ["utter_checkin_done", "utter_checkin_reward_coupon_no_code", "utter_coupon_pending"]
    cid = (await customer_context(day7)).cid
    assert await coupons.held(redis, catalog, cid) == []
    assert await outbox.pending(redis) == 1
    # the daily points and last_checkin_at were part of the Lua step: nothing lost
    assert (await customers.profile(redis, cid))["points"] == "70"

    monkeypatch.setattr(outbox, "deliver", real_deliver)
    assert await outbox.sweep_once(redis, catalog, fake_clock()) == 0  # not due yet: the action had its chance
    assert await outbox.sweep_once(redis, catalog, fake_clock(), until=float("inf")) == 1
    assert await outbox.sweep_once(redis, catalog, fake_clock(), until=float("inf")) == 0
    held = await coupons.held(redis, catalog, cid)
    assert len(held) == 1 and held[0].code.startswith("QHC7")
    # Rasa retrying the same call now hears the code that was delivered, not a second one
    retried, _ = await run(ActionCheckin(), day7)
    assert responses_of(retried) == ["utter_checkin_done", "utter_checkin_reward_coupon"]
    assert kwargs_of_messages(retried, "utter_checkin_reward_coupon")["code"] == held[0].code
    assert len(await coupons.held(redis, catalog, cid)) == 1


def kwargs_of_messages(messages, response):
    return next(m for m in messages if m["response"] == response)


async def test_a_killed_lottery_coupon_grant_is_delivered_by_the_background_sweeper(redis, catalog, fake_clock, monkeypatch):
    monkeypatch.setattr(lottery._rng, "random", lambda: COUPON_RAND)
    real_deliver = outbox.deliver

    async def crash(*args, **kwargs):
        raise ConnectionError("process died after the Lua step")

    monkeypatch.setattr(outbox, "deliver", crash)
    messages, _ = await run(ActionLottery(), make_tracker(sender_id=WECHAT_ALICE, intent="lottery"))
    assert responses_of(messages) == ["utter_lottery_won_coupon_no_code", "utter_coupon_pending"]
    monkeypatch.setattr(outbox, "deliver", real_deliver)
    await redis.zadd(coupons.OUTBOX, {gid: 0 for gid in await redis.zrange(coupons.OUTBOX, 0, -1)})  # due now
    task = background.ensure_sweeper(interval_s=0.05)
    try:
        cid = (await customer_context(make_tracker(sender_id=WECHAT_ALICE))).cid
        for _ in range(200):
            if await coupons.held(redis, catalog, cid):
                break
            await asyncio.sleep(0.05)
        held = await coupons.held(redis, catalog, cid)
        assert len(held) == 1 and held[0].code.startswith("QHL")
        assert await outbox.pending(redis) == 0
    finally:
        await background.stop()
    assert task.done()


async def test_start_and_stop_run_the_sweeper(redis, monkeypatch):
    monkeypatch.setenv("GRANT_SWEEP_INTERVAL_S", "0.05")
    await background.start(None)
    task = background.ensure_sweeper()
    assert task is not None and not task.done()
    await background.stop(None)
    assert task.done()


async def test_fourteen_days_give_the_coupon_then_the_points_in_the_lua_step(redis, catalog, fake_clock):
    messages = await _check_in_days(fake_clock, 14)
    assert responses_of(messages) == ["utter_checkin_done", "utter_checkin_reward_points"]
    cid = (await customer_context(make_tracker(sender_id=WECHAT_ALICE))).cid
    assert (await customers.profile(redis, cid))["points"] == str(14 * 10 + 200)
    assert await outbox.pending(redis) == 0


KILLED_AFTER_THE_LUA_STEP = r"""
import asyncio, os, signal, sys
from datetime import datetime, timezone
from actions import outbox
from actions.services import checkin, store
from actions.services.catalog import catalog

async def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the process dies between the Lua step and the delivery

async def main():
    outbox.deliver = die
    client = store.make_client(sys.argv[1])
    await checkin.check_in(client, catalog(), "c1", datetime.fromisoformat(sys.argv[2]))

asyncio.run(main())
"""


async def test_a_grant_step_killed_with_sigkill_still_delivers_the_reward_once(redis, redis_server, catalog, fake_clock):
    import subprocess
    import sys
    from pathlib import Path
    for day in range(1, 7):
        await checkin.check_in(redis, catalog, "c1", fake_clock.set_local(f"2025-08-{day:02d}T10:00:00"))
    day7 = fake_clock.set_local("2025-08-07T10:00:00")
    root = Path(__file__).resolve().parents[2]
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_THE_LUA_STEP, redis_server.url, day7.isoformat()],
                            cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin",
                                                   "REDIS_CLUSTER": os.environ["REDIS_CLUSTER"]}, timeout=60)
    assert killed.returncode == -9
    assert (await redis.hgetall(checkin.state_key("daily", "c1")))["streak"] == "7"
    assert await coupons.held(redis, catalog, "c1") == [] and await outbox.pending(redis) == 1
    assert await outbox.sweep_once(redis, catalog, fake_clock(), until=float("inf")) == 1
    assert await outbox.sweep_once(redis, catalog, fake_clock(), until=float("inf")) == 0
    held = await coupons.held(redis, catalog, "c1")
    assert len(held) == 1 and held[0].code.startswith("QHC7")
    again = await checkin.check_in(redis, catalog, "c1", day7)
    assert again.status == "already" and len(await coupons.held(redis, catalog, "c1")) == 1


async def test_a_sweeper_left_by_a_closed_loop_with_the_same_id_is_not_taken_for_this_loop_s(redis, monkeypatch):
    """A new event loop can get a closed loop's id(); its dead task must neither stand in for this
    loop's sweeper nor be awaited by stop() (which never returned: a hang in the cluster run)."""
    old_loop = asyncio.new_event_loop()
    stale = old_loop.create_future()  # never done: a sweeper that died with its loop
    old_loop.close()
    loop = asyncio.get_running_loop()
    monkeypatch.setitem(background._tasks, id(loop), stale)
    task = background.ensure_sweeper(interval_s=0.05)
    assert task is not stale and task.get_loop() is loop
    await asyncio.wait_for(background.stop(), timeout=5)
    assert task.done()
    monkeypatch.setitem(background._tasks, id(loop), stale)
    await asyncio.wait_for(background.stop(), timeout=5)  # only a stale one: dropped, not awaited
