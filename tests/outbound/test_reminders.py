"""Daily reminders with an injected clock: a streak about to break, a coupon about to expire."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.outbound import reminders
from common import contact_state
from tests.outbound.conftest import SHANGHAI, Clock, World, arq_ctx, close_ctx, run, texts_to

EVENING = datetime(2026, 12, 2, 20, 0, tzinfo=SHANGHAI)


def test_a_streak_about_to_break_is_reminded_once_and_only_then(stand_in, redis_url):
    clock = Clock(EVENING)
    today = EVENING.date().toordinal()

    async def body():
        ctx = await arq_ctx(redis_url, clock)
        redis = ctx["redis_data"]
        world = World(redis, clock)
        for user, last_day, streak in (("oAtRisk", today - 1, 6), ("oDoneToday", today, 7), ("oJustOne", today - 1, 1),
                                       ("oBroken", today - 3, 9), ("oQuiet", today - 1, 4)):
            cid = await world.customer("wechat_mp", user, 3)
            await redis.hset(f"{{brand}}:chk:daily:{cid}", mapping={"last_day": last_day, "streak": streak})
        await contact_state.set_opt_out(redis, "wechat_mp:oQuiet", True)
        first = await reminders.checkin_reminders(ctx)
        second = await reminders.checkin_reminders(ctx)  # the same evening again: nothing new
        await close_ctx(ctx)
        return first, second

    first, second = run(body)
    (text,) = texts_to(stand_in, "oAtRisk")
    assert "连续签到 6 天" in text and "签到" in text and text.endswith("回复 TD 退订")
    assert len(stand_in.sent()) == 1
    assert first == {"sent": 1, "refused": 1} and second == {"done": 1, "refused": 1}


def test_a_coupon_about_to_expire_is_reminded_once_per_code(stand_in, redis_url):
    clock = Clock(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))

    async def body():
        ctx = await arq_ctx(redis_url, clock)
        redis = ctx["redis_data"]
        cid = await World(redis, clock).customer("wecom_kf", "wmCoupons", 2)
        soon, later, gone = (clock.now + timedelta(days=d) for d in (2, 10, -1))
        await redis.hset(f"{{brand}}:cust:{cid}:coupons", mapping={
            "welcome": json.dumps({"type": "welcome", "code": "WEL000001ABC", "expires_at": soon.isoformat()}),
            "lottery_20#g1": json.dumps({"type": "lottery_20", "code": "LOT000002XYZ", "expires_at": later.isoformat()}),
            "checkin_7#g2": json.dumps({"type": "checkin_7", "code": "CHK000003QQQ", "expires_at": gone.isoformat()})})
        first = await reminders.coupon_reminders(ctx)
        clock.now += timedelta(days=1)
        await contact_state.record_inbound(redis, "wecom_kf:wmCoupons", clock.now.timestamp() - 60, "wkKF0001")
        second = await reminders.coupon_reminders(ctx)
        await close_ctx(ctx)
        return first, second

    first, second = run(body)
    (text,) = texts_to(stand_in, "wmCoupons")
    assert "WEL000001ABC" in text and "12月4日" in text
    assert first == {"sent": 1} and second == {"done": 1}


def test_camp_members_get_the_days_tip_each_morning_until_the_camp_ends(stand_in, redis_url):
    from actions.services import camps
    from actions.services.catalog import catalog

    camp = catalog().camps[0]
    clock = Clock(datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI))
    today = clock.now.date().toordinal()

    async def body():
        ctx = await arq_ctx(redis_url, clock)
        redis = ctx["redis_data"]
        world = World(redis, clock)
        for user, enrolled in (("oCampDay2", today - 1), ("oCampDay28", today - 27), ("oCampDone", today - 28),
                               ("oCampToday", today)):
            cid = await world.customer("wechat_mp", user, 5)
            await redis.zadd(camps.members_key(camp.id), {cid: enrolled})
        first = await reminders.camp_tips(ctx)
        again = await reminders.camp_tips(ctx)
        left = await redis.zcard(camps.members_key(camp.id))
        await close_ctx(ctx)
        return first, again, left

    first, again, left = run(body)
    (day2,) = texts_to(stand_in, "oCampDay2")
    assert "第 2 天" in day2 and camp.tips[1] in day2
    (day28,) = texts_to(stand_in, "oCampDay28")
    assert camp.tips[27] in day28
    assert texts_to(stand_in, "oCampDone") == [] and texts_to(stand_in, "oCampToday") == []
    assert first == {"sent": 2} and again == {"done": 2} and left == 3  # the graduate left the camp
