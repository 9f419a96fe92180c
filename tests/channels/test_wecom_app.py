"""WeCom self-built app for guides: AES callback in, message/send out."""
from __future__ import annotations

from bot.stand_in.simulator import WeChatSimulator
from tests.channels import helpers as h
from tests.channels.helpers import wait_for


def test_guide_message_is_acknowledged_and_answered_through_message_send(apps, stand_in, received):
    sim = WeChatSimulator(apps["main"].url("wecom"), h.WECOM_TOKEN, h.WECOM_AES, h.CORP_ID, "wecom")
    assert sim.verify_url("4242").text == "4242"
    xml = sim.wecom_text("guide_li", "今天的活动是什么", h.AGENT_ID)
    first = sim.deliver(xml)
    assert first.acknowledged and first.reply is None
    sim.deliver(xml)  # a retry of the same MsgId
    sent = wait_for(lambda: stand_in.sent("/cgi-bin/message/send"))
    assert sent == [{"touser": "guide_li", "msgtype": "text", "agentid": 1000002,
                     "text": {"content": "回声：今天的活动是什么"}, "safe": 0}]
    assert received.all()[0]["metadata"]["role"] == "guide" and len(received.all()) == 1
