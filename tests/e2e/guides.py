"""The guide's side of the e2e handoff tests: the WeCom app as a guide uses it (real
AES callbacks into Rasa's `wecom` channel) and what the API stand-in delivered to guides."""
from __future__ import annotations

import re
from typing import List, Optional

from bot.stand_in.simulator import WeChatSimulator
from tests.channels.helpers import StandIn, wait_for

GUIDES = {"林导购": "guide-e2e-lin", "陈导购": "guide-e2e-chen"}  # tests/e2e/conftest.TEST_ROSTER


def guide_app(stack, wechat) -> WeChatSimulator:
    return WeChatSimulator(f"{stack.rasa_url}/webhooks/wecom/webhook", wechat.app_token, wechat.app_aes_key,
                           wechat.corp_id, "wecom")


def guide_named_in(promise: str) -> Optional[str]:
    """The userid of the guide the persona promised ("已经帮你请到林导购…")."""
    return next((userid for name, userid in GUIDES.items() if name in promise), None)


def to_guide(stand_in: StandIn, userid: str) -> List[str]:
    return [b["text"]["content"] for b in stand_in.sent("/cgi-bin/message/send") if b.get("touser") == userid]


def notice_about(stand_in: StandIn, userid: str, marker: str) -> str:
    """The handoff notification the guide got whose recent dialogue contains `marker`."""
    found = wait_for(lambda: [n for n in to_guide(stand_in, userid) if "转人工 #" in n and marker in n], timeout_s=30)
    assert found, f"guide {userid} was never told about the conversation with {marker!r}"
    return found[0]


def request_id_of(notice: str) -> str:
    return re.search(r"#(\d+)", notice).group(1)


def guide_says(app: WeChatSimulator, wechat, userid: str, text: str) -> None:
    assert app.deliver(app.wecom_text(userid, text, wechat.app_agent_id)).acknowledged


def custom_sent(stand_in: StandIn, openid: str) -> List[str]:
    """What 客服消息 delivered to a 公众号 customer, in order."""
    return [b["text"]["content"] for b in stand_in.sent("/cgi-bin/message/custom/send") if b.get("touser") == openid]


def answer_to(customer: WeChatSimulator, stand_in: StandIn, openid: str, text: str) -> str:
    """What the 公众号 customer saw in reply: the passive reply, or what 客服消息 delivered."""
    before = len(custom_sent(stand_in, openid))
    delivery = customer.deliver(customer.text(openid, text))
    assert delivery.acknowledged
    if delivery.reply:
        return delivery.reply["Content"]
    return "\n".join(wait_for(lambda: custom_sent(stand_in, openid)[before:], timeout_s=30))


def customer_app(stack, wechat) -> WeChatSimulator:
    return WeChatSimulator(f"{stack.rasa_url}/webhooks/wechat_mp/webhook", wechat.mp_token, wechat.mp_aes_key,
                           wechat.mp_appid, "safe")
