"""Segment pushes through the real worker: who receives what, who does not and why, once."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from bot.outbound import pushes, worker as outbound
from bot.outbound.segments import Segment
from common import contact_state
from tests.outbound.conftest import (KF_ACCOUNT, NOON, SHANGHAI, Clock, World, arq_ctx, close_ctx, run,
                                     run_worker_until_idle, texts_to)

TEXT = "{you}好，冬季限定礼盒今天上新，会员专享 8 折～"


def test_a_push_reaches_every_reachable_customer_once_and_says_why_it_skipped_the_others(stand_in, redis_url):
    clock = Clock(NOON)

    async def body():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        world = World(redis, clock)
        vip = ["level:gold"]
        await world.customer("wechat_mp", "oInWindow", 2, vip)
        await world.customer("wecom_kf", "wmInWindow", 47, vip)
        await world.customer("wechat_mp", "oSilent3Days", 72, vip)
        await world.customer("wecom_kf", "wmSilent3Days", 72, vip)
        await world.customer("wecom_kf", "wmFiveUsed", 1, vip, kf_sent=5)
        await world.customer("wechat_mp", "oOptedOut", 1, vip)
        await contact_state.set_opt_out(redis, "wechat_mp:oOptedOut", True)
        await world.customer("wecom_kf", "wmWithGuide", 1, vip)
        await world.hold("wecom_kf:wmWithGuide")
        await world.customer("web", "visitor", None, vip)
        await world.customer("wechat_mp", "oNotGold", 1, ["level:silver"])
        await world.customer("wechat_mp", "oGoldButMan", 1, vip + ["audience:men"])
        segment = Segment(levels=["gold"], none_tags=["audience:men"])
        assert await pushes.preview(redis, segment, clock()) == 8
        push_id = await pushes.create(redis, name="冬季礼盒", text=TEXT, segment=segment, by="运营小王")
        await run_worker_until_idle(redis_url, clock)
        report = await pushes.report(redis, push_id)
        # run again (a retried job, a second sweep): nothing more is sent, nothing counted twice
        await redis.zadd(pushes.DUE, {push_id: 0})
        await redis.hset(pushes.key(push_id), "status", "planned")
        await run_worker_until_idle(redis_url, clock)
        again = await pushes.report(redis, push_id)
        await redis.close()
        return report, again

    report, again = run(body)
    assert texts_to(stand_in, "oInWindow") == ["你好，冬季限定礼盒今天上新，会员专享 8 折～\n\n回复 TD 退订"]
    assert len(texts_to(stand_in, "wmInWindow")) == 1
    assert all(b["open_kfid"] == KF_ACCOUNT for b in stand_in.sent("/cgi-bin/kf/send_msg"))
    for nobody in ("oSilent3Days", "wmSilent3Days", "wmFiveUsed", "oOptedOut", "wmWithGuide", "oNotGold",
                   "oGoldButMan"):
        assert texts_to(stand_in, nobody) == [], nobody
    assert len(stand_in.sent()) == 2
    assert report["status"] == "done" and report["targeted"] == 8 and report["sent"] == 2
    assert report["refused"] == {"handoff": 1, "kf_quota": 1, "no_channel": 1, "opted_out": 1, "outside_window": 2}
    assert report["waiting"] == 0 and report["undeliverable"] == {} and report["in_doubt"] == 0
    assert again["sent"] == 2 and again["refused"] == report["refused"]


def test_api_refusals_are_reported_by_error_code(stand_in, redis_url):
    clock = Clock(NOON)
    stand_in.fail("/cgi-bin/message/custom/send", 45047)  # out of response count limit

    async def body():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        world = World(redis, clock)
        await world.customer("wechat_mp", "oA", 1)
        await world.customer("wechat_mp", "oB", 1)
        push_id = await pushes.create(redis, name="测试", text="新品到啦", segment=Segment(), by="ops")
        await run_worker_until_idle(redis_url, clock)
        report = await pushes.report(redis, push_id)
        await redis.close()
        return report

    report = run(body)
    assert report["sent"] == 1 and report["undeliverable"] == {"45047": 1}
    assert len(stand_in.sent()) == 1


def test_quiet_hours_postpone_a_push_to_the_morning_and_then_it_goes_out(stand_in, redis_url):
    clock = Clock(datetime(2026, 12, 2, 22, 30, tzinfo=SHANGHAI))

    async def body():
        ctx = await arq_ctx(redis_url, clock)
        redis = ctx["redis_data"]
        world = World(redis, clock)
        for n in range(3):
            await world.customer("wechat_mp", f"oNight{n}", 1)
        push_id = await pushes.create(redis, name="夜间", text="明早秒杀提醒", segment=Segment(), by="ops")
        await outbound.run_push(ctx, push_id)
        first = await outbound.push_batch(ctx, push_id, 0, pushes.BATCH)
        deferred = [j for j in await ctx["redis"].queued_jobs() if j.function == "push_batch" and j.args[3:] == (0,)]
        at_night = await pushes.report(redis, push_id)
        clock.now = datetime(2026, 12, 3, 8, 0, 5, tzinfo=SHANGHAI)  # the deferred job runs
        await outbound.push_batch(ctx, push_id, *deferred[0].args[1:])
        morning = await pushes.report(redis, push_id)
        await close_ctx(ctx)
        return first, deferred, at_night, morning

    first, deferred, at_night, morning = run(body)
    assert first["postponed"] == 1 and at_night["sent"] == 0 and at_night["postponed"] == {"quiet_hours": 1}
    assert len(deferred) == 1
    resume_at = datetime.fromtimestamp(deferred[0].score / 1000, SHANGHAI)
    assert resume_at == datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI)
    assert morning["sent"] == 3 and morning["status"] == "done"
    assert len(stand_in.sent()) == 3


def test_the_daily_cap_holds_across_pushes_and_resets_the_next_day(stand_in, redis_url):
    clock = Clock(NOON)

    async def body():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        await World(redis, clock).customer("wechat_mp", "oBusy", 1)
        reports = []
        for n in range(3):
            pid = await pushes.create(redis, name=f"第{n}条", text=f"福利 {n}", segment=Segment(), by="ops")
            await run_worker_until_idle(redis_url, clock)
            reports.append(await pushes.report(redis, pid))
        clock.now = NOON + timedelta(days=1)
        await contact_state.record_inbound(redis, "wechat_mp:oBusy", clock.now.timestamp() - 60)
        pid = await pushes.create(redis, name="次日", text="次日福利", segment=Segment(), by="ops")
        await run_worker_until_idle(redis_url, clock)
        reports.append(await pushes.report(redis, pid))
        await redis.close()
        return reports

    reports = run(body)
    assert [r["sent"] for r in reports] == [1, 1, 0, 1]
    assert reports[2]["refused"] == {"frequency_cap": 1}
    assert [t.split("\n")[0] for t in texts_to(stand_in, "oBusy")] == ["福利 0", "福利 1", "次日福利"]


def test_each_customer_gets_their_own_coupon_once_and_a_reply_counts_in_the_report(stand_in, redis_url):
    clock = Clock(NOON)

    async def body():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        world = World(redis, clock)
        cids = [await world.customer("wecom_kf", f"wmCoupon{n}", 3) for n in range(3)]
        pid = await pushes.create(redis, name="千人千券", text="送{you}一张券：{coupon_code}，本周有效", segment=Segment(),
                                  coupon="welcome", by="ops")
        await run_worker_until_idle(redis_url, clock)
        # a crashed worker's batch is run again: codes are not issued twice
        await outbound.push_batch(await arq_ctx(redis_url, clock), pid, 0, pushes.BATCH)
        await contact_state.record_inbound(redis, "wecom_kf:wmCoupon1", NOON.timestamp() + 600, KF_ACCOUNT)
        await contact_state.record_inbound(redis, "wecom_kf:wmCoupon1", NOON.timestamp() + 900, KF_ACCOUNT)
        report = await pushes.report(redis, pid)
        held = [await redis.hgetall(f"{{brand}}:cust:{cid}:coupons") for cid in cids]
        await redis.close()
        return report, held

    report, held = run(body)
    codes = []
    for n in range(3):
        (text,) = texts_to(stand_in, f"wmCoupon{n}")
        code = re.search(r"券：(\S+)，", text).group(1)
        codes.append(code)
        assert code in str(held[n])
    assert len(set(codes)) == 3
    assert report["coupons_issued"] == 3 and report["sent"] == 3
    assert report["replied_24h"] == 1  # one customer wrote back (twice): counted once


def test_a_cancelled_push_sends_nothing_more(stand_in, redis_url):
    clock = Clock(NOON)

    async def body():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        await World(redis, clock).customer("wechat_mp", "oLater", 1)
        pid = await pushes.create(redis, name="取消", text="不会发出", segment=Segment(), by="ops",
                                  at=NOON.timestamp() + 3600)
        cancelled = await pushes.cancel(redis, pid)
        ctx = await arq_ctx(redis_url, clock)
        await outbound.run_push(ctx, pid)
        await close_ctx(ctx)
        report = await pushes.report(redis, pid)
        await redis.close()
        return cancelled, report

    cancelled, report = run(body)
    assert cancelled and report["status"] == "cancelled" and report["sent"] == 0
    assert stand_in.sent() == []
