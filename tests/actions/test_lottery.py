"""Lottery draws: stock and per-customer limits hold under parallel draws."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from rasa_sdk.events import SlotSet

from actions.lottery import ActionLottery
from actions.services import lottery, prizes, tags
from actions.services.catalog import Prize
from marketing_support import kwargs_of, responses

pytestmark = pytest.mark.asyncio


def only_prize(catalog, stock: int, daily: int = 1, total: int = 1, kind: str = "physical"):
    """A campaign where every draw hits one prize (no "no prize" outcome)."""
    base = catalog.lottery("spring_wheel")
    return replace(base, no_prize_weight=0, daily_limit=daily, total_limit=total,
                   prizes=(Prize(id="star", name="明星小样", kind=kind, stock=stock, weight=100),))


async def test_two_hundred_parallel_draws_never_exceed_a_stock_of_five(redis, catalog, fake_clock):
    campaign = only_prize(catalog, stock=5)
    draws = await asyncio.gather(*(lottery.draw(redis, catalog, campaign, f"c{i}", fake_clock()) for i in range(200)))
    winners = [d for d in draws if d.outcome == "won"]
    assert len(winners) == 5
    assert len({d.claim_id for d in winners}) == 5
    assert (await lottery.stock(redis, campaign))["star"] == 0
    assert await redis.llen(lottery.winners_key(campaign.id)) == 5
    assert all(d.outcome == "none" for d in draws if d.outcome != "won")


async def test_parallel_draws_of_one_customer_respect_daily_and_total_limits(redis, catalog, fake_clock):
    campaign = only_prize(catalog, stock=1000, daily=2, total=3)
    day1 = await asyncio.gather(*(lottery.draw(redis, catalog, campaign, "c1", fake_clock()) for _ in range(50)))
    assert sum(d.outcome == "won" for d in day1) == 2
    assert sum(d.outcome == "limit_daily" for d in day1) == 48
    fake_clock.now += timedelta(days=1)
    day2 = await asyncio.gather(*(lottery.draw(redis, catalog, campaign, "c1", fake_clock()) for _ in range(50)))
    assert sum(d.outcome == "won" for d in day2) == 1  # the total of 3 is reached
    assert sum(d.outcome == "limit_total" for d in day2) == 49
    assert len(await prizes.of_customer(redis, "c1")) == 3


async def test_eligibility_by_tags_picks_the_member_campaign(catalog, fake_clock):
    assert lottery.pick_campaign(catalog, {"level:gold"}, fake_clock()).id == "gold_day"
    assert lottery.pick_campaign(catalog, {"level:silver"}, fake_clock()).id == "spring_wheel"
    ended = fake_clock.set_local("2031-01-01T00:00:00")
    assert lottery.pick_campaign(catalog, set(), ended) is None


async def test_weights_pick_the_no_prize_outcome(redis, catalog, fake_clock):
    campaign = catalog.lottery("spring_wheel")
    assert (await lottery.draw(redis, catalog, campaign, "c1", fake_clock(), rand=0.99)).outcome == "none"


async def test_winning_a_parcel_starts_the_address_form_and_tags_the_winner(redis, catalog, tracker, dispatcher, fake_clock, monkeypatch):
    monkeypatch.setattr(lottery._rng, "random", lambda: 0.0)  # first prize: 小绿瓶 正装 (physical)
    events = await ActionLottery().run(dispatcher, tracker(intent="lottery"), {})
    assert responses(dispatcher) == ["utter_lottery_won_parcel"]
    assert kwargs_of(dispatcher, "utter_lottery_won_parcel")["prize"] == "小绿瓶修护精华 正装"
    assert events[0] == SlotSet("prize_pending", True)
    claim = await prizes.get(redis, events[1]["value"])
    assert claim.status == prizes.AWAITING_ADDRESS
    assert {"campaign:spring_wheel", "campaign:spring_wheel:winner"} <= await tags.tags_of(redis, claim.customer)


async def test_coupon_prize_gives_a_code_and_no_form(redis, catalog, tracker, dispatcher, fake_clock, monkeypatch):
    monkeypatch.setattr(lottery._rng, "random", lambda: 0.2)  # 20 of 100: past 小绿瓶 (2) and 面膜 (13), in the coupon (20)
    events = await ActionLottery().run(dispatcher, tracker(intent="lottery"), {})
    assert responses(dispatcher) == ["utter_lottery_won_coupon"]
    assert kwargs_of(dispatcher, "utter_lottery_won_coupon")["code"].startswith("QHL")
    assert events == [SlotSet("prize_pending", False)]


async def test_second_draw_the_same_day_is_refused_kindly(redis, tracker, fake_clock, monkeypatch):
    from rasa_sdk.executor import CollectingDispatcher
    monkeypatch.setattr(lottery._rng, "random", lambda: 0.99)
    await ActionLottery().run(CollectingDispatcher(), tracker(intent="lottery"), {})
    second = CollectingDispatcher()
    await ActionLottery().run(second, tracker(intent="lottery"), {})
    assert responses(second) == ["utter_lottery_limit_daily"]
    assert kwargs_of(second, "utter_lottery_limit_daily")["limit"] == 1
