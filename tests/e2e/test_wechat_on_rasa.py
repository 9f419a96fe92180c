"""The WeChat channels in front of the real Rasa server, model and action server."""
from __future__ import annotations


import requests

from bot.stand_in.simulator import WeChatSimulator
from tests.channels.helpers import wait_for



def test_official_account_text_gets_the_personas_passive_reply(stack, wechat):
    sim = WeChatSimulator(
        f"{stack.rasa_url}/webhooks/wechat_mp/webhook", wechat.mp_token, wechat.mp_aes_key, wechat.mp_appid, "safe"
    )
    delivery = sim.deliver(sim.text("oUserE2E0001", "你好"))
    assert delivery.acknowledged and len(delivery.attempts) == 1
    assert delivery.reply and "七七" in delivery.reply["Content"]


def test_official_account_forged_signature_is_refused(stack, wechat):
    sim = WeChatSimulator(
        f"{stack.rasa_url}/webhooks/wechat_mp/webhook", "wrong-token", wechat.mp_aes_key, wechat.mp_appid, "safe",
        attempts=1,
    )
    assert sim.deliver(sim.text("oUserE2E0002", "你好")).last.status == 403


def test_wecom_kf_message_is_pulled_answered_and_sent(stack, wechat):
    api = wechat.api_base
    open_kfid = "wkE2E0001"
    requests.post(f"{api}/_stand_in/kf/enqueue", json={
        "open_kfid": open_kfid,
        "messages": [{"external_userid": "wmE2E0001", "text": {"content": "你是机器人吗"}}],
    }, timeout=5).raise_for_status()
    sim = WeChatSimulator(
        f"{stack.rasa_url}/webhooks/wecom_kf/webhook", wechat.kf_token, wechat.kf_aes_key, wechat.corp_id, "wecom"
    )
    assert sim.deliver(sim.kf_notify(open_kfid)).last.body == "success"

    def sent_to_customer():
        sent = requests.get(f"{api}/_stand_in/sent", timeout=5).json()["sent"]
        return [s["body"] for s in sent if s["path"] == "/cgi-bin/kf/send_msg" and s["body"].get("touser") == "wmE2E0001"]

    replies = wait_for(sent_to_customer, timeout_s=30)
    assert replies, "the 微信客服 customer got no answer"
    text = " ".join(str(r.get("text", {}).get("content", "")) + str(r.get("msgmenu", {})) for r in replies)
    assert "智能助手" in text
