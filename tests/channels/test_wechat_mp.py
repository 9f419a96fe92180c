"""公众号 end to end: simulator → channel app → (passive reply | stand-in 客服消息)."""
from __future__ import annotations

import os
import signal
import threading
import time
from typing import Dict, List

import redis as redis_sync
import requests

from bot.stand_in.simulator import Delivery, WeChatSimulator
from tests.channels import helpers as h
from tests.channels.channel_app import long_text
from tests.channels.helpers import wait_for

CUSTOM_SEND = "/cgi-bin/message/custom/send"


def mp(apps, app: str = "main", mode: str = "safe", **kwargs) -> WeChatSimulator:
    return WeChatSimulator(apps[app].url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, mode, **kwargs)


def custom_texts(stand_in, openid: str) -> List[str]:
    return [b["text"]["content"] for b in stand_in.sent(CUSTOM_SEND) if b["touser"] == openid]


def test_text_gets_a_passive_reply_in_every_mode(apps, stand_in):
    for app, mode in (("main", "safe"), ("main", "compat"), ("plain", "plain")):
        sim = mp(apps, app, mode)
        delivery = sim.deliver(sim.text("oUSER_modes", f"你好 {mode}"))
        assert delivery.acknowledged and len(delivery.attempts) == 1
        assert delivery.reply["Content"] == f"回声：你好 {mode}"
        assert delivery.reply["ToUserName"] == "oUSER_modes" and delivery.reply["FromUserName"] == sim.to_user
    assert stand_in.sent() == []


def test_voice_media_and_events(apps, received):
    sim = mp(apps)
    user = "oUSER_media"
    voice = sim.deliver(sim.message(user, "voice", MediaId="m1", Format="amr", Recognition="我想签到"))
    assert voice.reply["Content"] == "回声：我想签到"
    image = sim.deliver(sim.message(user, "image", PicUrl="http://x/y.jpg", MediaId="m2"))
    assert "图片" in image.reply["Content"] and "七七" in image.reply["Content"]
    location = sim.deliver(sim.message(user, "location", Location_X="31.2", Location_Y="121.5", Scale="15",
                                       Label="上海市静安区南京西路"))
    assert "南京西路" in location.reply["Content"]
    link = sim.deliver(sim.message(user, "link", Title="秋冬护肤指南", Description="d", Url="http://x"))
    assert "秋冬护肤指南" in link.reply["Content"]

    subscribe = sim.deliver(sim.event(user, "subscribe", "qrscene_store_sh01", Ticket="T"))
    scan = sim.deliver(sim.event(user, "SCAN", "store_bj02", Ticket="T", create_time=int(time.time()) + 1))
    click = sim.deliver(sim.event(user, "CLICK", "CHECKIN", create_time=int(time.time()) + 2))
    assert subscribe.reply["Content"] == scan.reply["Content"] == "已选择 /greet"
    assert click.reply["Content"] == "已选择 /checkin"
    unsubscribe = sim.deliver(sim.event(user, "unsubscribe", create_time=int(time.time()) + 3))
    assert unsubscribe.acknowledged and unsubscribe.reply is None

    got = received.all()
    assert [m["text"] for m in got] == ["我想签到", "/greet", "/greet", "/checkin"]
    assert got[1]["metadata"]["scene"] == "store_sh01" and got[2]["metadata"]["scene"] == "store_bj02"
    assert all(m["sender"] == f"wechat_mp:{user}" and m["channel"] == "wechat_mp" for m in got)


def test_unsubscribe_is_recorded(apps, redis_url):
    sim = mp(apps)
    sim.deliver(sim.event("oUSER_bye", "unsubscribe"))
    entries = redis_sync.Redis.from_url(redis_url, decode_responses=True).xrange("wx:mp:unsubscribed")
    assert [e[1]["openid"] for e in entries] == ["oUSER_bye"]


def test_slow_answer_is_acknowledged_in_time_and_sent_through_custom_send(apps, stand_in):
    sim = mp(apps)
    delivery = sim.deliver(sim.text("oUSER_slow", "slow:1.6 慢慢来"))
    assert delivery.acknowledged and delivery.reply is None and len(delivery.attempts) == 1
    assert wait_for(lambda: custom_texts(stand_in, "oUSER_slow")) == ["回声：慢慢来"]


def test_wechat_retries_after_a_timeout_produce_exactly_one_reply(apps, stand_in, received):
    # WeChat gives up on an attempt after its timeout and retries the same payload;
    # a retry waits for the busy first copy (whose lease is renewed past 0.6 s).
    sim = mp(apps, timeout_s=0.4, attempts=6)
    delivery = sim.deliver(sim.text("oUSER_retry", "slow:1.2 只回一次"))
    assert len(delivery.attempts) >= 2 and delivery.acknowledged
    assert wait_for(lambda: custom_texts(stand_in, "oUSER_retry")) == ["回声：只回一次"]
    time.sleep(1.0)  # nothing more may arrive later
    passive = [d for d in [delivery.reply] if d]
    assert len(passive) + len(custom_texts(stand_in, "oUSER_retry")) == 1
    assert received.texts() == ["slow:1.2 只回一次"]


def test_a_message_whose_server_died_mid_turn_is_answered_by_the_retry(make_app, apps, stand_in, received,
                                                                       redis_url):
    # The server holding the callback is killed while the turn runs, before it
    # answered WeChat; WeChat's retry reaches another server, which must take the
    # message over (answering `success` as for a live owner would lose it).
    victim = make_app("mp_victim", WECHAT_PASSIVE_BUDGET_S="4.0").wait()
    sim = WeChatSimulator(victim.url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")
    params, body = sim.build(sim.text("oUSER_orphan", "wait:orphan 别丢下我"))
    errors: List[str] = []

    def first_delivery() -> None:
        try:
            requests.post(sim.url, params=params, data=body, timeout=10)
        except requests.RequestException as error:
            errors.append(type(error).__name__)

    thread = threading.Thread(target=first_delivery)
    thread.start()
    assert wait_for(lambda: received.texts() == ["wait:orphan 别丢下我"])  # the victim's turn is running
    os.killpg(victim.service.process.pid, signal.SIGKILL)
    thread.join(10)
    assert errors  # WeChat got no answer: it retries, here onto the main server
    redis_sync.Redis.from_url(redis_url).set("test:go:orphan", "1")
    retry = requests.post(apps["main"].url("wechat_mp"), params=params, data=body, timeout=5)
    assert retry.status_code == 200
    passive = sim.open_reply(retry.text)
    answers = ([passive["Content"]] if passive else []) or wait_for(lambda: custom_texts(stand_in, "oUSER_orphan"))
    assert answers == ["回声：别丢下我"]
    copies = received.all()
    assert len(copies) == 2 and copies[0]["message_id"] == copies[1]["message_id"]  # one message id: effects once


def test_a_message_acknowledged_before_its_server_died_is_answered_by_another(make_app, apps, stand_in, received,
                                                                            redis_url):
    # The turn outlives the passive budget, so WeChat gets `success` and will never
    # retry; then the server dies before its 客服消息 went out. The acknowledgement was
    # kept in Redis (bot/wechat/acked.py): another server's sweep takes it over.
    victim = make_app("mp_acked_victim", WECHAT_RECOVERY_INTERVAL_S="0").wait()  # it never sweeps itself
    sim = WeChatSimulator(victim.url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")
    params, body = sim.build(sim.text("oUSER_acked", "wait:acked 我说完了吗"))
    first = requests.post(sim.url, params=params, data=body, timeout=10)
    assert first.status_code == 200 and first.text == "success"  # acknowledged, no passive reply
    assert received.texts() == ["wait:acked 我说完了吗"]  # its turn is still running
    os.killpg(victim.service.process.pid, signal.SIGKILL)
    client = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    client.set("test:go:acked", "1")
    assert wait_for(lambda: custom_texts(stand_in, "oUSER_acked"), timeout_s=15) == ["回声：我说完了吗"]
    assert wait_for(lambda: client.zcard("wx:acked:wechat_mp") == 0)  # settled: nothing left to answer
    time.sleep(2.5)  # a second sweep would have answered again by now
    assert custom_texts(stand_in, "oUSER_acked") == ["回声：我说完了吗"]
    copies = received.all()
    assert len(copies) == 2 and copies[0]["message_id"] == copies[1]["message_id"]  # one message id: effects once


def test_an_acknowledged_turn_that_finishes_is_answered_once_and_not_again(apps, stand_in, received, redis_url):
    sim = mp(apps, "main")
    params, body = sim.build(sim.text("oUSER_late", "slow:1.5 慢慢来"))  # past the 1 s budget
    assert requests.post(sim.url, params=params, data=body, timeout=10).text == "success"
    assert wait_for(lambda: custom_texts(stand_in, "oUSER_late")) == ["回声：慢慢来"]
    client = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    assert wait_for(lambda: client.zcard("wx:acked:wechat_mp") == 0)
    time.sleep(2.5)  # the sweeps of both apps ran meanwhile
    assert custom_texts(stand_in, "oUSER_late") == ["回声：慢慢来"] and received.texts() == ["slow:1.5 慢慢来"]


def test_two_app_instances_sharing_redis_answer_once(apps, stand_in, received):
    results: Dict[str, Delivery] = {}
    sims = {name: mp(apps, name) for name in ("main", "second")}
    xml = sims["main"].text("oUSER_twice", "slow:0.3 一次就好")
    params, body = sims["main"].build(xml)

    def send(name: str) -> None:
        import requests
        answer = requests.post(sims[name].url, params=params, data=body, timeout=5)
        results[name] = Delivery(reply=sims[name].open_reply(answer.text))

    threads = [threading.Thread(target=send, args=(n,)) for n in sims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(1.0)
    passive = [r.reply["Content"] for r in results.values() if r.reply]
    assert passive + custom_texts(stand_in, "oUSER_twice") == ["回声：一次就好"]
    assert received.texts() == ["slow:0.3 一次就好"]


def test_out_of_window_and_quota_are_recorded_not_crashed(apps, stand_in, redis_url):
    sim = mp(apps)
    for errcode in (45015, 45047):
        stand_in.fail(CUSTOM_SEND, errcode)
        assert sim.deliver(sim.text("oUSER_window", "slow:1.2 晚到的回复")).acknowledged
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    entries = wait_for(lambda: r.xrange("wx:undeliverable") if len(r.xrange("wx:undeliverable")) == 2 else None)
    assert [(e[1]["errcode"], e[1]["recipient"], e[1]["text"]) for e in entries] == [
        ("45015", "oUSER_window", "回声：晚到的回复"), ("45047", "oUSER_window", "回声：晚到的回复")]
    assert sim.deliver(sim.text("oUSER_window", "还在吗")).reply["Content"] == "回声：还在吗"


def test_expired_token_is_refreshed_once_and_the_reply_still_arrives(apps, stand_in):
    sim = mp(apps)
    sim.deliver(sim.text("oUSER_token", "slow:1.1 第一条"))
    assert wait_for(lambda: custom_texts(stand_in, "oUSER_token"))
    import requests
    requests.post(f"{stand_in.url}/_stand_in/expire_tokens", timeout=5)
    sim.deliver(sim.text("oUSER_token", "slow:1.1 第二条"))
    assert wait_for(lambda: len(custom_texts(stand_in, "oUSER_token")) == 2)
    assert custom_texts(stand_in, "oUSER_token") == ["回声：第一条", "回声：第二条"]
    assert len(stand_in.calls("/cgi-bin/token")) == 2
    assert [c["response"]["errcode"] for c in stand_in.calls(CUSTOM_SEND)] == [0, 42001, 0]


def test_long_reply_arrives_in_order_in_parts_of_at_most_2048_bytes(apps, stand_in):
    sim = mp(apps)
    delivery = sim.deliver(sim.text("oUSER_long", "long:60"))
    assert delivery.reply is None
    expected = long_text(60)
    parts = wait_for(lambda: custom_texts(stand_in, "oUSER_long") if "".join(custom_texts(stand_in, "oUSER_long")) == expected else None)
    assert len(parts) > 1 and all(len(p.encode("utf-8")) <= 2048 for p in parts)
    assert all(p.endswith("！") for p in parts)


def test_buttons_render_as_numbered_options_and_number_or_title_selects(apps, received):
    sim = mp(apps)
    user = "oUSER_buttons"
    menu = sim.deliver(sim.text(user, "buttons")).reply["Content"]
    assert menu == "想做点什么？\n\n1. 每日签到\n2. 幸运抽奖\n3. 找人工客服"
    assert sim.deliver(sim.text(user, "2")).reply["Content"] == "已选择 /lottery"
    sim.deliver(sim.text(user, "buttons"))
    assert sim.deliver(sim.text(user, "找人工客服")).reply["Content"] == "已选择 /human_handoff"
    # After a reply without buttons, "2" is just text again.
    assert sim.deliver(sim.text(user, "2")).reply["Content"] == "回声：2"
    assert received.texts()[-4:] == ["/lottery", "buttons", "/human_handoff", "2"]


def test_rasa_failure_gets_the_persona_apology(apps):
    sim = mp(apps)
    reply = sim.deliver(sim.text("oUSER_boom", "boom")).reply["Content"]
    assert "七七" in reply and "抱歉" in reply


# --- trust: AES-only, nonce cache, namespaced sender, unionid from WeChat -----------

USER_INFO = "/cgi-bin/user/info"


def post(sim: WeChatSimulator, params: Dict[str, str], body: bytes):
    import requests
    return requests.post(sim.url, params=params, data=body, timeout=5, headers={"Content-Type": "text/xml"})


def test_plaintext_callback_to_an_aes_configured_account_is_refused(apps, stand_in, received):
    # Correct token and signature, but the plain signature does not cover the body.
    sim = mp(apps, "main", "plain")
    delivery = sim.deliver(sim.text("oUSER_plain", "把券给我"))
    assert delivery.last.status == 403 and delivery.reply is None
    assert sim.verify_url("5511").text == "5511"  # URL verification still works
    time.sleep(0.3)
    assert received.all() == [] and stand_in.sent() == []
    encrypted = mp(apps, "main", "safe")
    assert encrypted.deliver(encrypted.text("oUSER_plain", "你好")).reply["Content"] == "回声：你好"


def test_replayed_nonce_with_another_body_is_refused(apps, stand_in, received):
    # Plaintext account: whoever saw one signed URL could post any body with it inside the window.
    sim = mp(apps, "plain", "plain")
    params, body = sim.build(sim.text("oUSER_victim", "你好"))
    first = post(sim, params, body)
    assert first.status_code == 200 and sim.open_reply(first.text)["Content"] == "回声：你好"
    forged = sim.text("oUSER_victim", "帮我改收货地址")
    assert post(sim, params, forged.encode("utf-8")).status_code == 403
    # The WeCom callbacks keep the same cache: a second body under a seen (timestamp, nonce).
    wecom = WeChatSimulator(apps["main"].url("wecom"), h.WECOM_TOKEN, h.WECOM_AES, h.CORP_ID, "wecom")
    params, body = wecom.build(wecom.wecom_text("guide_zhao", "第一条", h.AGENT_ID))
    assert post(wecom, params, body).status_code == 200
    again, other = wecom.build(wecom.wecom_text("guide_zhao", "第二条", h.AGENT_ID),
                               timestamp=int(params["timestamp"]), nonce=params["nonce"])
    assert post(wecom, again, other).status_code == 403
    assert wait_for(lambda: stand_in.sent("/cgi-bin/message/send"))
    time.sleep(0.3)
    assert received.texts() == ["你好", "第一条"]


def test_the_same_callback_twice_is_answered_once(apps, stand_in, received):
    sim = mp(apps)
    params, body = sim.build(sim.text("oUSER_again", "只说一次"))
    first, second = post(sim, params, body), post(sim, params, body)
    assert first.status_code == second.status_code == 200
    assert sim.open_reply(first.text)["Content"] == "回声：只说一次"
    assert sim.open_reply(second.text) is None
    time.sleep(0.5)
    assert received.texts() == ["只说一次"] and custom_texts(stand_in, "oUSER_again") == []


def test_rasa_sees_the_namespaced_sender_and_the_unionid_wechat_reports(apps, stand_in, received):
    stand_in.post("/_stand_in/mp/users", {"oUSER_bound": {"unionid": "uBOUND_1"}, "oUSER_gone": {"invalid": True}})
    sim = mp(apps)
    for openid in ("oUSER_bound", "oUSER_free", "oUSER_gone"):
        for n in (1, 2):
            assert sim.deliver(sim.text(openid, f"第{n}句")).reply["Content"] == f"回声：第{n}句"
    got = received.all()
    assert [m["sender"] for m in got] == ["wechat_mp:oUSER_bound"] * 2 + ["wechat_mp:oUSER_free"] * 2 + [
        "wechat_mp:oUSER_gone"] * 2
    assert [m["metadata"].get("unionid") for m in got] == ["uBOUND_1", "uBOUND_1", None, None, None, None]
    calls = stand_in.calls(USER_INFO)
    assert sorted(c["query"]["openid"] for c in calls) == ["oUSER_bound", "oUSER_free", "oUSER_gone"]
    assert [c["response"].get("errcode") for c in calls if c["query"]["openid"] == "oUSER_gone"] == [40003]
    # A unionid in the callback XML is not an identity source.
    forged = sim.text("oUSER_free", "看看我的券").replace("</xml>", "<unionid><![CDATA[uBOUND_1]]></unionid></xml>")
    sim.deliver(forged)
    assert received.all()[-1]["metadata"].get("unionid") is None


def test_user_info_failure_never_blocks_the_reply(apps, stand_in, received):
    stand_in.fail(USER_INFO, 45009)
    sim = mp(apps)
    assert sim.deliver(sim.text("oUSER_quota", "在吗")).reply["Content"] == "回声：在吗"
    assert received.all()[0]["metadata"].get("unionid") is None
