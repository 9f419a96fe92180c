"""Prize shipping: ops mark a claim shipped → the winner is told the tracking number on their channel."""
from __future__ import annotations

from datetime import timedelta

import redis.asyncio as aioredis
import requests

from actions.services import prizes, shipping
from actions.services.catalog import catalog
from bot.outbound import worker as outbound
from common import notices
from common.handoff_routing import held_key
from tests.outbound.conftest import NOON, Clock, World, arq_ctx, close_ctx, run, run_worker_until_idle, texts_to

ADDRESS = {"recipient_name": "林小姐", "recipient_phone": "13800138000", "address_province": "浙江省",
           "address_city": "杭州市", "address_detail": "西湖区文三路 100 号"}


async def parcel_claim(redis: aioredis.Redis, cid: str, with_address: bool = True) -> str:
    claim_id = await prizes.create(redis, cid, "checkin", "m28", "physical", NOON)
    if with_address:
        assert await prizes.save_address(redis, cid, claim_id, ADDRESS, NOON) == prizes.SAVED
    return claim_id


def test_ops_mark_a_prize_shipped_and_the_winner_hears_the_tracking_number_once(stand_in, redis_url):
    clock = Clock(NOON)

    async def body():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        cid = await World(redis, clock).customer("wecom_kf", "wmWinner", 5)
        claim_id = await parcel_claim(redis, cid)
        first = await shipping.mark_shipped(redis, catalog(), claim_id, "顺丰", "SF1234567890", NOON, "仓库小李")
        await run_worker_until_idle(redis_url, clock)
        again = await shipping.mark_shipped(redis, catalog(), claim_id, "顺丰", "SF1234567890", NOON, "仓库小李")
        other = await shipping.mark_shipped(redis, catalog(), claim_id, "中通", "ZT9999999999", NOON, "仓库小李")
        await run_worker_until_idle(redis_url, clock)
        claim = await prizes.get(redis, claim_id)
        notice = await redis.hgetall(notices.key(shipping.notice_id(claim_id)))
        pending = await redis.zcard(notices.OUTBOX)
        await redis.close()
        return first, again, other, claim, notice, pending

    first, again, other, claim, notice, pending = run(body)
    assert (first, again, other) == ("shipped", "repeat", "shipped_before")
    (text,) = texts_to(stand_in, "wmWinner")
    assert "已经发货" in text and "顺丰" in text and "SF1234567890" in text and "我的奖品" in text
    assert claim.status == prizes.SHIPPED and claim.shipping["tracking"] == "SF1234567890"
    assert notice["status"] == "sent" and pending == 0


def test_a_claim_without_an_address_cannot_be_shipped(stand_in, redis_url):
    async def body():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        cid = await World(redis, Clock(NOON)).customer("wechat_mp", "oNoAddress", 1)
        claim_id = await parcel_claim(redis, cid, with_address=False)
        results = (await shipping.mark_shipped(redis, catalog(), claim_id, "顺丰", "SF1234567890", NOON, "ops"),
                   await shipping.mark_shipped(redis, catalog(), "404", "顺丰", "SF1234567890", NOON, "ops"),
                   await shipping.mark_shipped(redis, catalog(), claim_id, "顺丰", "no!", NOON, "ops"))
        await redis.close()
        return results

    assert run(body) == ("not_ready", "missing", "bad_tracking")


def test_a_notice_waits_while_a_guide_holds_the_conversation_and_goes_out_after(stand_in, redis_url):
    clock = Clock(NOON)

    async def body():
        ctx = await arq_ctx(redis_url, clock)
        redis = ctx["redis_data"]
        world = World(redis, clock)
        cid = await world.customer("wechat_mp", "oWithGuide", 1)
        await world.hold("wechat_mp:oWithGuide")
        claim_id = await parcel_claim(redis, cid)
        await shipping.mark_shipped(redis, catalog(), claim_id, "EMS", "EMS12345678", NOON, "ops")
        nid = shipping.notice_id(claim_id)
        during = await outbound.deliver_notice(ctx, nid)
        retry_at = await redis.zscore(notices.OUTBOX, nid)
        await redis.delete(held_key("wechat_mp:oWithGuide"))  # the guide handed back
        clock.now = NOON + timedelta(minutes=31)
        after = await outbound.deliver_notice(ctx, nid)
        await close_ctx(ctx)
        return during, retry_at, after

    during, retry_at, after = run(body)
    assert during["state"] == "postponed" and during["reason"] == "handoff"
    assert retry_at >= NOON.timestamp() + 1800
    assert after["state"] == "sent"
    assert len(texts_to(stand_in, "oWithGuide")) == 1


def test_outside_the_window_the_notice_is_not_sent_and_my_prizes_still_shows_it(stand_in, redis_url):
    clock = Clock(NOON)

    async def body():
        ctx = await arq_ctx(redis_url, clock)
        redis = ctx["redis_data"]
        cid = await World(redis, clock).customer("wechat_mp", "oGone", 80)
        claim_id = await parcel_claim(redis, cid)
        await shipping.mark_shipped(redis, catalog(), claim_id, "顺丰", "SF0000000001", NOON, "ops")
        result = await outbound.deliver_notice(ctx, shipping.notice_id(claim_id))
        claim = await prizes.get(redis, claim_id)
        await close_ctx(ctx)
        return result, claim

    result, claim = run(body)
    assert result["state"] == "refused" and result["reason"] == "outside_window"
    assert stand_in.sent() == []
    assert claim.status == prizes.SHIPPED  # 我的奖品 reads the claim (tests/actions/test_prize_form.py)


def test_outside_the_window_a_configured_template_carries_the_notice_once(stand_in, redis_url, monkeypatch):
    from actions.services.catalog import MessageTemplate

    monkeypatch.setitem(catalog().templates, "prize_shipped", MessageTemplate(
        "TPL_SHIPPED_01", {"thing1": "{prize}", "thing2": "{carrier}", "character_string3": "{tracking}"}))
    clock = Clock(NOON)

    async def body():
        ctx = await arq_ctx(redis_url, clock)
        redis = ctx["redis_data"]
        cid = await World(redis, clock).customer("wechat_mp", "oTemplate", 80)
        claim_id = await parcel_claim(redis, cid)
        await shipping.mark_shipped(redis, catalog(), claim_id, "顺丰", "SF5555555555", NOON, "ops")
        result = await outbound.deliver_notice(ctx, shipping.notice_id(claim_id))
        kf_cid = await World(redis, clock).customer("wecom_kf", "wmNoTemplates", 80)
        kf_claim = await parcel_claim(redis, kf_cid)
        await shipping.mark_shipped(redis, catalog(), kf_claim, "顺丰", "SF5555555556", NOON, "ops")
        kf_result = await outbound.deliver_notice(ctx, shipping.notice_id(kf_claim))
        await close_ctx(ctx)
        return claim_id, result, kf_result

    claim_id, result, kf_result = run(body)
    assert result["state"] == "sent"
    (sent,) = stand_in.sent("/cgi-bin/message/template/send")
    assert sent["touser"] == "oTemplate" and sent["template_id"] == "TPL_SHIPPED_01"
    assert sent["data"]["character_string3"] == {"value": "SF5555555555"} and len(sent["data"]["thing1"]["value"]) <= 20
    assert sent["client_msg_id"] == f"notice:shipped:{claim_id}"
    assert kf_result["state"] == "refused" and kf_result["reason"] == "outside_window"  # 微信客服 has no templates
    # the stand-in keeps WeChat's rule: one message per openid + client_msg_id, a repeat is answered only
    token = requests.get(f"{stand_in.url}/cgi-bin/token", params={"grant_type": "client_credential", "appid": "wx",
                                                                   "secret": "s"}, timeout=5).json()["access_token"]
    for _ in range(2):
        again = requests.post(f"{stand_in.url}/cgi-bin/message/template/send", params={"access_token": token},
                              json=sent, timeout=5).json()
        assert again["errcode"] == 0
    assert len(stand_in.sent("/cgi-bin/message/template/send")) == 1
