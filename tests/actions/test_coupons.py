"""Coupons: one per customer per type, codes unique and never reused."""
from __future__ import annotations

import asyncio

import pytest

from actions.coupons import ActionMyCoupons
from actions.services import coupons
from marketing_support import kwargs_of, responses

pytestmark = pytest.mark.asyncio


async def test_parallel_issuing_gives_every_customer_a_different_code(redis, catalog, fake_clock):
    issued = await asyncio.gather(*(coupons.issue(redis, catalog, f"c{i}", "lottery_20", fake_clock()) for i in range(300)))
    codes = [i.code for i in issued]
    assert all(i.status == "issued" for i in issued)
    assert len(set(codes)) == 300


async def test_one_customer_gets_one_coupon_per_type_even_in_parallel(redis, catalog, fake_clock):
    issued = await asyncio.gather(*(coupons.issue(redis, catalog, "c1", "welcome", fake_clock()) for _ in range(50)))
    assert [i.status for i in issued].count("issued") == 1
    assert len({i.code for i in issued}) == 1


async def test_pool_codes_are_never_reused_even_when_loaded_again(redis, catalog, fake_clock):
    assert await coupons.load_codes(redis, "partner_sf", ["SF001", "SF002", "SF001"]) == 2
    first = await coupons.issue(redis, catalog, "c1", "partner_sf", fake_clock())
    assert await coupons.load_codes(redis, "partner_sf", [first.code, "SF003"]) == 1  # the issued code is refused
    others = await asyncio.gather(*(coupons.issue(redis, catalog, f"c{i}", "partner_sf", fake_clock()) for i in range(2, 10)))
    assert sorted(o.code for o in others if o.status == "issued") == sorted({"SF001", "SF002", "SF003"} - {first.code})
    assert [o.status for o in others].count("empty") == 6


async def test_my_coupons_lists_codes(redis, tracker, dispatcher, fake_clock):
    from actions.base import customer_context
    ctx = await customer_context(tracker())
    await coupons.issue(redis, ctx.catalog, ctx.cid, "checkin_7", fake_clock())
    await ActionMyCoupons().run(dispatcher, tracker(intent="my_coupons"), {})
    assert responses(dispatcher) == ["utter_my_coupons_list"]
    message = kwargs_of(dispatcher, "utter_my_coupons_list")
    assert message["count"] == 1 and "QHC7" in message["coupons"] and "满 99 减 15" in message["coupons"]


async def test_my_coupons_when_empty(redis, tracker, dispatcher, fake_clock):
    await ActionMyCoupons().run(dispatcher, tracker(intent="my_coupons"), {})
    assert responses(dispatcher) == ["utter_my_coupons_none"]
