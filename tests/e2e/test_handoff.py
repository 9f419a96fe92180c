"""Handoff to a guide end to end on the real stack: a 公众号 customer asks for a human,
the guide is told in the WeCom app with context, the customer's messages reach the guide
and get no bot reply, the guide's `#<id>` reply reaches the customer through 客服消息,
and after `#<id> 结束` the persona is back and answers again."""
from __future__ import annotations

import secrets

import pytest

from bot.stand_in.simulator import WeChatSimulator
from tests.channels.helpers import StandIn, wait_for
from tests.e2e.guides import (answer_to, custom_sent, customer_app, guide_app, guide_named_in, guide_says, notice_about,
                              request_id_of, to_guide)


@pytest.fixture
def stand_in(wechat) -> StandIn:
    return StandIn(wechat.api_base)


@pytest.fixture
def customer(stack, wechat) -> WeChatSimulator:
    return customer_app(stack, wechat)


def test_a_customer_is_handed_to_a_guide_who_replies_and_hands_back(stack, wechat, stand_in, customer):
    app = guide_app(stack, wechat)
    openid = "oHandoff" + secrets.token_hex(4)
    marker = "有人吗" + secrets.token_hex(2)
    assert answer_to(customer, stand_in, openid, marker)

    promised = answer_to(customer, stand_in, openid, "转人工")
    guide = guide_named_in(promised)
    assert guide and "分钟" in promised, promised  # who is coming and how soon

    notice = notice_about(stand_in, guide, marker)
    request_id = request_id_of(notice)
    assert "顾客要求转人工" in notice and "最近的对话" in notice and "转人工" in notice

    # The customer keeps writing: the guide gets it, the bot says nothing and does nothing.
    sent_before = len(custom_sent(stand_in, openid))
    held = customer.deliver(customer.text(openid, "我的快递三天没动了"))
    assert held.acknowledged and held.reply is None
    relayed = wait_for(lambda: [n for n in to_guide(stand_in, guide) if "我的快递三天没动了" in n], timeout_s=30)
    assert relayed and relayed[0].startswith(f"#{request_id} ")
    assert customer.deliver(customer.text(openid, "/restart")).reply is None  # no way around the guide
    assert customer.deliver(customer.text(openid, "我要签到")).reply is None

    # The guide answers from the WeCom app; the customer receives it through 客服消息.
    guide_says(app, wechat, guide, f"#{request_id} 您好，我帮您查一下物流")
    assert wait_for(lambda: "您好，我帮您查一下物流" in custom_sent(stand_in, openid), timeout_s=30)
    assert custom_sent(stand_in, openid)[sent_before:] == ["您好，我帮您查一下物流"]  # nothing from the bot

    # Nobody else can speak in it.
    guide_says(app, wechat, "guide-e2e-other", f"#{request_id} 我来插一句")
    assert wait_for(lambda: to_guide(stand_in, "guide-e2e-other"), timeout_s=30) == ["你还不在导购名单里，不能接待顾客。"]
    other = "guide-e2e-chen" if guide == "guide-e2e-lin" else "guide-e2e-lin"
    guide_says(app, wechat, other, f"#{request_id} 我来插一句")
    assert wait_for(lambda: [n for n in to_guide(stand_in, other) if f"#{request_id} 不是你正在接待的对话" in n],
                    timeout_s=30)

    # The guide ends it: the persona is back, and the check-in typed meanwhile never happened.
    guide_says(app, wechat, guide, f"#{request_id} 结束")
    back = wait_for(lambda: [t for t in custom_sent(stand_in, openid) if "七七回来啦" in t], timeout_s=30)
    assert back
    assert wait_for(lambda: [n for n in to_guide(stand_in, guide) if f"#{request_id} 接待已结束" in n], timeout_s=30)
    assert "连续签到 1 天" in answer_to(customer, stand_in, openid, "我要签到")


@pytest.fixture
def roster_with(rewrite_roster):
    """The stack's roster with other timers (minutes) for one test."""
    write, original = rewrite_roster

    def timers(**minutes: float) -> None:
        text = original
        for name, value in minutes.items():
            text = text.replace(f"{name}: 120", f"{name}: {value}")
        write(text)
    return timers


def test_a_guide_who_does_not_answer_loses_the_customer_to_another_guide(stack, wechat, stand_in, customer,
                                                                         roster_with):
    roster_with(reply_timeout_min=0.05)  # 3 seconds
    openid = "oSlow" + secrets.token_hex(4)
    marker = "在吗" + secrets.token_hex(2)
    answer_to(customer, stand_in, openid, marker)
    first = guide_named_in(answer_to(customer, stand_in, openid, "转人工"))
    request_id = request_id_of(notice_about(stand_in, first, marker))
    second = "guide-e2e-chen" if first == "guide-e2e-lin" else "guide-e2e-lin"
    # the other guide is told, the silent one learns why, the customer hears who comes now
    assert notice_about(stand_in, second, marker).startswith(f"【转人工 #{request_id}】")
    assert wait_for(lambda: [n for n in to_guide(stand_in, first) if f"#{request_id} 超过" in n], timeout_s=30)
    named = "陈导购" if second == "guide-e2e-chen" else "林导购"
    assert wait_for(lambda: [t for t in custom_sent(stand_in, openid) if f"{named}来啦" in t], timeout_s=30)


def test_a_conversation_nobody_writes_in_goes_back_to_the_persona(stack, wechat, stand_in, customer, roster_with):
    roster_with(idle_timeout_min=0.05)
    app = guide_app(stack, wechat)
    openid = "oIdle" + secrets.token_hex(4)
    marker = "请问" + secrets.token_hex(2)
    answer_to(customer, stand_in, openid, marker)
    guide = guide_named_in(answer_to(customer, stand_in, openid, "转人工"))
    request_id = request_id_of(notice_about(stand_in, guide, marker))
    guide_says(app, wechat, guide, f"#{request_id} 在的，请说")
    assert wait_for(lambda: [t for t in custom_sent(stand_in, openid) if "七七回来啦" in t], timeout_s=30)
    assert wait_for(lambda: [n for n in to_guide(stand_in, guide) if f"#{request_id} 对话超过" in n], timeout_s=30)
    assert "七七" in answer_to(customer, stand_in, openid, "你好")


def test_fifty_customers_at_once_never_push_a_guide_past_capacity_and_the_rest_wait_in_order(stack, rewrite_roster):
    """Two Rasa server processes (SANIC_WORKERS=2) route 50 simultaneous requests: 3 guides x 5."""
    import redis
    import requests
    from concurrent.futures import ThreadPoolExecutor

    from common import handoff_routing as routing
    write, original = rewrite_roster
    guides = ["guide-e2e-x1", "guide-e2e-x2", "guide-e2e-x3"]
    write("timezone: Asia/Shanghai\nreply_timeout_min: 120\nidle_timeout_min: 120\nguides:\n" + "".join(
        f'  - {{userid: {g}, name: 导购{i}, group: g, capacity: 5, hours: {{mon-sun: "00:00-24:00"}}}}\n'
        for i, g in enumerate(guides)))
    prefix = "burst" + secrets.token_hex(3)

    def ask(i: int) -> str:
        answer = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": f"{prefix}-{i}",
                               "message": "转人工"}, headers={"Authorization": f"Bearer {stack.rasa_token}"},
                               timeout=120)
        answer.raise_for_status()
        return "\n".join(m.get("text", "") for m in answer.json())

    with ThreadPoolExecutor(50) as pool:
        replies = list(pool.map(ask, range(50)))
    store = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    requests_of = {}
    for key in store.scan_iter(match=routing.PREFIX + "req:*", count=1000):
        details = store.hgetall(key)
        if details.get("sender", "").startswith(f"rest:{prefix}-"):
            requests_of[details["sender"]] = (key.rsplit(":", 1)[1], details)
    assert len(requests_of) == 50  # one request each, none twice
    held = [d for _, d in requests_of.values() if d["status"] == "assigned"]
    assert sorted(d["guide"] for d in held) == sorted(guides * 5)
    assert {g: int(store.hget(routing.LOAD, g)) for g in guides} == {g: 5 for g in guides}
    waiting = [rid for rid in store.zrange(routing.QUEUE, 0, -1) if any(rid == r for r, _ in requests_of.values())]
    assert len(waiting) == 35
    assert waiting == sorted(waiting, key=lambda rid: int(store.hget(routing.request_key(rid), "arrival")))
    assert sum("请到" in r for r in replies) == 15
    places = sorted(int(r.split("排第 ")[1].split(" ")[0]) for r in replies if "排第 " in r)
    assert len(places) == 35 and places == sorted(set(places))  # each told a place of their own
