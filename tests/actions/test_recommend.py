"""Recommendations from 肤质/人群 tags; one question when the skin type is unknown."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.base import customer_context
from actions.recommend import ActionRecommendProduct
from actions.services import tags
from marketing_support import kwargs_of, make_tracker, responses

pytestmark = pytest.mark.asyncio


async def run(tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionRecommendProduct().run(dispatcher, tracker, {})
    return dispatcher, events


async def test_unknown_skin_type_asks_once_then_the_answer_becomes_a_tag(redis, fake_clock):
    asked, _ = await run(make_tracker(intent="recommend_product", text="推荐个面霜"))
    assert responses(asked) == ["utter_ask_skin_type"]
    answer = make_tracker(intent="inform_skin_type", text="我是干皮", entities=[{"entity": "skin_type", "value": "dry"}],
                          extra_events=[])
    answered, events = await run(answer)
    assert events == [] and responses(answered) == ["utter_recommend_products"]
    assert kwargs_of(answered, "utter_recommend_products")["skin"] == "干皮"
    cid = (await customer_context(answer)).cid
    assert "skin:dry" in await tags.tags_of(redis, cid)
    again, _ = await run(make_tracker(intent="recommend_product", text="有什么精华"))
    assert responses(again) == ["utter_recommend_products"]  # not asked twice


async def test_products_match_the_request_and_the_skin(redis, fake_clock):
    dispatcher, _ = await run(make_tracker(intent="recommend_product", text="干皮推荐什么面霜",
                                           entities=[{"entity": "skin_type", "value": "dry"}]))
    assert kwargs_of(dispatcher, "utter_recommend_products")["products"].startswith("· 水光保湿面霜")


async def test_pregnant_customers_get_the_pregnancy_lotion_and_others_do_not(redis, catalog, fake_clock):
    ctx = await customer_context(make_tracker())
    await tags.change(redis, catalog, ctx.cid, add=["skin:normal", "audience:pregnant"], by="import", reason="t", now=fake_clock())
    dispatcher, _ = await run(make_tracker(intent="recommend_product", text="推荐个乳液"))
    assert "孕期保湿乳" in kwargs_of(dispatcher, "utter_recommend_products")["products"]
    other, _ = await run(make_tracker(sender_id="someone-else", intent="recommend_product", text="推荐个乳液",
                                      entities=[{"entity": "skin_type", "value": "normal"}]))
    assert "孕期保湿乳" not in kwargs_of(other, "utter_recommend_products")["products"]


async def test_men_get_the_mens_cleanser(redis, catalog, fake_clock):
    ctx = await customer_context(make_tracker())
    await tags.change(redis, catalog, ctx.cid, add=["skin:oily", "audience:men"], by="import", reason="t", now=fake_clock())
    dispatcher, _ = await run(make_tracker(intent="recommend_product", text="推荐个洗面奶"))
    assert kwargs_of(dispatcher, "utter_recommend_products")["products"].startswith("· 男士清爽洁面")
