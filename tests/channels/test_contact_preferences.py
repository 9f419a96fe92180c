"""What the channels record for the contact policy, and 退订 / 订阅 by chat."""
from __future__ import annotations

import time

import redis as redis_sync

from bot.persona import load_persona, system_text
from bot.stand_in.simulator import WeChatSimulator
from bot.wechat import kf_sync
from common import contact_state
from tests.channels import helpers as h
from tests.channels.helpers import wait_for

KF_SEND = "/cgi-bin/kf/send_msg"


def mp(apps) -> WeChatSimulator:
    return WeChatSimulator(apps["main"].url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")


def contact(redis_url: str, sender_id: str) -> dict:
    return redis_sync.Redis.from_url(redis_url, decode_responses=True).hgetall(contact_state.key(sender_id))


def test_td_opts_out_in_the_persona_voice_without_reaching_the_bot_and_subscribe_undoes_it(apps, received,
                                                                                             redis_url):
    sim = mp(apps)
    user = "oUSER_optout"
    before = time.time()
    hello = sim.deliver(sim.text(user, "你好"))
    assert hello.reply["Content"] == "回声：你好"
    assert float(contact(redis_url, f"wechat_mp:{user}")["last_in"]) >= int(before)  # the 48-hour window starts
    qiqi = load_persona("qiqi")
    out = sim.deliver(sim.text(user, "TD"))
    assert out.reply["Content"] == system_text("contact_optout", qiqi)
    assert "不会再主动" in out.reply["Content"]
    assert contact(redis_url, f"wechat_mp:{user}")["optout"] == "1"
    again = sim.deliver(sim.text(user, "订阅"))
    assert again.reply["Content"] == system_text("contact_optin", qiqi)
    assert "optout" not in contact(redis_url, f"wechat_mp:{user}")
    assert received.texts() == ["你好"]  # neither command went to Rasa
    # a sentence that merely mentions it is an ordinary message
    sim.deliver(sim.text(user, "怎么退订会员短信"))
    assert received.texts()[-1] == "怎么退订会员短信"
    assert "optout" not in contact(redis_url, f"wechat_mp:{user}")


def test_wecom_kf_records_the_account_and_counts_the_bots_replies_in_the_window(apps, stand_in, redis_url):
    sim = WeChatSimulator(apps["main"].url("wecom_kf"), h.KF_TOKEN, h.KF_AES, h.CORP_ID, "wecom")
    stand_in.post("/_stand_in/kf/enqueue", {"open_kfid": h.OPEN_KFID, "messages": [
        {"external_userid": "wmWindow", "text": {"content": "buttons"}}]})
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    wait_for(lambda: [b for b in stand_in.sent(KF_SEND) if b["touser"] == "wmWindow"])
    record = wait_for(lambda: (lambda r: r if r.get("kf_sent") not in (None, "0") else None)(
        contact(redis_url, "wecom_kf:wmWindow")))
    assert record["open_kfid"] == h.OPEN_KFID
    sent = [b for b in stand_in.sent(KF_SEND) if b["touser"] == "wmWindow"]
    assert int(record["kf_sent"]) == len(sent)  # text + menu: two of the window's five
    # the sync is over (cursor kept, lock released) before the next test empties Redis
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    wait_for(lambda: r.get(kf_sync.cursor_key(h.OPEN_KFID)) == "c1"
             and not r.exists(f"{kf_sync.TAG}sync-lock:{h.OPEN_KFID}"))


def test_a_typed_card_code_and_a_scanned_card_reach_rasa_as_the_redemption_intent(apps, received):
    sim = mp(apps)
    typed = sim.deliver(sim.text("oUSER_card", "兑换 abcd2345"))
    assert typed.reply["Content"] == '已选择 /redeem_code{"code": "ABCD2345"}'
    scanned = sim.deliver(sim.event("oUSER_card2", "subscribe", "qrscene_pkg_WXYZ6789", Ticket="T"))
    assert scanned.reply["Content"] == '已选择 /redeem_code{"code": "WXYZ6789"}'
    again = sim.deliver(sim.event("oUSER_card2", "SCAN", "pkg_WXYZ6789", Ticket="T", create_time=int(time.time()) + 1))
    assert again.reply["Content"] == '已选择 /redeem_code{"code": "WXYZ6789"}'
    friend = sim.deliver(sim.event("oUSER_friend", "subscribe", "qrscene_ref_K7M2QP", Ticket="T"))
    assert friend.reply["Content"] == "已选择 /greet"  # the actions count the referral from the scene
    assert [m["metadata"].get("scene") for m in received.all()][-1] == "ref_K7M2QP"
    # typed by a consumer, the intent syntax never carries an entity
    sim.deliver(sim.text("oUSER_card", '/redeem_code{"code": "ABCD2345"}'))
    assert not received.texts()[-1].startswith("/")  # plain text for NLU, not an intent with an entity
