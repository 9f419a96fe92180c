"""企业群发 for those a push could not reach in the window: one task per guide, once a day per customer."""
from __future__ import annotations

import redis.asyncio as aioredis

from bot.outbound import mass, pushes
from bot.outbound.segments import Segment
from tests.outbound.conftest import NOON, Clock, World, run, run_worker_until_idle, texts_to

TASKS = "/cgi-bin/externalcontact/add_msg_template"


def test_customers_outside_the_window_reach_their_guides_mass_task_once_a_day(stand_in, redis_url):
    clock = Clock(NOON)

    async def body():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        world = World(redis, clock)
        for user, guide, hours in (("wmLinOld1", "guide-lin", 80), ("wmLinOld2", "guide-lin", 90),
                                   ("wmChenOld", "guide-chen", 100), ("wmNoGuide", "", 80), ("wmLinFresh", "guide-lin", 1)):
            cid = await world.customer("wecom_kf", user, hours)
            if guide:
                await redis.hset(f"{{brand}}:cust:{cid}:profile", "guide", guide)
        cid = await world.customer("wechat_mp", "oOldMp", 80)
        await redis.hset(f"{{brand}}:cust:{cid}:profile", "guide", "guide-lin")  # no WeCom identity
        first = await pushes.create(redis, name="会员日", text="{you}好，会员日全场 8 折", segment=Segment(), by="ops",
                                    mass=True)
        await run_worker_until_idle(redis_url, clock)
        second = await pushes.create(redis, name="再来一次", text="第二条群发", segment=Segment(), by="ops", mass=True)
        await run_worker_until_idle(redis_url, clock)
        summaries = (await mass.summary(redis, first), await mass.summary(redis, second))
        await redis.close()
        return summaries

    (first, second) = run(body)
    tasks = [c["body"] for c in stand_in.calls(TASKS)]
    assert len(tasks) == 2  # the first push's two guides; the second push: nobody left today
    by_guide = {t["sender"]: sorted(t["external_userid"]) for t in tasks}
    assert by_guide == {"guide-lin": ["wmLinOld1", "wmLinOld2"], "guide-chen": ["wmChenOld"]}
    assert all(t["text"]["content"] == "你好，会员日全场 8 折" for t in tasks)  # no 回复TD: it is the guide's chat
    assert len(texts_to(stand_in, "wmLinFresh")) == 2  # in the window: both pushes the normal way
    assert first["tasks"] == 2 and first["customers"] == 3 and sorted(first["waiting_for_guides"]) == ["guide-chen", "guide-lin"]
    assert second["tasks"] == 0
