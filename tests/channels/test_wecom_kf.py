"""微信客服 end to end: kf_msg_or_event → kf/sync_msg (stand-in) → Rasa → kf/send_msg."""
from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

import redis as redis_sync

from bot.stand_in.simulator import WeChatSimulator
from bot.wechat.api import KFClient
from tests.channels import helpers as h
from tests.channels.helpers import wait_for

SEND = "/cgi-bin/kf/send_msg"


def kf(app) -> WeChatSimulator:
    return WeChatSimulator(app.url("wecom_kf"), h.KF_TOKEN, h.KF_AES, h.CORP_ID, "wecom")


def enqueue(stand_in, *messages):
    return stand_in.post("/_stand_in/kf/enqueue", {"open_kfid": h.OPEN_KFID, "messages": list(messages)})["msgids"]


def text(user: str, content: str, **extra):
    return {"external_userid": user, "text": {"content": content, **extra}}


def replies(stand_in):
    return [(b["touser"], b["text"]["content"]) for b in stand_in.sent(SEND) if b["msgtype"] == "text"]


def test_burst_of_250_across_pages_is_processed_once_in_order_and_the_cursor_survives_restart(
        apps, make_app, stand_in, received):
    stand_in.post("/_stand_in/config", {"page_size": 60})
    users = [f"wmUSER{i}" for i in range(5)]
    enqueue(stand_in, *[text(users[n % 5], f"第{n}条") for n in range(250)])
    # Several notifications, to two instances at once, as WeChat sends one per new message.
    sims = [kf(apps["main"]), kf(apps["second"])]
    threads = [threading.Thread(target=s.deliver, args=(s.kf_notify(h.OPEN_KFID),)) for s in sims * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wait_for(lambda: len(replies(stand_in)) >= 250, timeout_s=30)
    got = received.all()
    assert sorted(m["text"] for m in got) == sorted(f"第{n}条" for n in range(250))  # each exactly once
    assert {m["sender"] for m in got} == {f"wecom_kf:{u}" for u in users}  # Rasa sees the channel's namespace
    per_user = defaultdict(list)
    for m in got:
        per_user[m["sender"].split(":", 1)[1]].append(int(m["text"][1:-1]))
    assert all(seq == sorted(seq) for seq in per_user.values())
    sent_per_user = defaultdict(list)
    for user, content in replies(stand_in):
        sent_per_user[user].append(int(content.split("第")[1][:-1]))
    assert sent_per_user == per_user and len(replies(stand_in)) == 250
    assert got[0]["metadata"]["open_kfid"] == h.OPEN_KFID

    # Restart: a fresh process continues from the cursor kept in Redis.
    fresh = make_app("restarted")
    fresh.wait()
    enqueue(stand_in, text("wmUSER0", "重启后"))
    kf(fresh).deliver(kf(fresh).kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: len(replies(stand_in)) == 251)
    last_sync = stand_in.calls("/cgi-bin/kf/sync_msg")[-1]["body"]
    assert last_sync["cursor"] == "c250"
    assert received.texts()[-1] == "重启后" and len(received.texts()) == 251


def test_servicer_messages_are_not_input_and_events_are_handled(apps, stand_in, received, redis_url):
    enqueue(stand_in,
            {"origin": 5, "servicer_userid": "zhangsan", "external_userid": "wmA", "text": {"content": "人工回复"}},
            {"origin": 4, "msgtype": "event", "event": {"event_type": "enter_session", "open_kfid": h.OPEN_KFID,
                                                      "external_userid": "wmA", "scene": "box", "scene_param": "card01",
                                                      "welcome_code": "WELCOME_CODE_1"}},
            {"origin": 4, "msgtype": "event", "event": {"event_type": "msg_send_fail", "open_kfid": h.OPEN_KFID,
                                                      "external_userid": "wmA", "fail_msgid": "F1", "fail_type": 4}},
            text("wmA", "你好"))
    sim = kf(apps["main"])
    assert sim.deliver(sim.kf_notify(h.OPEN_KFID)).last.body == "success"
    welcome = wait_for(lambda: stand_in.sent("/cgi-bin/kf/send_msg_on_event"))
    assert welcome == [{"code": "WELCOME_CODE_1", "msgtype": "text", "text": {"content": "已选择 /greet"}}]
    assert wait_for(lambda: replies(stand_in)) == [("wmA", "回声：你好")]
    got = received.all()
    assert [m["text"] for m in got] == ["/greet", "你好"]
    assert got[0]["metadata"]["scene_param"] == "card01"
    failures = redis_sync.Redis.from_url(redis_url, decode_responses=True).xrange("wx:undeliverable")
    assert [(e[1]["channel"], e[1]["extra"]) for e in failures] == [("wecom_kf", "F1")]


def test_buttons_go_out_as_msgmenu_and_a_click_or_number_selects(apps, stand_in, received):
    sim = kf(apps["main"])
    enqueue(stand_in, text("wmB", "buttons"))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    menu = wait_for(lambda: [b for b in stand_in.sent(SEND) if b["msgtype"] == "msgmenu"])
    assert menu[0]["msgmenu"]["head_content"] == "想做点什么？"
    clicks = [i["click"] for i in menu[0]["msgmenu"]["list"]]
    assert [c["content"] for c in clicks] == ["每日签到", "幸运抽奖", "找人工客服"]
    enqueue(stand_in, text("wmB", "幸运抽奖", menu_id=clicks[1]["id"]))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: replies(stand_in)) == [("wmB", "已选择 /lottery")]
    enqueue(stand_in, text("wmB", "buttons"), text("wmB", "3"))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: len(replies(stand_in)) == 2)
    assert replies(stand_in)[-1] == ("wmB", "已选择 /human_handoff")


def test_refused_send_is_recorded_and_the_next_message_still_answered(apps, stand_in, redis_url):
    stand_in.fail(SEND, 95018)
    sim = kf(apps["main"])
    enqueue(stand_in, text("wmC", "第一条"))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    entries = wait_for(lambda: r.xrange("wx:undeliverable"))
    assert entries[0][1]["errcode"] == "95018" and entries[0][1]["text"] == "回声：第一条"
    enqueue(stand_in, text("wmC", "第二条"))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: replies(stand_in)) == [("wmC", "回声：第二条")]


def test_service_state_client_for_the_handoff_issue(stand_in_url, redis_url, stand_in):
    async def run():
        import redis.asyncio as aioredis
        client = KFClient(stand_in_url, aioredis.from_url(redis_url, decode_responses=True), h.CORP_ID, "kfsecret")
        before = await client.service_state_get(h.OPEN_KFID, "wmD")
        moved = await client.service_state_trans(h.OPEN_KFID, "wmD", 3, "zhangsan")
        after = await client.service_state_get(h.OPEN_KFID, "wmD")
        await client.http.close()
        return before, moved, after

    before, moved, after = asyncio.run(run())
    assert before["service_state"] == 1
    assert moved["errcode"] == 0 and moved["msg_code"]
    assert (after["service_state"], after["servicer_userid"]) == (3, "zhangsan")
