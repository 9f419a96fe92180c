"""scripts/ops.py: what ops see for a campaign and a customer."""
from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path

from actions.services import prizes, store
from actions.services.catalog import catalog
from common.key_tags import MARKETING as TAG

_spec = importlib.util.spec_from_file_location("ops", Path(__file__).resolve().parents[2] / "scripts" / "ops.py")
ops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ops)


def test_campaign_lists_stock_winners_and_unfilled_addresses_masked(redis_server, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    cat = catalog()

    async def seed():
        from actions.services import lottery
        from actions.services.clock import utc_now
        client = store.make_client(redis_server.url)
        await client.flushdb()
        campaign = cat.lottery("spring_wheel")
        won = [await lottery.draw(client, cat, campaign, f"c{i}", utc_now(), rand=0.0) for i in range(2)]
        await prizes.save_address(client, "c0", won[0].claim_id, {
            "recipient_name": "王小明", "recipient_phone": "13800138000", "address_province": "上海市",
            "address_city": "上海市", "address_detail": "浦东新区张江路88号3楼"}, utc_now())
        await client.aclose()

    asyncio.run(seed())
    assert ops.main(["campaign", "spring_wheel"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {s["prize"]: s["left"] for s in shown["stock"]}["green_serum_full"] == 3
    assert [w["customer"] for w in shown["unfilled_addresses"]] == ["c1"]
    filled = next(w for w in shown["winners"] if w["customer"] == "c0")
    assert filled["recipient_phone"] == "138****8000" and filled["address_detail"] == "浦东新区***"
    assert ops.main(["campaign", "spring_wheel", "--full"]) == 0
    assert "13800138000" in capsys.readouterr().out


def test_alerts_lists_an_empty_coupon_pool(redis_server, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_server.url)

    async def seed():
        from actions.services import coupons
        from actions.services.clock import utc_now
        client = store.make_client(redis_server.url)
        await client.flushdb()
        assert (await coupons.issue(client, catalog(), "c1", "partner_sf", utc_now(), grant_id=TAG + "grant:t:c1:claim1")).status == "empty"
        await client.aclose()

    asyncio.run(seed())
    assert ops.main(["alerts"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(a["type"], a["coupon"], a["customer"]) for a in shown["alerts"]] == [("coupon_pool_empty", "partner_sf", "c1")]
    assert shown["alerts"][0]["at"] and shown["grants_pending"] == 0


def test_unreachable_redis_is_reported_not_raised(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert ops.main(["customer", "c1"]) == 2
    assert "Redis unavailable" in capsys.readouterr().err


def test_handoffs_report_waiting_reply_times_abandoned_and_per_guide(redis_server, monkeypatch, capsys):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from common import handoff_routing as routing, handoff_session as session
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monday_10 = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    roster = routing.load_roster()

    async def seed():
        client = store.make_client(redis_server.url)
        await client.flushdb()
        for i, wait_s in enumerate((30, 90, 600)):  # three answered, after 30 s, 90 s and 10 min
            routed = await routing.request(client, roster, f"c{i}", monday_10, bound_guide="guide-lin",
                                           sender=f"web:s{i}")
            await session.append(client, roster, routed.request_id, session.GUIDE, "您好",
                                 monday_10 + timedelta(seconds=wait_s), guide="guide-lin")
        silent = await routing.request(client, roster, "c9", monday_10, bound_guide="guide-chen", sender="web:s9")
        await routing.free_and_offer(client, roster, roster.guide("guide-chen"), monday_10,
                                     freed_request=silent.request_id)  # ended with no reply: abandoned
        await client.hset(routing.LOAD, mapping={"guide-lin": 5, "guide-chen": 5, "guide-wang": 5})
        await routing.request(client, roster, "c10", monday_10, sender="web:s10")  # everyone full: waits
        await client.xadd(routing.COMPLAINTS, {"customer": "c1", "text": "电话13800138000一直打不通"})
        await client.aclose()

    asyncio.run(seed())
    assert ops.main(["handoffs"]) == 0
    levels = json.loads(capsys.readouterr().out)
    assert (levels["waiting_now"], levels["held_now"], levels["answered"], levels["abandoned"]) == (1, 3, 3, 1)
    assert (levels["median_first_reply_s"], levels["p90_first_reply_s"]) == (90.0, 600.0)
    assert levels["per_guide"]["guide-lin"]["holding_now"] == 3
    assert levels["per_guide"]["guide-chen"]["abandoned"] == 1
    assert ops.main(["complaints"]) == 0
    shown = json.loads(capsys.readouterr().out)["complaints"]
    assert shown[0]["customer"] == "c1" and "13800138000" not in shown[0]["text"] and "打不通" in shown[0]["text"]
