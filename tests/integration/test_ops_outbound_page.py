"""The 触达 tab of the ops console (/ops/, bot/console/static/ops_outbound.js) in headless
Chromium against a real console process and its own Redis (tests/integration/ops_console.py):
an ops person picks a tag, sees the preview count the customers the channels left in Redis,
creates a push and sees it scheduled in the table (then cancels it); ships a prize from the
list and sees it move to the shipped list with its tracking number. No JavaScript error and
no CSP violation on the way."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Dict, Iterator

import pytest

from tests.integration.ops_console import OpsConsole, ops_page

TRACKING = "SF20261203001"
PUSH_NAME = "学生党开学季"


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    running = OpsConsole.start(tmp_path_factory.mktemp("outbound_page"))
    try:
        yield running
    finally:
        running.stop()


def redis_call(console: OpsConsole, body: Any) -> Any:
    from bot import redis_conn

    async def main() -> Any:
        client = redis_conn.make_redis(console.redis.url)
        try:
            return await body(client)
        finally:
            await client.close()
    return asyncio.run(main())


def seed(console: OpsConsole) -> Dict[str, str]:
    """Three customers (two students) as the channels leave them, and a won parcel with its address."""
    from actions.services import customers, prizes
    from common import contact_state

    async def main(client: Any) -> Dict[str, str]:
        now = datetime.now(timezone.utc)
        cids = []
        for user, tags in (("o-a", ["audience:student"]), ("o-b", ["audience:student", "skin:oily"]),
                           ("o-c", ["skin:dry"])):
            cid = (await customers.resolve(client, customers.Identity(channel="wechat_mp", user_id=user), now)).id
            await contact_state.record_inbound(client, f"wechat_mp:{user}", now.timestamp())
            await client.sadd(f"{{brand}}:cust:{cid}:tags", *tags)
            cids.append(cid)
        claim = await prizes.create(client, cids[2], "spring_wheel", "mask_sample", "physical", now)
        fields = {"recipient_name": "周小禾", "recipient_phone": "13900001111", "address_province": "上海市",
                  "address_city": "上海市", "address_detail": "徐汇区漕溪北路88号"}
        assert await prizes.save_address(client, cids[2], claim, fields, now, key="m1") == prizes.SAVED
        return {"claim": claim}
    return redis_call(console, main)


def test_ops_push_to_a_segment_and_ship_a_prize(console: OpsConsole) -> None:
    from playwright.sync_api import expect

    seeded = seed(console)
    with ops_page(console) as (page, problems):
        page.on("dialog", lambda dialog: dialog.accept())  # the confirm() before creating and cancelling
        page.locator(".tab[data-view=outbound]").click()
        view = page.locator("#view-outbound")
        count = view.locator(".outbound-preview-count")
        expect(count).to_have_text("3")  # nothing picked yet: everyone

        view.locator(".outbound-tags[data-field=any_tags] input[value='audience:student']").check()
        expect(count).to_have_text("2")
        view.locator(".outbound-name").fill(PUSH_NAME)
        view.locator(".outbound-text").fill("{you}好呀，开学季给你准备了小惊喜～")
        view.locator(".outbound-at").fill("2030-09-01T10:00")
        view.locator(".outbound-create").click()
        expect(view.locator(".outbound-notice")).to_contain_text(f"已创建推送「{PUSH_NAME}」")
        row = view.locator(".outbound-push", has_text=PUSH_NAME)
        expect(row).to_have_attribute("data-status", "scheduled")
        expect(row).to_contain_text("待发送")
        expect(row).to_contain_text("2030/9/1 10:00")  # the brand's time, as typed
        expect(row).to_contain_text("任一：学生党")
        expect(row).to_contain_text("ops 测试")

        # a refused push says why, in Chinese, and creates nothing
        view.locator(".outbound-text").fill("领券 {coupon_code}")
        view.locator(".outbound-create").click()
        expect(view.locator(".outbound-problems")).to_contain_text("起个名字")
        expect(view.locator(".outbound-problems")).to_contain_text("却没选优惠券")
        expect(view.locator(".outbound-push")).to_have_count(1)

        row.locator(".outbound-cancel").click()
        expect(row).to_have_attribute("data-status", "cancelled")
        expect(row.locator(".outbound-cancel")).to_have_count(0)

        claim = view.locator(f".outbound-claim[data-claim='{seeded['claim']}']")
        expect(claim).to_contain_text("舒缓修护面膜体验装")
        expect(claim).to_contain_text("139****1111")
        expect(view.locator(".outbound-claims")).not_to_contain_text("13900001111")
        claim.locator(".outbound-carrier").fill("顺丰速运")
        claim.locator(".outbound-tracking").fill(TRACKING)
        claim.locator(".outbound-ship-button").click()
        expect(view.locator(".outbound-notice")).to_contain_text("已标记发货")
        expect(claim).to_have_count(0)  # left the list of parcels waiting to ship

        view.locator(".outbound-claim-tab[data-status=shipped]").click()
        expect(claim.locator(".outbound-tracking-number")).to_have_text(TRACKING)
        expect(claim).to_contain_text("顺丰速运")
    assert problems == []
    shipped = redis_call(console, lambda c: c.hmget(f"{{brand}}:claim:{seeded['claim']}", "status", "tracking"))
    assert shipped == ["shipped", TRACKING]
    pushes = redis_call(console, lambda c: c.zrange("{brand}:push:index", 0, -1))
    assert len(pushes) == 1
    status, segment = redis_call(console, lambda c: c.hmget(f"{{brand}}:push:{pushes[0]}", "status", "segment"))
    assert status == "cancelled" and "audience:student" in segment
