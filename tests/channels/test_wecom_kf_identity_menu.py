"""微信客服 identity and menus, end to end: the sender id and unionid Rasa sees come
from the channel and WeCom; a msgmenu click selects the option it showed."""
from __future__ import annotations

import redis as redis_sync

from bot.persona import load_persona, system_text
from tests.channels import helpers as h
from tests.channels.helpers import wait_for
from tests.channels.test_wecom_kf import SEND, enqueue, kf, replies, text

BATCHGET = "/cgi-bin/kf/customer/batchget"
UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"


def sync(app) -> None:
    sim = kf(app)
    assert sim.deliver(sim.kf_notify(h.OPEN_KFID)).last.body == "success"


def batchget_ids(stand_in):
    return [i for c in stand_in.calls(BATCHGET) for i in c["body"]["external_userid_list"]]


def test_rasa_sees_the_namespaced_id_and_the_unionid_wecom_reports_fetched_once(apps, stand_in, received):
    stand_in.post("/_stand_in/kf/customers", {"customers": {"wmU1": {"nickname": "小美", "unionid": UNIONID}}})
    enqueue(stand_in, text("wmU1", "第一句"), text("wmU2", "你好"))
    sync(apps["main"])
    assert wait_for(lambda: len(replies(stand_in)) == 2)
    enqueue(stand_in, text("wmU1", "第二句"), text("wmU2", "还在吗"))
    sync(apps["second"])  # another process: the cache is in Redis
    assert wait_for(lambda: len(replies(stand_in)) == 4)

    got = {m["text"]: m for m in received.all()}
    assert got["第一句"]["sender"] == got["第二句"]["sender"] == "wecom_kf:wmU1"
    assert got["第一句"]["metadata"]["unionid"] == got["第二句"]["metadata"]["unionid"] == UNIONID
    assert got["你好"]["sender"] == "wecom_kf:wmU2" and "unionid" not in got["你好"]["metadata"]
    assert "unionid" not in got["还在吗"]["metadata"]
    assert sorted(batchget_ids(stand_in)) == ["wmU1", "wmU2"]  # once per customer, "none" cached too
    # Replies go to the raw external_userid, as kf/send_msg expects.
    assert {b["touser"] for b in stand_in.sent(SEND)} == {"wmU1", "wmU2"}


def test_a_forged_unionid_in_the_message_is_not_identity_and_a_failed_batchget_never_blocks_the_reply(
        apps, stand_in, received):
    stand_in.post("/_stand_in/kf/customers", {"customers": {"wmU3": {"unionid": UNIONID}}})
    stand_in.fail(BATCHGET, 45009)
    # Extra fields a client might smuggle into a message are not read as identity.
    enqueue(stand_in, {**text("wmU3", "先问一句"), "unionid": "o_VICTIM", "metadata": {"unionid": "o_VICTIM"}})
    sync(apps["main"])
    assert wait_for(lambda: replies(stand_in)) == [("wmU3", "回声：先问一句")]
    assert "unionid" not in received.all()[0]["metadata"]
    enqueue(stand_in, text("wmU3", "再问一句"))
    sync(apps["main"])
    assert wait_for(lambda: len(replies(stand_in)) == 2)
    assert received.all()[1]["metadata"]["unionid"] == UNIONID  # failure was not cached: fetched again
    assert batchget_ids(stand_in) == ["wmU3", "wmU3"]


def menus(stand_in):
    return [b["msgmenu"] for b in stand_in.sent(SEND) if b["msgtype"] == "msgmenu"]


def test_a_click_on_an_older_menu_selects_that_menus_option_and_a_stale_one_is_answered_honestly(
        apps, stand_in, received, redis_url):
    sim = kf(apps["main"])
    enqueue(stand_in, text("wmM", "buttons"), text("wmM", "buttons2"))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: len(menus(stand_in)) == 2)
    menu_a, menu_b = ([i["click"] for i in m["list"]] for m in menus(stand_in))
    assert [c["content"] for c in menu_b] == ["我的优惠券", "我的奖品", "推荐产品"]
    assert not {c["id"] for c in menu_a} & {c["id"] for c in menu_b}  # ids name the option, not the position

    # Typing a number means the latest options (menu B's).
    enqueue(stand_in, text("wmM", "2"))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: replies(stand_in)) == [("wmM", "已选择 /my_prizes")]
    # The customer scrolls up and clicks menu A's second item: A's option, not B's "/my_prizes".
    enqueue(stand_in, text("wmM", menu_a[1]["content"], menu_id=menu_a[1]["id"]))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: len(replies(stand_in)) == 2)
    assert replies(stand_in)[-1] == ("wmM", "已选择 /lottery")

    # Menu A expires (its TTL passes: the key is gone), an id never issued, a pre-token position id,
    # and menu B's id clicked by another customer: each is answered honestly, none reaches NLU.
    redis_sync.Redis.from_url(redis_url).delete(f"opt:menu:wecom_kf:{menu_a[0]['id'][1:13]}")
    before = len(received.all())
    enqueue(stand_in, text("wmM", "每日签到", menu_id=menu_a[0]["id"]),
            text("wmM", "我的奖品", menu_id="m0123456789ab.2"),
            text("wmM", "我的奖品", menu_id="2"),
            text("wmOTHER", "我的奖品", menu_id=menu_b[1]["id"]))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: len(replies(stand_in)) == 6)
    stale = system_text("stale_option", load_persona("qiqi"))
    assert sorted(replies(stand_in)[2:]) == sorted([("wmM", stale)] * 3 + [("wmOTHER", stale)])
    assert stale.startswith("这个选项已经过期啦")
    assert len(received.all()) == before
