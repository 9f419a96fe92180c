"""`ops.py erase`: one customer's data goes everywhere; another's stays untouched.
Both customers are seeded through the real services (real redis-server)."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import secrets
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from actions.faq import inbox
from actions.faq.settings import load_settings
from actions.services import checkin, codes, coupons, customers, lottery, prizes, referrals, restock, shipping, store, tags
from actions.services.catalog import catalog
from actions.services.clock import utc_now
from common import contact_state, handoff_routing, handoff_session, inbox_store, traffic_log
from common.key_tags import MARKETING as TAG

_spec = importlib.util.spec_from_file_location("ops", Path(__file__).resolve().parents[2] / "scripts" / "ops.py")
ops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ops)

PERSONAL = {"recipient_name": "王小明", "recipient_phone": "13800138000", "address_province": "浙江省",
            "address_city": "杭州市", "address_detail": "西湖区文三路100号"}


async def _seed(client, openid: str, unionid: str, text: str, phone: str) -> str:
    cat, now = catalog(), utc_now()
    ident = customers.Identity(channel="wechat_mp", user_id=openid, unionid=unionid)
    cid = (await customers.resolve(client, ident, now)).id
    await tags.on_event(client, cat, cid, "first_seen", now, channel="wechat_mp")
    await tags.change(client, cat, cid, add=["skin:sensitive"], by="test", reason="seed", now=now)
    await checkin.check_in(client, cat, cid, now)
    await lottery.draw(client, cat, cat.lottery("spring_wheel"), cid, now, rand=0.0)
    await coupons.issue(client, cat, cid, "welcome", now)
    claim_id = await prizes.create(client, cid, "spring_wheel", "mask_sample", "physical", now)
    await prizes.save_address(client, cid, claim_id, {**PERSONAL, "recipient_phone": phone}, now)
    entry = inbox.InboxEntry(text=text, customer=cid, channel="wechat_mp", outcome="none")
    await inbox.record(client, entry, None, load_settings())
    sender = f"wechat_mp:{openid}"
    await client.set(f"rasa:tracker:{sender}", json.dumps({"events": [{"event": "user", "text": text}]}))
    await client.set(f"rasa:tracker:{openid}", "{}")  # legacy, before ids were namespaced
    # the ops console's turn log, as the tracker store records it (common/traffic_log.py)
    said = {"event": "user", "text": text, "timestamp": 1700000000.0,
            "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.4}, "entities": []}}
    await traffic_log.record(client, [traffic_log.turn(sender, said, ["action_faq_fallback"])])
    await client.set(f"opt:wechat_mp:{openid}", "[]")
    await client.set(f"wx:mp:unionid:{openid}", unionid)  # the 公众号 channel's user/info cache
    await client.hset(f"flood:sender:{sender}", mapping={"s": 1700000000000, "n": 1})
    await client.set(f"wx:dedup:wechat_mp:evt:{openid}:1700000000", "done")
    await client.xadd("wx:undeliverable", {"channel": "wechat_mp", "recipient": openid, "text": text})
    # exactly-once bookkeeping (actions/outbox.py, bot/action_guard.py): a result, a parked grant, a late reply
    await client.set(f"{TAG}idem:{cid}:checkin:mid-1", "{}")
    grant = f"{TAG}grant:daily_checkin:{cid}:m7"
    await client.hset(grant, mapping={"cid": cid, "status": "parked"})
    await client.zadd(TAG + "outbox:grants", {grant: 1700000000})
    await client.sadd(TAG + "cpn:checkin_7:parked", grant)
    await client.rpush(f"late:{sender}", json.dumps({"text": text}))
    # a request for a human guide, assigned (common/handoff_routing.py)
    monday_10 = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    roster = handoff_routing.load_roster()
    routed = await handoff_routing.request(client, roster, cid, monday_10, bound_guide="guide-lin", sender=sender)
    await handoff_session.append(client, roster, routed.request_id, handoff_session.CUSTOMER, text, monday_10)
    await client.xadd(handoff_routing.COMPLAINTS, {"customer": cid, "text": text})
    await client.xadd(store.ALERTS, {"type": "complaint", "customer": cid, "complaint": "1-0"})
    # a 公众号 callback acknowledged, its answer not yet out (bot/wechat/acked.py): it holds the text
    job = {"openid": openid, "text": text, "direct": None, "metadata": {"openid": openid}}
    await client.zadd("wx:acked:wechat_mp", {json.dumps({"key": f"wx:dedup:wechat_mp:msg:{openid}", "job": job},
                                                        sort_keys=True, ensure_ascii=False): 1700000000})
    # issue 14: the contact window and 退订, a push delivery and a notice, 一客一码, 到货通知, a 包裹卡 code
    await contact_state.record_inbound(client, sender, 1700000000)
    await contact_state.set_opt_out(client, sender, True)
    await client.hset(f"{TAG}out:push:p1:{cid}", mapping={"status": "sent", "sender": sender})
    shipped = await shipping_notice(client, cat, cid, now, phone)
    invite = await referrals.code_of(client, cid)
    await client.sadd(referrals.INVITEES, cid)
    await restock.subscribe(client, cid, cat.products[0])
    batch = codes.Batch(f"pkg-{secrets.token_hex(3)}", coupon="welcome")
    (card,) = await codes.create_batch(client, batch, 1, now)
    await codes.redeem(client, cat, cid, card, now)
    assert shipped and invite
    return cid


async def shipping_notice(client, cat, cid: str, now, phone: str) -> str:
    claim_id = await prizes.create(client, cid, "checkin", "m21", "physical", now)
    await prizes.save_address(client, cid, claim_id, {**PERSONAL, "recipient_phone": phone}, now)
    return await shipping.mark_shipped(client, cat, claim_id, "顺丰", "SF1234567890", now, "ops")


async def _snapshot(client) -> dict:
    found = {}
    async for key in client.scan_iter(count=1000):
        kind = await client.type(key)
        if kind == "string" and key.startswith(traffic_log.SENDERS_PREFIX):
            found[key] = await client.pfcount(key)  # a HyperLogLog: a count, it names no one
        elif kind == "string":
            found[key] = await client.get(key)
        elif kind == "hash":
            found[key] = await client.hgetall(key)
        elif kind == "list":
            found[key] = await client.lrange(key, 0, -1)
        elif kind == "set":
            found[key] = sorted(await client.smembers(key))
        elif kind == "zset":
            found[key] = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            found[key] = await client.xrange(key)
    return found


def test_erase_removes_one_customer_everywhere_and_leaves_the_other(redis_server, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_server.url)

    async def seed():
        client = store.make_client(redis_server.url)
        await client.flushdb()
        alice = await _seed(client, "o-alice", "u-alice", "我家地址北京市朝阳区望京SOHO能送吗", "13800138000")
        bob = await _seed(client, "o-bob", "u-bob", "你们卖不卖猫粮", "13900139000")
        before = await _snapshot(client)
        await client.aclose()
        return alice, bob, before

    alice, bob, before = asyncio.run(seed())

    assert ops.main(["erase", "wechat_mp:o-alice", "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] and dry["removed"]["claims"] >= 1

    async def unchanged():
        client = store.make_client(redis_server.url)
        try:
            return await _snapshot(client) == before
        finally:
            await client.aclose()

    assert asyncio.run(unchanged()), "a dry run must not delete"

    assert ops.main(["erase", "unionid:u-alice"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["customer"] == alice and not report["dry_run"]
    removed = report["removed"]
    assert removed == dry["removed"]
    for kind in ("identities", "claims", "customer_keys", "checkin_keys", "lottery_keys", "trackers",
                 "option_menus", "dedup_keys", "channel_caches", "inbox_messages", "inbox_samples", "issued_code_links",
                 "idempotency_keys", "reward_grants", "unanswered_callbacks", "handoff_requests", "handoff_open",
                 "turn_log_entries", "contact_records", "deliveries", "notices", "invite_code", "invitee_entries",
                 "restock_wishes", "redeemed_codes",
                 f"stream_entries:{handoff_routing.COMPLAINTS}", f"stream_entries:{store.ALERTS}"):
        assert removed.get(kind, 0) >= 1, kind
    assert removed["trackers"] == 2  # namespaced and legacy

    async def after():
        client = store.make_client(redis_server.url)
        try:
            return await _snapshot(client)
        finally:
            await client.aclose()

    now = asyncio.run(after())
    dump = json.dumps(now, ensure_ascii=False, default=str)
    for trace in (alice + ":", f":{alice}", "o-alice", "u-alice", "望京", "13800138000"):
        assert trace not in dump, trace
    assert f'"{alice}"' not in dump  # no hash field / list item / stream field names them
    # Bob's data is exactly as it was
    for key, value in before.items():
        if "o-bob" in key or f"{bob}" in key.split(":") or key.startswith(f"{TAG}cust:{bob}:"):
            assert now.get(key) == value, key
    assert [m for m, _ in now["wx:acked:wechat_mp"]] == [m for m, _ in before["wx:acked:wechat_mp"] if "o-bob" in m]
    assert now[handoff_routing.LOAD] == {"guide-lin": "1"}  # Alice's guide slot came back; Bob keeps his
    claims_of_bob = before[f"{TAG}cust:{bob}:claims"]
    assert all(now[f"{TAG}claim:{c}"] == before[f"{TAG}claim:{c}"] for c in claims_of_bob)
    assert inbox_store.STREAM in now and len(now[inbox_store.STREAM]) == 1
    assert [f["sender"] for _, f in now[traffic_log.STREAM]] == ["wechat_mp:o-bob"]  # Bob's turn stays
    # issued codes stay unique and counted, but no longer name Alice
    issued = now[TAG + "cpn:welcome:issued"]
    assert len(issued) == len(before[TAG + "cpn:welcome:issued"]) and bob in issued


def test_erase_of_an_unknown_customer_says_so(redis_server, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert ops.main(["erase", "wechat_mp:nobody"]) == 1
    assert "no customer" in capsys.readouterr().err


def test_sender_ids_cover_namespaced_and_legacy_ids():
    from actions.services.erasure import sender_ids
    assert sender_ids({"wechat_mp:o1", "unionid:u1"}) == {"o1", "wechat_mp:o1"}
    assert sender_ids({"wechat_mp:wechat_mp:o1"}) == {"o1", "wechat_mp:o1"}
    assert sender_ids({"web:s1"}) == {"s1", "web:s1", "rest:s1"}
