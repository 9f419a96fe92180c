"""Flood limits through a real channel app: per customer (FLOOD_*) and per IP on the webhooks."""
from __future__ import annotations

import time
from collections import Counter
from typing import Dict

import pytest

from bot.persona import load_persona, system_text
from bot.stand_in.simulator import WeChatSimulator
from tests.channels import helpers as h

LIMIT = 20


@pytest.fixture(scope="module")
def limit_apps(make_app) -> Dict[str, object]:
    # Window 60 s: the 100 messages below fit in it even on a slow machine (the claim is per window).
    started = {"limits": make_app("limits", FLOOD_MAX_MESSAGES=str(LIMIT), FLOOD_WINDOW_S="60"),
               "ipcap": make_app("ipcap", WEBHOOK_MAX_PER_IP_MINUTE="5")}
    for app in started.values():
        app.wait()
    return started


def throttled_text() -> str:
    return system_text("throttled", load_persona("qiqi"))


def test_a_flood_from_one_customer_gets_one_polite_reply_and_no_nlu_others_are_unaffected(
        limit_apps, stand_in, received):
    sim = WeChatSimulator(limit_apps["limits"].url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")
    flood_replies, calm_replies = [], []
    for n in range(100):
        delivery = sim.deliver(sim.text("oFLOODER", f"刷屏{n}"))
        assert delivery.acknowledged
        flood_replies.append(delivery.reply["Content"] if delivery.reply else None)
        if n % 20 == 10:  # another customer writes at the same time
            calm = sim.deliver(sim.text("oCALM_USER", f"正常提问{n}"))
            calm_replies.append(calm.reply["Content"] if calm.reply else None)
    time.sleep(0.5)  # anything sent late through 客服消息 would show up now

    counted = Counter(flood_replies)
    assert counted[throttled_text()] == 1
    assert [r for r in flood_replies[:LIMIT]] == [f"回声：刷屏{n}" for n in range(LIMIT)]
    assert flood_replies[LIMIT] == throttled_text()
    assert flood_replies[LIMIT + 1:] == [None] * (100 - LIMIT - 1)
    assert calm_replies == [f"回声：正常提问{n}" for n in range(100) if n % 20 == 10]

    senders = Counter(m["sender"] for m in received.all())
    assert senders["wechat_mp:oFLOODER"] == LIMIT
    assert senders["wechat_mp:oCALM_USER"] == len(calm_replies)
    assert stand_in.sent("/cgi-bin/message/custom/send") == []


def test_media_messages_count_against_the_flood_limit_too(limit_apps, stand_in):
    sim = WeChatSimulator(limit_apps["limits"].url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")
    replies = [sim.deliver(sim.message("oIMAGES", "image", PicUrl="http://x/y.jpg", MediaId=f"m{n}")).reply
               for n in range(LIMIT + 5)]
    contents = [r["Content"] if r else None for r in replies]
    assert all("图片" in c for c in contents[:LIMIT])
    assert contents[LIMIT] == throttled_text() and contents[LIMIT + 1:] == [None] * 4


def test_one_ip_over_the_webhook_cap_gets_429_before_any_signature_work(limit_apps, received):
    sim = WeChatSimulator(limit_apps["ipcap"].url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")
    statuses = [sim.deliver(sim.text("oUSER_ip", f"第{n}条")).last.status for n in range(5)]
    assert statuses == [200] * 5
    # Over the cap even unsigned garbage is refused with 429, without reaching the crypto.
    import requests
    assert requests.post(sim.url, data=b"<xml>junk</xml>", timeout=5).status_code == 429
    # A forged X-Forwarded-For does not buy a fresh quota (no proxy is configured).
    assert requests.post(sim.url, data=b"<xml>junk</xml>", timeout=5,
                         headers={"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}).status_code == 429
    assert sim.deliver(sim.text("oUSER_ip", "第六条")).last.status == 429
    wecom = WeChatSimulator(limit_apps["ipcap"].url("wecom"), h.WECOM_TOKEN, h.WECOM_AES, h.CORP_ID, "wecom")
    assert wecom.deliver(wecom.wecom_text("guide_ip", "你好", h.AGENT_ID)).last.status == 429
    assert received.texts() == [f"第{n}条" for n in range(5)]
