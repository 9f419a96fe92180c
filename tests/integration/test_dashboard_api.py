"""The ops console's review and dashboard API (bot/console/dashboard_api.py) served by a
real console process (tests/integration/ops_console.py) against a real redis-server: staff sessions (no session 401, a guide
403, ops and admin 200), the review search, and dashboard numbers equal to what the
writers recorded (the turn log, checkin.lua, draw.lua, issue_coupon.lua, handoff
requests, the inbox)."""
from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.ops_console import OpsConsole  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def ops_console(tmp_path_factory) -> Iterator[OpsConsole]:
    running = OpsConsole.start(tmp_path_factory.mktemp("dashboard_api"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def redis_url(ops_console) -> str:
    return ops_console.redis.url


@pytest.fixture(scope="module")
def console(ops_console) -> str:
    return ops_console.url


def run(redis_url: str, body):
    from bot import redis_conn

    async def main():
        client = redis_conn.make_redis(redis_url)
        try:
            return await body(client)
        finally:
            await client.close()
    return asyncio.run(main())


@pytest.fixture(scope="module")
def sessions(ops_console) -> Dict[str, requests.cookies.RequestsCookieJar]:
    return {role: ops_console.login(role).cookies for role in ("ops", "admin", "guide")}


def turn_event(text, intent="greet", confidence=0.9, key="", at=None):
    parse = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}
    if key:
        parse["intent"]["full_retrieval_intent_name"] = key
    return {"event": "user", "text": text, "timestamp": at or time.time(), "parse_data": parse}


@pytest.fixture(scope="module")
def recorded(redis_url, sessions):
    """What the writers record: turns (as the tracker store writes them), check-ins, draws,
    a coupon, handoff requests and an open inbox group."""
    from actions.services import checkin, coupons, lottery
    from actions.services.catalog import catalog
    from common import handoff_routing as routing
    from common import inbox_store, traffic_log

    async def seed(client):
        turns = [
            traffic_log.turn("wechat_mp:o-alice", turn_event("包邮吗", "faq", 0.92, "faq/shipping_fee"), ["utter_faq"]),
            traffic_log.turn("wechat_mp:o-alice", turn_event("顺丰能发吗", "faq", 0.9, "faq/shipping_carrier"),
                             ["utter_faq"]),
            traffic_log.turn("wecom_kf:wm-bob", turn_event("包邮门槛是多少", "faq", 0.88, "faq/shipping_fee"),
                             ["utter_faq"]),
            traffic_log.turn("web:s-carol", turn_event("我电话13800138000你们卖猫粮吗", "nlu_fallback", 0.55),
                             ["action_faq_fallback"]),
            traffic_log.turn("web:s-carol", turn_event("你好", "greet", 0.99), ["utter_greet"]),
        ]
        # an entry of 40 days ago (stream ids are the recording time; older ids go first):
        # outside `from`, and outside a 30-day dashboard
        old = datetime.now(SHANGHAI) - timedelta(days=40)
        old_record = traffic_log.turn("wechat_mp:o-old", turn_event("很久以前的包邮问题", "faq", 0.9,
                                                                       "faq/shipping_fee", at=old.timestamp()))
        await client.xadd(traffic_log.STREAM, old_record, id=f"{int(old.timestamp() * 1000)}-0")
        await traffic_log.record(client, turns)

        cat = catalog()
        now = datetime.now(timezone.utc)
        for cid in ("c901", "c902"):
            await checkin.check_in(client, cat, cid, now, idem_key=f"{{brand}}:idem:{cid}:checkin:m1")
        await checkin.check_in(client, cat, "c901", now, idem_key="{brand}:idem:c901:checkin:m1")  # a retry
        await checkin.check_in(client, cat, "c901", now)  # already checked in today
        wheel = cat.lottery("spring_wheel")
        first_prize = wheel.prizes[0]
        await lottery.draw(client, cat, wheel, "c901", now, rand=0.0)  # wins the first prize
        await lottery.draw(client, cat, wheel, "c902", now, rand=0.999)  # no prize
        await lottery.draw(client, cat, wheel, "c902", now, rand=0.999)  # over the daily limit: refused
        await coupons.issue(client, cat, "c901", "welcome", now)
        await coupons.issue(client, cat, "c901", "welcome", now)  # once per customer

        # handoff requests: one of 40 days ago, one answered after 60 s, one waiting
        moment = datetime.now(SHANGHAI)
        await client.hset(routing.request_key("1"), mapping={
            "customer": "c900", "status": "ended", "reason": "asked",
            "requested_at": (moment - timedelta(days=40)).isoformat(),
            "first_reply_at": (moment - timedelta(days=40) + timedelta(seconds=5)).isoformat()})
        await client.hset(routing.request_key("2"), mapping={
            "customer": "c901", "status": "ended", "reason": "complaint", "guide": "guide-lin",
            "requested_at": (moment - timedelta(seconds=120)).isoformat(),
            "first_reply_at": (moment - timedelta(seconds=60)).isoformat()})
        await client.hset(routing.request_key("3"), mapping={
            "customer": "c902", "status": "queued", "reason": "asked",
            "requested_at": (moment - timedelta(seconds=30)).isoformat()})
        await client.set(routing.REQUEST_SEQ, 3)
        await client.zadd(routing.QUEUE, {"3": 1})

        # an open inbox group (as actions/faq/inbox.py leaves it)
        await client.hset(inbox_store.group_key("7"), mapping={
            "label": "你们卖猫粮吗", "status": "open", "count": 4, "first_ts": "2026-01-01T00:00:00Z",
            "last_ts": "2026-01-02T00:00:00Z", "top_guess": "null"})
        await client.zadd(inbox_store.OPEN, {"7": 4})
        return {"first_prize": first_prize.id, "first_prize_stock": first_prize.stock}

    return run(redis_url, seed)


def get(console, path, role=None, sessions=None, **params):
    cookies = sessions[role] if role else None
    return requests.get(f"{console}{path}", params=params, cookies=cookies, timeout=30)


# --- who may ask ---------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/ops/review", "/api/ops/review/conversation/web:s-carol",
                                  "/api/ops/dashboard"])
def test_only_ops_and_admins_see_the_review_and_the_dashboard(console, sessions, path):
    assert get(console, path).status_code == 401
    forged = requests.get(f"{console}{path}", cookies={"staff_session": "forged"}, timeout=10)
    assert forged.status_code == 401
    guide = get(console, path, "guide", sessions)
    assert guide.status_code == 403 and "turns" not in guide.json()
    assert get(console, path, "ops", sessions).status_code == 200
    answer = get(console, path, "admin", sessions)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"


# --- the review --------------------------------------------------------------------------

def texts(answer):
    assert answer.status_code == 200, answer.text
    return [t["text"] for t in answer.json()["turns"]]


def test_review_searches_newest_first_by_text_intent_channel_day_and_low(console, sessions, recorded):
    today = datetime.now(SHANGHAI).date()
    assert texts(get(console, "/api/ops/review", "ops", sessions)) == \
        ["你好", "我电话138****8000你们卖猫粮吗", "包邮门槛是多少", "顺丰能发吗", "包邮吗", "很久以前的包邮问题"]
    since = (today - timedelta(days=1)).isoformat()
    assert texts(get(console, "/api/ops/review", "ops", sessions, q="包邮", **{"from": since})) == \
        ["包邮门槛是多少", "包邮吗"]
    assert texts(get(console, "/api/ops/review", "ops", sessions, intent="faq/shipping_fee",
                     **{"from": since})) == ["包邮门槛是多少", "包邮吗"]
    assert texts(get(console, "/api/ops/review", "ops", sessions, channel="wecom_kf")) == ["包邮门槛是多少"]
    low = get(console, "/api/ops/review", "ops", sessions, low="1")
    assert texts(low) == ["我电话138****8000你们卖猫粮吗"]
    (turn,) = low.json()["turns"]
    assert (turn["sender"], turn["channel"], turn["intent"], turn["low"], turn["actions"]) == \
        ("web:s-carol", "web", "nlu_fallback", True, ["action_faq_fallback"])
    assert turn["confidence"] == pytest.approx(0.55) and turn["time"].endswith("+08:00")
    # the raw phone number, typed into the search, finds the masked turn
    assert texts(get(console, "/api/ops/review", "ops", sessions, q="13800138000")) == ["我电话138****8000你们卖猫粮吗"]
    old_day = (today - timedelta(days=40)).isoformat()
    assert texts(get(console, "/api/ops/review", "ops", sessions, **{"from": old_day, "to": old_day})) == \
        ["很久以前的包邮问题"]
    assert texts(get(console, "/api/ops/review", "ops", sessions, **{"to": (today - timedelta(days=2)).isoformat()})) \
        == ["很久以前的包邮问题"]


def test_review_pages_with_a_cursor(console, sessions, recorded):
    since = (datetime.now(SHANGHAI).date() - timedelta(days=1)).isoformat()
    first = get(console, "/api/ops/review", "ops", sessions, limit=2, **{"from": since}).json()
    assert [t["text"] for t in first["turns"]] == ["你好", "我电话138****8000你们卖猫粮吗"]
    second = get(console, "/api/ops/review", "ops", sessions, limit=2, before=first["next_before"],
                 **{"from": since}).json()
    third = get(console, "/api/ops/review", "ops", sessions, limit=2, before=second["next_before"],
                **{"from": since}).json()
    assert [t["text"] for t in second["turns"] + third["turns"]] == ["包邮门槛是多少", "顺丰能发吗", "包邮吗"]
    assert third["next_before"] is None


def test_review_refuses_bad_arguments(console, sessions):
    for params in ({"from": "2026-13-01"}, {"to": "yesterday"}, {"before": "x-1"}, {"limit": "many"},
                   {"from": "2026-03-02", "to": "2026-03-01"}, {"q": "长" * 101}):
        assert get(console, "/api/ops/review", "ops", sessions, **params).status_code == 400, params


def test_one_senders_conversation_in_order(console, sessions, recorded):
    answer = get(console, "/api/ops/review/conversation/web:s-carol", "ops", sessions)
    assert answer.status_code == 200
    body = answer.json()
    assert body["sender"] == "web:s-carol" and texts(answer) == ["我电话138****8000你们卖猫粮吗", "你好"]
    encoded = get(console, "/api/ops/review/conversation/wechat_mp%3Ao-alice", "ops", sessions)
    assert texts(encoded) == ["包邮吗", "顺丰能发吗"]
    assert texts(get(console, "/api/ops/review/conversation/web:nobody", "ops", sessions)) == []


# --- the dashboard -----------------------------------------------------------------------

def test_dashboard_numbers_match_what_was_recorded(console, sessions, recorded):
    answer = get(console, "/api/ops/dashboard", "ops", sessions, days=30)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert len(data["days"]) == 30 and data["days"][-1] == datetime.now(SHANGHAI).date().isoformat()
    messages = data["messages"]
    assert messages["period_total"] == sum(messages["total"]) == 5  # the 40-day-old turn is not counted
    assert {ch: sum(v) for ch, v in messages["by_channel"].items()} == {"wechat_mp": 2, "wecom_kf": 1, "web": 2}
    assert all(len(series) == 30 for series in messages["by_channel"].values())
    assert max(messages["senders"]) == 3
    fallback = data["fallback"]
    assert sum(fallback["low"]) == 1 and fallback["period_rate"] == pytest.approx(0.2)
    assert [r for r in fallback["rate"] if r is not None] == [pytest.approx(0.2)]
    assert data["top_faq"] == [{"key": "faq/shipping_fee", "count": 2}, {"key": "faq/shipping_carrier", "count": 1}]
    assert data["unanswered"]["open_groups"] == 1
    assert data["unanswered"]["groups"][0]["label"] == "你们卖猫粮吗" and data["unanswered"]["groups"][0]["count"] == 4

    handoffs = data["handoffs"]
    assert handoffs["waiting_now"] == 1 and handoffs["complete"] is True
    assert handoffs["period"]["requests"] == 2 and handoffs["period"]["answered"] == 1
    assert handoffs["period"]["median_wait_s"] == pytest.approx(60, abs=1)
    assert handoffs["period"]["by_reason"] == {"complaint": 1, "asked": 1}
    assert sum(handoffs["per_day"]["requests"]) == 2
    assert handoffs["per_guide"][0]["guide"] == "guide-lin" and handoffs["per_guide"][0]["name"] == "林导购"
    assert handoffs["oldest_waiting_s"] >= 30

    checkin = data["checkin"]
    assert checkin["period_total"] == checkin["per_day"][-1] == 2  # the retry and the second try count nothing
    (wheel,) = [lot for lot in data["lotteries"] if lot["id"] == "spring_wheel"]
    assert wheel["draws"][-1] == 2 and wheel["winners_total"] == 1  # the refused third draw is not a draw
    stock = {p["prize"]: p for p in wheel["stock"]}
    assert stock[recorded["first_prize"]]["left"] == recorded["first_prize_stock"] - 1
    coupons = {c["type"]: c for c in data["coupons"]["types"]}
    assert coupons["welcome"]["issued"] == 1 and coupons["welcome"]["used"] is None
    assert data["coupons"]["used_total"] is None and "coupons.used" in data["nulls"]


def test_dashboard_days_are_bounded(console, sessions):
    assert len(get(console, "/api/ops/dashboard", "ops", sessions, days=500).json()["days"]) == 120
    assert len(get(console, "/api/ops/dashboard", "ops", sessions, days=0).json()["days"]) == 1
    assert get(console, "/api/ops/dashboard", "ops", sessions, days="x").status_code == 400


def test_echarts_is_served_from_our_origin(console):
    # `make test` runs scripts/setup.sh, which installs it (npm ci): missing is a failure
    answer = requests.get(f"{console}/vendor/echarts.min.js", timeout=10)
    assert answer.status_code == 200 and "javascript" in answer.headers["Content-Type"]
    assert "echarts" in answer.text[:2000].lower()

