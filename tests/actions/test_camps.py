"""报名焕肤营: enrolment while the camp is open, once; day 1's tip and the streak rewards."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.camps import ActionJoinCamp
from actions.services import camps
from marketing_support import kwargs_of, make_tracker, responses

pytestmark = pytest.mark.asyncio


async def join(sender: str):
    dispatcher = CollectingDispatcher()
    await ActionJoinCamp().run(dispatcher, make_tracker(sender_id=sender, intent="join_camp"), {})
    return dispatcher


async def test_a_customer_joins_once_and_hears_the_first_tip_and_the_rewards(redis, catalog, fake_clock):
    first = await join("wechat_mp:oCamper")
    assert responses(first) == ["utter_camp_joined"]
    said = kwargs_of(first, "utter_camp_joined")
    assert said["camp"] == "28天焕肤营" and said["days"] == 28
    assert said["tip"] == catalog.camps[0].tips[0]
    assert "连续签到 7 天" in said["rewards"] and "连续签到 28 天" in said["rewards"]
    fake_clock.now += timedelta(days=3)
    again = await join("wechat_mp:oCamper")
    assert responses(again) == ["utter_camp_already"] and kwargs_of(again, "utter_camp_already")["day"] == 4
    assert len(await camps.members(redis, "glow28")) == 1


async def test_outside_enrolment_or_on_the_web_nobody_is_enrolled(redis, catalog, fake_clock):
    assert responses(await join("web:visitor")) == ["utter_camp_wechat_only"]
    fake_clock.now = catalog.camps[0].enrol_end + timedelta(days=1)
    assert responses(await join("wechat_mp:oTooLate")) == ["utter_camp_closed"]
    assert await camps.members(redis, "glow28") == []
