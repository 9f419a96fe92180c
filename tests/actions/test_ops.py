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
