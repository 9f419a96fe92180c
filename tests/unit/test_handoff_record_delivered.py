"""common.handoff_session.record_delivered: a guide's message that already reached the customer
(a 微信客服 servicer writing from the WeCom client) on a real Redis."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from common import handoff_routing as routing
from common import handoff_session as session
from tests.unit.conftest import run_with_redis

MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LATER = MONDAY_10 + timedelta(minutes=1)


def test_a_delivered_guide_message_is_recorded_without_a_relay_and_only_while_held(redis_url):
    roster = routing.load_roster()

    async def body(client):
        await client.flushdb()
        rid = (await routing.request(client, roster, "c1", MONDAY_10, bound_guide="guide-lin",
                                     sender="wecom_kf:wm1", channel="wecom_kf")).request_id
        seen = {"first": await session.record_delivered(client, roster, rid, "您好", LATER, "guide-chen",
                                                         via="wecom_kf")}
        seen["outbox"] = await client.zrange(routing.OUTBOX, 0, -1)
        seen["timers"] = await client.zrange(routing.TIMERS, 0, -1, withscores=True)
        seen["details"] = await session.details(client, rid)
        seen["messages"] = await session.messages(client, rid)
        await routing.free_and_offer(client, roster, roster.guide("guide-lin"), LATER, freed_request=rid)
        seen["late"] = await session.record_delivered(client, roster, rid, "还有吗", LATER, "guide-lin",
                                                       via="wecom_kf")
        seen["after"] = len(await session.messages(client, rid))
        return rid, seen

    rid, seen = run_with_redis(redis_url, body)
    assert (seen["first"].ok, seen["first"].index) == (True, 0)
    assert seen["outbox"] == [f"notify:{rid}"]  # no out: member: it reached the customer already
    idle = LATER.timestamp() + roster.idle_timeout_min * 60
    assert seen["timers"] == [(f"idle:{rid}", idle)]  # the reply timer stopped, the idle clock restarted
    assert (seen["details"]["first_reply_at"], seen["details"]["last_message_at"]) == (LATER.isoformat(),) * 2
    assert [(m["who"], m["text"], m["guide"], m["via"]) for m in seen["messages"]] == [
        ("guide", "您好", "guide-chen", "wecom_kf")]  # another servicer's message is recorded as theirs
    assert (seen["late"].ok, seen["late"].refused, seen["after"]) == (False, "ended", 1)
