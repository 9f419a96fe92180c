"""One customer per person, tags with history, tag rules, greetings, outages."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.base import customer_context
from actions.greet import ActionGreet
from actions.recommend import ActionRecommendProduct
from actions.services import customers, store, tag_import, tags
from marketing_support import WECHAT_ALICE, kwargs_of, make_tracker, responses
from common.key_tags import MARKETING as TAG

pytestmark = pytest.mark.asyncio


async def test_unionid_joins_the_same_person_across_channels(redis, fake_clock):
    mp = await customer_context(make_tracker(sender_id="wechat_mp:o-openid", channel="wechat_mp", metadata={"unionid": "U1", "scene": "qr_store_sh"}))
    kf = await customer_context(make_tracker(sender_id="wecom_kf:wm-external", channel="wecom_kf", metadata={"unionid": "U1"}))
    web = await customer_context(make_tracker(sender_id="web-session", channel="rest"))
    assert mp.cid == kf.cid != web.cid
    profile = await customers.profile(redis, mp.cid)
    assert (profile["first_channel"], profile["first_scene"]) == ("wechat_mp", "qr_store_sh")
    assert await redis.smembers(customers.key(mp.cid, "idents")) == {"unionid:U1", "wechat_mp:o-openid", "wecom_kf:wm-external"}
    assert "channel:wechat_mp" in await tags.tags_of(redis, mp.cid)


async def test_identity_ignores_slots(redis, fake_clock):
    a = await customer_context(make_tracker(sender_id="alice", slots={"customer_id": "c1"}))
    b = await customer_context(make_tracker(sender_id="bob", slots={"customer_id": a.cid}))
    assert a.cid != b.cid


async def test_exclusive_group_and_history_of_every_change(redis, catalog, fake_clock):
    await tags.change(redis, catalog, "c1", add=["level:silver"], by="import:a.csv", reason="SCRM import", now=fake_clock())
    fake_clock.now += timedelta(days=30)
    changes = await tags.change(redis, catalog, "c1", add=["level:gold"], by="import:b.csv", reason="SCRM import", now=fake_clock())
    assert changes == ["-level:silver", "+level:gold"]
    assert await tags.tags_of(redis, "c1") == {"level:gold"}
    assert (await customers.profile(redis, "c1"))["level"] == "金卡"
    log = await tags.history(redis, "c1")
    assert [(e["op"], e["tag"], e["by"]) for e in log] == [
        ("add", "level:gold", "import:b.csv"), ("remove", "level:silver", "import:b.csv"), ("add", "level:silver", "import:a.csv")]


async def test_three_recommendation_asks_within_seven_days_mark_high_intent(redis, tracker, fake_clock):
    ask = make_tracker(intent="recommend_product", text="油皮用什么好",
                       entities=[{"entity": "skin_type", "value": "oily"}])
    for day in range(3):
        assert "intent:high" not in await tags.tags_of(redis, (await customer_context(ask)).cid)
        await ActionRecommendProduct().run(CollectingDispatcher(), ask, {})
        fake_clock.now += timedelta(days=3)
    cid = (await customer_context(ask)).cid
    assert "intent:high" in await tags.tags_of(redis, cid)
    assert any(e["by"] == "rule:high_intent" for e in await tags.history(redis, cid))


async def test_asks_spread_over_more_than_seven_days_do_not(redis, fake_clock):
    ask = make_tracker(intent="recommend_product", text="推荐个面霜")
    for _ in range(3):
        await ActionRecommendProduct().run(CollectingDispatcher(), ask, {})
        fake_clock.now += timedelta(days=4)
    assert "intent:high" not in await tags.tags_of(redis, (await customer_context(ask)).cid)


async def test_gold_member_gets_the_member_greeting(redis, catalog, fake_clock):
    ctx = await customer_context(make_tracker(sender_id=WECHAT_ALICE))
    await tags.change(redis, catalog, ctx.cid, add=["level:gold"], by="ops", reason="test", now=fake_clock())
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, make_tracker(sender_id=WECHAT_ALICE), {})
    assert responses(dispatcher) == ["utter_greet_member"]
    assert kwargs_of(dispatcher, "utter_greet_member")["level"] == "金卡"


async def test_a_new_person_gets_the_welcome_offer_once(redis, fake_clock):
    first, second = CollectingDispatcher(), CollectingDispatcher()
    await ActionGreet().run(first, make_tracker(sender_id=WECHAT_ALICE), {})
    await ActionGreet().run(second, make_tracker(sender_id=WECHAT_ALICE), {})
    assert responses(first) == ["utter_greet", "utter_welcome_offer"]
    assert kwargs_of(first, "utter_welcome_offer")["code"].startswith("QHW")
    assert responses(second) == ["utter_greet"]


async def test_an_imported_customer_is_not_new(redis, catalog, fake_clock):
    csv_text = "customer_key,tags\nwechat_mp:openid-alice,干皮|学生党\n"
    await tag_import.import_csv(redis, catalog, io.StringIO(csv_text), fake_clock(), "scrm.csv")
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, make_tracker(sender_id=WECHAT_ALICE, channel="wechat_mp"), {})
    assert responses(dispatcher) == ["utter_greet"]


async def test_csv_import_reports_unknown_tags_and_bad_rows(redis, catalog, fake_clock):
    csv_text = ("customer_key,tags,name,guide\n"
                "unionid:U9,会员等级:金卡;敏感肌,小雨,guide-lin\n"
                "wecom_kf:wm1,金卡 火星人\n"
                ",金卡\n"
                "wecom_kf:wm2,火星人\n"
                "c999,金卡\n")
    report = await tag_import.import_csv(redis, catalog, io.StringIO(csv_text), fake_clock(), "scrm.csv")
    assert (report.rows, report.imported, report.customers_created) == (5, 2, 2)
    assert report.unknown_tags == {"火星人": 2}
    assert [line for line, _ in report.bad_rows] == [4, 5, 6]
    cid = await redis.get(TAG + "cust:ident:unionid:U9")
    assert await tags.tags_of(redis, cid) == {"level:gold", "skin:sensitive"}
    profile = await customers.profile(redis, cid)
    assert (profile["name"], profile["guide"], profile["level"]) == ("小雨", "guide-lin", "金卡")


async def test_redis_down_gives_the_apology_and_no_events(monkeypatch, fake_clock):
    dead = store.make_client("redis://127.0.0.1:1/0")
    store.use_client(dead)
    try:
        for action in (ActionGreet(), ActionRecommendProduct()):
            dispatcher = CollectingDispatcher()
            assert await action.run(dispatcher, make_tracker(), {}) == []
            assert responses(dispatcher) == ["utter_service_unavailable"]
    finally:
        store.use_client(None)


async def test_price_questions_count_towards_high_intent_too(redis, fake_clock):
    for text in ("预算300左右买什么好", "有什么平价的精华", "推荐个面霜"):
        await ActionRecommendProduct().run(CollectingDispatcher(), make_tracker(intent="recommend_product", text=text), {})
    cid = (await customer_context(make_tracker())).cid
    reasons = [e["reason"] for e in await tags.history(redis, cid) if e["tag"] == "intent:high"]
    assert reasons == ["asked_recommendation"] and "intent:high" in await tags.tags_of(redis, cid)
