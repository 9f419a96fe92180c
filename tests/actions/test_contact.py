"""锁客 (issue 12, item 2), as Rasa calls the actions: a guide's WeCom add binds the customer
the first time and applies the way's tags; a later add through another guide's way does
not move them; 公众号 / 微信客服 arrivals with a state get the same mapping once."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.base import customer_context
from actions.contact import ActionContactAdded
from actions.services import tags
from common.handoff_routing import WAY_PREFIX, profile_key
from marketing_support import kwargs_of, make_tracker, responses

pytestmark = pytest.mark.asyncio
CUSTOMER = "wecom_kf:wmContact1"


def added(guide: str, state: str, channel: str = "wecom", sender: str = CUSTOMER):
    return make_tracker(sender_id=sender, intent="contact_added", text="/contact_added", channel=channel,
                        metadata={"contact_event": {"guide": guide, "state": state}})


async def way(redis, state: str, guides: str, tag_ids: str, welcome: str = "", rebind: str = "0") -> None:
    await redis.hset(WAY_PREFIX + state, mapping={"state": state, "guides": guides, "tags": tag_ids,
                                                   "welcome": welcome, "rebind": rebind})


async def run(tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionContactAdded().run(dispatcher, tracker, {})
    return dispatcher, events


async def test_the_first_guide_binds_tags_and_welcomes_and_a_second_add_does_not_move_the_customer(redis, fake_clock):
    await way(redis, "s1", "guide-lin", "channel:wecom,audience:student")
    await way(redis, "s2", "guide-chen", "intent:high", welcome="我是陈导购，欢迎来店里试色～")
    first, events = await run(added("guide-lin", "s1"))
    cid = (await customer_context(added("guide-lin", "s1"))).cid
    assert events == [] and responses(first) == ["utter_contact_welcome"]
    assert kwargs_of(first, "utter_contact_welcome")["guide"] == "林导购"
    assert await redis.hget(profile_key(cid), "guide") == "guide-lin"
    assert {"channel:wecom", "audience:student"} <= await tags.tags_of(redis, cid)
    later, _ = await run(added("guide-chen", "s2"))
    assert await redis.hget(profile_key(cid), "guide") == "guide-lin"  # still her first guide
    assert "intent:high" in await tags.tags_of(redis, cid)  # the second way's tags still apply
    assert [m.get("text") for m in later.messages] == ["我是陈导购，欢迎来店里试色～"]  # that way's own welcome


async def test_a_way_that_allows_it_moves_a_bound_customer(redis, fake_clock):
    await way(redis, "s1", "guide-lin", "")
    await way(redis, "move", "guide-wang", "", rebind="1")
    await run(added("guide-lin", "s1"))
    await run(added("guide-wang", "move"))
    cid = (await customer_context(added("guide-wang", "move"))).cid
    assert await redis.hget(profile_key(cid), "guide") == "guide-wang"


async def test_only_the_wecom_channel_s_event_binds(redis, fake_clock):
    typed = added("guide-lin", "s1", channel="wechat_mp", sender="wechat_mp:o-typist")  # "/contact_added" typed
    said, _ = await run(typed)
    assert said.messages == []
    cid = (await customer_context(typed)).cid
    assert await redis.hget(profile_key(cid), "guide") is None


async def test_a_qr_scene_or_scene_param_applies_its_way_once(redis, fake_clock, catalog):
    await way(redis, "store_jingan", "guide-chen", "audience:mature")
    scanned = make_tracker(sender_id="wechat_mp:o-scan", intent="greet", text="/greet", metadata={"scene": "store_jingan"})
    cid = (await customer_context(scanned)).cid
    assert await redis.hget(profile_key(cid), "guide") == "guide-chen"
    assert "audience:mature" in await tags.tags_of(redis, cid)
    await tags.change(redis, catalog, cid, remove=["audience:mature"], by="ops", reason="wrong", now=fake_clock.now)
    await customer_context(scanned)  # the same scene again: counted once, ops' removal stands
    assert "audience:mature" not in await tags.tags_of(redis, cid)
    kf = make_tracker(sender_id="wecom_kf:wm-link", intent="greet", text="/greet",
                      metadata={"scene": "1", "scene_param": "store_jingan"})
    assert "audience:mature" in await tags.tags_of(redis, (await customer_context(kf)).cid)
