"""The ops console's 触达 API (bot/console/outbound_api.py) served by a real console process
(tests/integration/ops_console.py) against a real redis-server: staff sessions (no session
401, a guide 403, a write without the CSRF header 403), segment previews counting the
customers the channels left in Redis, pushes created for the outbound worker (scheduled,
by the signed-in account, in the brand's time zone), refused in Chinese, cancelled; parcel
claims listed with phone and address masked, and marked shipped with the winner's notice
queued exactly once (actions/services/lua/ship_claim.lua)."""
from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.integration.ops_console import OpsConsole

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "13812345678"
DETAIL = "西湖区文三路100号3单元501"
ADDRESS = {"recipient_name": "林小禾", "recipient_phone": PHONE, "address_province": "浙江省",
           "address_city": "杭州市", "address_detail": DETAIL}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    running = OpsConsole.start(tmp_path_factory.mktemp("outbound_api"))
    try:
        yield running
    finally:
        running.stop()


def run(console: OpsConsole, body: Callable[[Any], Any]) -> Any:
    from bot import redis_conn

    async def main() -> Any:
        client = redis_conn.make_redis(console.redis.url)
        try:
            return await body(client)
        finally:
            await client.close()
    return asyncio.run(main())


async def customer(client: Any, user: str, tags: list, seen: datetime) -> str:
    """A customer as the channels leave one (tests/outbound/conftest.py World): identity,
    contact record, tags."""
    from actions.services import customers
    from common import contact_state

    cid = (await customers.resolve(client, customers.Identity(channel="wechat_mp", user_id=user), seen)).id
    await contact_state.record_inbound(client, f"wechat_mp:{user}", seen.timestamp())
    if tags:
        await client.sadd(f"{{brand}}:cust:{cid}:tags", *tags)
    return cid


@pytest.fixture(scope="module")
def world(console: OpsConsole) -> Dict[str, str]:
    """Four tagged customers (one last seen 40 days ago) and a winner with three claims:
    a parcel with its address, a parcel still waiting for one, a coupon."""
    from actions.services import prizes

    async def seed(client: Any) -> Dict[str, str]:
        now = datetime.now(timezone.utc)
        found = {
            "gold_sensitive": await customer(client, "o-gold", ["skin:sensitive", "level:gold"], now),
            "sensitive": await customer(client, "o-sens", ["skin:sensitive", "audience:student"], now),
            "dry": await customer(client, "o-dry", ["skin:dry"], now),
            "old_sensitive": await customer(client, "o-old", ["skin:sensitive"], now - timedelta(days=40)),
            "winner": await customer(client, "o-winner", [], now),
        }
        cid = found["winner"]
        found["parcel"] = await prizes.create(client, cid, "spring_wheel", "mask_sample", "physical", now)
        assert await prizes.save_address(client, cid, found["parcel"], ADDRESS, now, key="m1") == prizes.SAVED
        found["waiting"] = await prizes.create(client, cid, "spring_wheel", "green_serum_full", "physical", now)
        found["coupon"] = await prizes.create(client, cid, "spring_wheel", "coupon_20", "coupon", now)
        return found
    return run(console, seed)


@pytest.fixture(scope="module")
def ops(console: OpsConsole) -> requests.Session:
    return console.login("ops")


def chinese(answer: requests.Response) -> str:
    error = answer.json()["error"]
    assert CHINESE.search(error), error
    return error


def test_only_signed_in_ops_may_use_it(console: OpsConsole, world: Dict[str, str]) -> None:
    url = console.url + "/api/ops"
    assert requests.get(url + "/pushes", timeout=10).status_code == 401
    assert requests.post(url + "/pushes/preview", json={"segment": {}}, timeout=10).status_code == 401
    guide = console.login("guide")
    for path in ("/pushes", "/coupon-types", "/claims"):
        assert guide.get(url + path, timeout=10).status_code == 403, path
    assert guide.post(url + "/pushes/preview", json={"segment": {}}, timeout=10).status_code == 403
    assert guide.post(url + f"/claims/{world['parcel']}/ship", json={"carrier": "顺丰速运", "tracking": "SF123456789"},
                      timeout=10).status_code == 403
    assert console.login("admin").get(url + "/pushes", timeout=10).status_code == 200

    # writes without the session's CSRF header change nothing
    forged = console.login("ops", csrf=False)
    assert forged.get(url + "/pushes", timeout=10).status_code == 200  # reads need no token
    assert forged.post(url + "/pushes", json={"name": "x", "text": "y", "segment": {}}, timeout=10).status_code == 403
    assert forged.post(url + f"/claims/{world['parcel']}/ship", json={"carrier": "顺丰速运", "tracking": "SF123456789"},
                       timeout=10).status_code == 403
    assert run(console, lambda c: c.zcard("{brand}:push:index")) == 0
    assert run(console, lambda c: c.hget(f"{{brand}}:claim:{world['parcel']}", "status")) == "address_filled"


def test_the_form_gets_coupon_types_and_the_tag_catalogue(console: OpsConsole, ops: requests.Session) -> None:
    answer = ops.get(console.url + "/api/ops/coupon-types", timeout=10)
    assert answer.status_code == 200
    data = answer.json()
    assert {"id": "welcome", "name": "新人见面礼"}.items() <= next(c for c in data["coupon_types"]
                                                                  if c["id"] == "welcome").items()
    assert {"id": "skin:sensitive", "name": "敏感肌", "group": "skin"} in data["tags"]
    assert {"id": "level", "name": "会员等级"} in data["groups"]
    assert data["timezone"] == "Asia/Shanghai"


def test_preview_counts_the_customers_of_the_segment(console: OpsConsole, ops: requests.Session,
                                                     world: Dict[str, str]) -> None:
    def count(segment: Dict[str, Any]) -> int:
        answer = ops.post(console.url + "/api/ops/pushes/preview", json={"segment": segment}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["customers"]

    assert count({}) == 5
    assert count({"any_tags": ["skin:sensitive"]}) == 3
    assert count({"any_tags": ["skin:sensitive"], "active_within_days": 30}) == 2  # one was last seen 40 days ago
    assert count({"levels": ["gold"]}) == 1
    assert count({"levels": ["level:gold"]}) == 1
    assert count({"all_tags": ["skin:sensitive", "audience:student"]}) == 1
    assert count({"any_tags": ["skin:sensitive", "skin:dry"], "none_tags": ["level:gold"]}) == 3


@pytest.mark.parametrize("segment, says", [
    ({"colour": ["red"]}, "colour"),
    ({"any_tags": "skin:dry"}, "任一标签"),
    ({"active_within_days": "abc"}, "最近活跃天数"),
    ({"active_within_days": -1}, "最近活跃天数"),
    ({"any_tags": ["skin:purple"]}, "skin:purple"),
    ({"levels": ["diamond"]}, "level:diamond"),
    (["skin:dry"], "对象"),
])
def test_a_bad_segment_is_refused_in_chinese(console: OpsConsole, ops: requests.Session, segment: Any,
                                            says: str) -> None:
    for path in ("/pushes/preview", "/pushes"):
        answer = ops.post(console.url + "/api/ops" + path, json={"segment": segment, "name": "n", "text": "t"},
                          timeout=10)
        assert answer.status_code == 400, answer.text
        assert says in chinese(answer)


def test_create_schedules_a_push_by_the_signed_in_account(console: OpsConsole, ops: requests.Session,
                                                          world: Dict[str, str]) -> None:
    from bot.outbound import pushes

    answer = ops.post(console.url + "/api/ops/pushes", json={
        "name": "双十二敏感肌回馈", "text": "{you}好呀，{persona}给你留了券：{coupon_code}",
        "segment": {"any_tags": ["skin:sensitive"]}, "coupon": "welcome", "at": "2026-12-03T10:00"}, timeout=10)
    assert answer.status_code == 201, answer.text
    push_id, report = answer.json()["push"], answer.json()["report"]
    ten = datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI).timestamp()
    assert report["id"] == push_id and report["status"] == "scheduled"
    assert report["by"] == "ops 测试"  # the display name of the account that signed in
    assert report["at"] == ten
    assert report["segment"]["any_tags"] == ["skin:sensitive"] and report["coupon"] == "welcome"
    assert run(console, lambda c: c.zscore(pushes.DUE, push_id)) == ten  # the worker's sweep will start it

    listed = ops.get(console.url + "/api/ops/pushes", timeout=10).json()["pushes"]
    assert listed[0]["id"] == push_id and listed[0]["name"] == "双十二敏感肌回馈"
    got = ops.get(console.url + f"/api/ops/pushes/{push_id}", timeout=10)
    assert got.status_code == 200 and got.json()["status"] == "scheduled"
    assert ops.get(console.url + "/api/ops/pushes/p999999", timeout=10).status_code == 404
    assert ops.get(console.url + "/api/ops/pushes/nope", timeout=10).status_code == 404

    # without a time it goes now, and an admin is the author of theirs
    before = datetime.now(timezone.utc).timestamp()
    admin = console.login("admin")
    now_push = admin.post(console.url + "/api/ops/pushes", json={"name": "立即", "text": "你好", "segment": {}},
                          timeout=10)
    assert now_push.status_code == 201, now_push.text
    assert now_push.json()["report"]["by"] == "admin 测试"
    assert before - 1 <= now_push.json()["report"]["at"] <= datetime.now(timezone.utc).timestamp() + 1


def test_validation_problems_are_said_in_chinese_and_create_nothing(console: OpsConsole,
                                                                    ops: requests.Session) -> None:
    count = run(console, lambda c: c.zcard("{brand}:push:index"))
    answer = ops.post(console.url + "/api/ops/pushes", json={
        "name": " ", "text": "领券 {coupon_code}", "segment": {}}, timeout=10)
    assert answer.status_code == 400
    problems = answer.json()["problems"]
    assert "name: 请给这次推送起个名字" in problems
    assert "text: 用了 {coupon_code} 却没选优惠券" in problems
    assert "起个名字" in chinese(answer)

    unknown = ops.post(console.url + "/api/ops/pushes", json={
        "name": "券", "text": "x" * 601, "segment": {}, "coupon": "gold_bar"}, timeout=10)
    assert unknown.status_code == 400
    assert set(unknown.json()["problems"]) == {"coupon: 没有这种优惠券 gold_bar", "text: 推送内容最多 600 字"}

    bad_time = ops.post(console.url + "/api/ops/pushes", json={
        "name": "券", "text": "你好", "segment": {}, "at": "明天上午"}, timeout=10)
    assert bad_time.status_code == 400 and "发送时间" in chinese(bad_time)
    mass_with_codes = ops.post(console.url + "/api/ops/pushes", json={
        "name": "群发", "text": "你好", "segment": {}, "coupon": "welcome", "mass": True}, timeout=10)
    assert mass_with_codes.status_code == 400 and "群发" in chinese(mass_with_codes)
    assert run(console, lambda c: c.zcard("{brand}:push:index")) == count
    mass = ops.post(console.url + "/api/ops/pushes", json={
        "name": "群发", "text": "你好", "segment": {}, "mass": True, "at": "2099-01-01T10:00"}, timeout=10)
    assert mass.status_code == 201 and mass.json()["report"]["mass"] is True


def test_cancel_stops_an_unfinished_push_once(console: OpsConsole, ops: requests.Session) -> None:
    from bot.outbound import pushes

    push_id = ops.post(console.url + "/api/ops/pushes", json={
        "name": "要取消的", "text": "你好", "segment": {}, "at": "2030-01-01T09:00"}, timeout=10).json()["push"]
    first = ops.post(console.url + f"/api/ops/pushes/{push_id}/cancel", timeout=10)
    assert first.status_code == 200 and first.json()["cancelled"] is True
    assert ops.get(console.url + f"/api/ops/pushes/{push_id}", timeout=10).json()["status"] == "cancelled"
    assert run(console, lambda c: c.zscore(pushes.DUE, push_id)) is None  # the worker will not start it
    again = ops.post(console.url + f"/api/ops/pushes/{push_id}/cancel", timeout=10)
    assert again.status_code == 200 and again.json()["cancelled"] is False
    assert ops.post(console.url + "/api/ops/pushes/p999999/cancel", timeout=10).status_code == 404
    forged = console.login("ops", csrf=False)
    other = ops.post(console.url + "/api/ops/pushes", json={"name": "留着", "text": "你好", "segment": {},
                                                          "at": "2030-01-01T09:00"}, timeout=10).json()["push"]
    assert forged.post(console.url + f"/api/ops/pushes/{other}/cancel", timeout=10).status_code == 403
    assert ops.get(console.url + f"/api/ops/pushes/{other}", timeout=10).json()["status"] == "scheduled"


def test_claims_are_listed_by_status_with_phone_and_address_masked(console: OpsConsole, ops: requests.Session,
                                                                  world: Dict[str, str]) -> None:
    answer = ops.get(console.url + "/api/ops/claims", timeout=10)  # default: waiting to ship
    assert answer.status_code == 200
    assert PHONE not in answer.text and "文三路" not in answer.text and "100号" not in answer.text
    data = answer.json()
    assert data["status"] == "address_filled" and data["total"] == 1
    (claim,) = data["claims"]
    assert claim["id"] == world["parcel"]
    assert claim["prize"] == "舒缓修护面膜体验装" and claim["campaign_name"] == "春日焕肤大转盘"
    assert claim["won_at"] and claim["recipient_name"] == "林小禾"
    assert claim["recipient_phone"] == "138****5678"
    assert claim["address"].startswith("浙江省杭州市") and claim["address"].endswith("***")

    waiting = ops.get(console.url + "/api/ops/claims?status=awaiting_address", timeout=10).json()
    assert [c["id"] for c in waiting["claims"]] == [world["waiting"]]
    assert waiting["claims"][0]["prize"] == "小绿瓶修护精华 正装"
    bad = ops.get(console.url + "/api/ops/claims?status=granted", timeout=10)  # coupons are not shipped
    assert bad.status_code == 400 and chinese(bad)


def test_ship_marks_the_claim_and_queues_one_notice(console: OpsConsole, ops: requests.Session,
                                                    world: Dict[str, str]) -> None:
    from actions.services import shipping
    from common import notices

    url, parcel = console.url + "/api/ops/claims", world["parcel"]
    bad = ops.post(f"{url}/{parcel}/ship", json={"carrier": "顺丰速运", "tracking": "x"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["result"] == "bad_tracking" and chinese(bad)
    assert run(console, lambda c: c.zcard(notices.OUTBOX)) == 0

    shipped = ops.post(f"{url}/{parcel}/ship", json={"carrier": "顺丰速运", "tracking": "SF1234567890"}, timeout=10)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["result"] == "shipped" and CHINESE.search(shipped.json()["message"])
    claim = run(console, lambda c: c.hgetall(f"{{brand}}:claim:{parcel}"))
    assert claim["status"] == "shipped" and claim["tracking"] == "SF1234567890" and claim["carrier"] == "顺丰速运"
    assert claim["shipped_by"] == "ops 测试"
    notice_id = shipping.notice_id(parcel)
    assert run(console, lambda c: c.zscore(notices.OUTBOX, notice_id)) is not None
    assert run(console, lambda c: c.hget(notices.key(notice_id), "cid")) == world["winner"]

    listed = ops.get(url + "?status=shipped", timeout=10).json()["claims"]
    assert [(c["id"], c["carrier"], c["tracking"]) for c in listed] == [(parcel, "顺丰速运", "SF1234567890")]
    assert ops.get(url, timeout=10).json()["claims"] == []  # nothing left to ship

    repeat = ops.post(f"{url}/{parcel}/ship", json={"carrier": "顺丰速运", "tracking": "SF1234567890"}, timeout=10)
    assert repeat.status_code == 200 and repeat.json()["result"] == "repeat"
    assert run(console, lambda c: c.zcard(notices.OUTBOX)) == 1  # no second notice

    other = ops.post(f"{url}/{parcel}/ship", json={"carrier": "中通快递", "tracking": "ZT99887766"}, timeout=10)
    assert other.status_code == 409 and other.json()["result"] == "shipped_before" and chinese(other)
    not_ready = ops.post(f"{url}/{world['waiting']}/ship", json={"carrier": "顺丰速运", "tracking": "SF5555555555"},
                         timeout=10)
    assert not_ready.status_code == 409 and not_ready.json()["result"] == "not_ready" and "地址" in chinese(not_ready)
    coupon = ops.post(f"{url}/{world['coupon']}/ship", json={"carrier": "顺丰速运", "tracking": "SF5555555555"},
                      timeout=10)
    assert coupon.status_code == 409 and coupon.json()["result"] == "not_parcel"
    for missing in ("999999", "abc"):
        gone = ops.post(f"{url}/{missing}/ship", json={"carrier": "顺丰速运", "tracking": "SF5555555555"}, timeout=10)
        assert gone.status_code == 404 and chinese(gone)
    assert run(console, lambda c: c.zcard(notices.OUTBOX)) == 1
    assert run(console, lambda c: c.hget(f"{{brand}}:claim:{world['waiting']}", "status")) == "awaiting_address"
