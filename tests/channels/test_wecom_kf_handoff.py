"""微信客服 handoff (issue 12, item 6) against the API stand-in and a real Redis: the session
goes to the guide's WeCom client (service_state/trans to 3; a guide who is not a receiving
servicer is relayed to and the session stays with the bot), the bot never calls kf/send_msg while a servicer holds it, the handoff messages
ride on WeCom's msg_code, a servicer's own messages reach the transcript, and a servicer
ending the session in the WeCom client gives the customer back to the bot."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Dict, List
from zoneinfo import ZoneInfo

import pytest
import redis as redis_sync
import redis.asyncio as aioredis
import requests

from bot import redis_conn
from bot.handoff import kf_handoff
from bot.handoff.messengers import Messengers
from bot.handoff.worker import HandoffWorker
from common import handoff_routing as routing
from common import handoff_session as session
from tests.channels import helpers as h
from tests.channels.helpers import wait_for
from tests.channels.test_wecom_kf import enqueue, kf, text

MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # every guide on duty
TRANS, GET, SEND, ON_EVENT = ("/cgi-bin/kf/service_state/trans", "/cgi-bin/kf/service_state/get",
                              "/cgi-bin/kf/send_msg", "/cgi-bin/kf/send_msg_on_event")


class FakeRasa:
    """Rasa's tracker API as the worker uses it (no model needed)."""

    def __init__(self) -> None:
        self.events: List[tuple] = []

    async def pause(self, sender_id: str) -> None:
        self.events.append(("pause", sender_id))

    async def resume(self, sender_id: str) -> None:
        self.events.append(("resume", sender_id))

    async def recent_lines(self, sender_id: str, limit: int = 6) -> list:
        return [{"who": "user", "text": "我要找人工"}]


@pytest.fixture
def kf_env(monkeypatch, stand_in_url) -> None:
    for name, value in {"WECOM_API_BASE": stand_in_url, "WECOM_CORP_ID": h.CORP_ID, "WECOM_KF_SECRET": "kfsecret",
                        "WECOM_SECRET": "appsecret", "WECOM_AGENT_ID": h.AGENT_ID, "PERSONA": "qiqi"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def roster() -> routing.Roster:
    return routing.load_roster()


@pytest.fixture(scope="module")
def quiet_app(make_app):
    """The channels without their handoff worker: the test drives the worker itself."""
    return make_app("kf_handoff", HANDOFF_TICK_S="0").wait()


def run(redis_url: str, body: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        client = aioredis.from_url(redis_url, decode_responses=True)
        try:
            return await body(client)
        finally:
            await client.close()
            await redis_conn.close_all()
    return asyncio.run(main())


async def held_request(client, roster, user: str, waited: bool = False) -> str:
    """A 微信客服 customer routed to guide-lin (as actions/handoff.py does it)."""
    await client.hdel(routing.LOAD, "guide-lin")  # earlier tests' customers are still held: lin has room
    routed = await routing.request(client, roster, f"c-{user}", MONDAY_10, bound_guide="guide-lin",
                                   sender=f"wecom_kf:{user}", channel="wecom_kf", reason="asked",
                                   context=json.dumps({"name": "小美", "open_kfid": h.OPEN_KFID}))
    assert routed.verdict == "assigned"
    if waited:  # they queued first, so the notification also tells them who is coming
        await client.hset(routing.request_key(routed.request_id), "requested_at",
                          (MONDAY_10 - timedelta(minutes=3)).isoformat())
    return routed.request_id


def worker(client, roster) -> HandoffWorker:
    return HandoffWorker(client, rasa=FakeRasa(), messengers=Messengers(client), roster=lambda: roster,
                         clock=lambda: MONDAY_10)


def servicers(stand_in, *entries: Dict[str, Any]) -> None:
    stand_in.post("/_stand_in/kf/servicers", {"open_kfid": h.OPEN_KFID, "servicer_list": list(entries)})


def kf_state(stand_in, user: str) -> Dict[str, Any]:
    return requests.get(f"{stand_in.url}/_stand_in/kf/service_state",
                        params={"open_kfid": h.OPEN_KFID, "external_userid": user}, timeout=5).json()


def kf_calls(stand_in, user: str) -> List[tuple]:
    """(path, body, errcode) of the session calls about this customer, in order."""
    calls = requests.get(f"{stand_in.url}/_stand_in/record", timeout=5).json()["calls"]  # in arrival order
    mine = [c for c in calls if c["path"] in (TRANS, GET, SEND)
            and (c["body"] or {}).get("external_userid", (c["body"] or {}).get("touser")) == user]
    return [(c["path"], c["body"], c["response"]["errcode"]) for c in mine]


def trans_made(stand_in, user: str) -> List[tuple]:
    return [(b["service_state"], b.get("servicer_userid", ""), code) for p, b, code in kf_calls(stand_in, user)
            if p == TRANS]


def undeliverable(redis_url: str) -> List[Dict[str, str]]:
    return [e[1] for e in redis_sync.Redis.from_url(redis_url, decode_responses=True).xrange("wx:undeliverable")]


def test_a_receiving_guide_gets_the_session_and_the_bot_never_sends_while_they_hold_it(
        stand_in, redis_url, roster, kf_env):
    servicers(stand_in, {"userid": "guide-lin", "status": 0}, {"department_id": 2, "status": 0})

    async def body(client):
        rid = await held_request(client, roster, "wmH1", waited=True)
        w = worker(client, roster)
        await w.handle(f"notify:{rid}")
        state_with_guide = kf_state(stand_in, "wmH1")
        # The guide also types a reply in the WeCom app: the session is in their WeCom client.
        appended = await session.append(client, roster, rid, session.GUIDE, "我在企业微信里回您", MONDAY_10,
                                        guide="guide-lin")
        await w.handle(f"out:{rid}:{appended.index}")
        await routing.free_and_offer(client, roster, roster.guide("guide-lin"), MONDAY_10, freed_request=rid)
        await w.handle(f"resume:{rid}")
        await w.messengers.http.close()
        return rid, state_with_guide, w.rasa.events

    rid, state_with_guide, rasa_events = run(redis_url, body)
    assert state_with_guide == {"service_state": 3, "servicer_userid": "guide-lin"}
    assert kf_state(stand_in, "wmH1")["service_state"] == 4
    trans = trans_made(stand_in, "wmH1")
    assert trans == [(3, "guide-lin", 0), (4, "", 0)]  # to the guide, then ended: WeCom has no 3 → 1
    # notify: state, trans, state again (WeCom raises no event for API changes), state before "来啦";
    # the app reply: state only; resume: state, trans, state again, state before "回来啦".
    # Not one kf/send_msg was attempted.
    assert [p for p, _, _ in kf_calls(stand_in, "wmH1")] == [GET, TRANS, GET, GET, GET, GET, TRANS, GET, GET]
    codes = [c["response"]["msg_code"] for c in stand_in.calls(TRANS)]
    on_event = stand_in.sent(ON_EVENT)
    assert [m["code"] for m in on_event] == codes  # 回复语 code, then 结束语 code, each used once
    assert on_event[0]["text"]["content"].startswith("林导购来啦")
    assert "回来啦" in on_event[1]["text"]["content"]
    failed = [e for e in undeliverable(redis_url) if e["recipient"] == "wmH1"]
    assert [(e["text"], e["errcode"]) for e in failed] == [("我在企业微信里回您", "95018")]
    assert "WeCom client" in failed[0]["errmsg"]
    to_guide = [b["text"]["content"] for b in stand_in.sent("/cgi-bin/message/send") if b["touser"] == "guide-lin"]
    assert to_guide[0].startswith(f"【转人工 #{rid}】小美")
    assert any("没有送达顾客" in t and "我在企业微信里回您" in t for t in to_guide)
    assert rasa_events == [("pause", "wecom_kf:wmH1"), ("resume", "wecom_kf:wmH1")]


def test_a_guide_who_is_not_receiving_is_relayed_to_and_the_session_stays_with_the_bot(
        stand_in, redis_url, roster, kf_env):
    servicers(stand_in, {"userid": "guide-lin", "status": 1}, {"userid": "guide-chen", "status": 0})

    async def body(client):
        rid = await held_request(client, roster, "wmH2", waited=True)
        w = worker(client, roster)
        await w.handle(f"notify:{rid}")
        await w.handle(f"notify:{rid}")  # a retried notify changes nothing more
        await w.messengers.http.close()

    run(redis_url, body)
    assert trans_made(stand_in, "wmH2") == []  # never the pool: from there only a servicer could take them
    assert kf_state(stand_in, "wmH2")["service_state"] == 1
    # still 智能助手: the persona names the guide through plain send_msg, and the guide was told in the app
    assert [b["text"]["content"][:5] for b in stand_in.kf_sent_to("wmH2")][:1] == ["林导购来啦"]
    assert any(b["touser"] == "guide-lin" for b in stand_in.sent("/cgi-bin/message/send"))


def test_a_refused_transfer_leaves_the_session_with_the_bot_and_the_handoff_goes_on(
        stand_in, redis_url, roster, kf_env):
    servicers(stand_in, {"userid": "guide-lin", "status": 0})
    stand_in.fail(TRANS, 95017, times=1)  # the account is not managed by this app

    async def body(client):
        rid = await held_request(client, roster, "wmH3", waited=True)
        await worker(client, roster).handle(f"notify:{rid}")

    run(redis_url, body)
    assert trans_made(stand_in, "wmH3") == [(3, "guide-lin", 95017)]
    # still 智能助手: the persona names the guide through plain send_msg, and the guide was told
    assert [b["text"]["content"][:5] for b in stand_in.kf_sent_to("wmH3")] == ["林导购来啦"]
    assert any(b["touser"] == "guide-lin" for b in stand_in.sent("/cgi-bin/message/send"))


def test_servicer_messages_reach_the_transcript_and_count_as_the_guides_answer(
        quiet_app, stand_in, received, redis_url, roster):
    rid = run(redis_url, lambda client: held_request(client, roster, "wmH4"))
    enqueue(stand_in, {"origin": 5, "servicer_userid": "guide-lin", "external_userid": "wmH4",
                       "text": {"content": "您好，我是林导购，订单我帮您查"}},
            {"origin": 5, "servicer_userid": "guide-lin", "external_userid": "wmH4", "msgtype": "image",
             "image": {"media_id": "MEDIA1"}},
            {"origin": 5, "servicer_userid": "guide-lin", "external_userid": "wmNOBODY", "text": {"content": "在吗"}})
    sim = kf(quiet_app)
    sim.deliver(sim.kf_notify(h.OPEN_KFID))

    def transcript():
        return run(redis_url, lambda client: session.messages(client, rid))

    entries = wait_for(lambda: len(transcript()) == 2 and transcript())
    assert [(e["who"], e["text"], e["guide"], e["via"]) for e in entries] == [
        ("guide", "您好，我是林导购，订单我帮您查", "guide-lin", "wecom_kf"),
        ("guide", "[导购发了一张图片]", "guide-lin", "wecom_kf")]
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    assert r.hget(routing.request_key(rid), "first_reply_at")  # answered: the reply timer is off
    assert r.zrange(routing.TIMERS, 0, -1) == [f"idle:{rid}"]
    assert [m for m in r.zrange(routing.OUTBOX, 0, -1) if m.startswith("out:")] == []  # nothing to relay
    assert received.all() == [] and stand_in.sent(SEND) == []


def test_a_servicer_ending_the_session_in_wecom_gives_the_customer_back_to_the_bot(
        quiet_app, stand_in, received, redis_url, roster, kf_env):
    rid = run(redis_url, lambda client: held_request(client, roster, "wmH5"))
    stand_in.post("/_stand_in/kf/service_state", {"open_kfid": h.OPEN_KFID, "external_userid": "wmH5",
                                                  "service_state": 3, "servicer_userid": "guide-lin"})
    enqueue(stand_in, {"origin": 4, "msgtype": "event", "event": {
        "event_type": "session_status_change", "open_kfid": h.OPEN_KFID, "external_userid": "wmH5",
        "change_type": 3, "old_servicer_userid": "guide-lin", "msg_code": "END_CODE_H5"}})
    sim = kf(quiet_app)
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    assert wait_for(lambda: r.hget(routing.request_key(rid), "status") == "ended")
    assert r.hget(routing.request_key(rid), "outcome") == "guide_ended_in_wecom"
    assert r.get(routing.held_key("wecom_kf:wmH5")) is None  # the bot answers this customer again
    assert f"resume:{rid}" in r.zrange(routing.OUTBOX, 0, -1)
    assert r.hget(routing.LOAD, "guide-lin") == "0"

    async def resume(client):
        w = worker(client, roster)
        await w.handle(f"resume:{rid}")
        await w.messengers.http.close()
        return w.rasa.events
    assert run(redis_url, resume) == [("resume", "wecom_kf:wmH5")]
    back = stand_in.sent(ON_EVENT)
    assert [m["code"] for m in back] == ["END_CODE_H5"] and "回来啦" in back[0]["text"]["content"]
    assert trans_made(stand_in, "wmH5") == []  # already ended by the servicer: nothing to change
    assert stand_in.kf_sent_to("wmH5") == []

    # The customer writes again: a new session (0), answered by the bot through send_msg.
    enqueue(stand_in, text("wmH5", "谢谢"))
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: stand_in.kf_sent_to("wmH5"))[0]["text"]["content"] == "回声：谢谢"
    assert received.texts() == ["谢谢"]


def test_send_failures_reported_by_wecom_are_recorded_and_the_next_message_answered(
        quiet_app, stand_in, redis_url):
    failures = [{"origin": 4, "msgtype": "event", "event": {
        "event_type": "msg_send_fail", "open_kfid": h.OPEN_KFID, "external_userid": "wmH6",
        "fail_msgid": f"F{kind}", "fail_type": kind}} for kind in (4, 5, 6, 10, "x")]
    enqueue(stand_in, *failures, text("wmH6", "还在吗"))
    sim = kf(quiet_app)
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    assert wait_for(lambda: stand_in.kf_sent_to("wmH6"))[0]["text"]["content"] == "回声：还在吗"
    recorded = [(e["extra"], e["errcode"], e["errmsg"]) for e in undeliverable(redis_url) if e["recipient"] == "wmH6"]
    assert [(x, c) for x, c, _ in recorded] == [("F4", "4"), ("F5", "5"), ("F6", "6"), ("F10", "10"), ("Fx", "-1")]
    assert "48 hours" in recorded[0][2] and "5 messages" in recorded[2][2] and "refuses" in recorded[3][2]


def test_a_reply_that_meets_a_session_just_handed_to_a_guide_goes_out_on_the_transfer_code(
        quiet_app, stand_in, redis_url):
    """The persona's "林导购 will answer you" can reach WeCom after the trans to 3 (the worker is fast)."""
    enqueue(stand_in, text("wmH7", "转人工"))
    stand_in.post("/_stand_in/kf/service_state", {"open_kfid": h.OPEN_KFID, "external_userid": "wmH7",
                                                  "service_state": 3, "servicer_userid": "guide-lin"})
    run(redis_url, lambda client: kf_handoff.remember_code(client, "wecom_kf:wmH7", "TRANS_CODE_H7"))
    sim = kf(quiet_app)
    sim.deliver(sim.kf_notify(h.OPEN_KFID))
    sent = wait_for(lambda: stand_in.sent(ON_EVENT))
    assert sent == [{"code": "TRANS_CODE_H7", "msgtype": "text", "text": {"content": "回声：转人工"}}]
    assert stand_in.kf_sent_to("wmH7") == []  # refused with 95018, as WeCom does in state 3


def test_a_conversation_passed_to_a_colleague_moves_to_their_wecom_client(stand_in, redis_url, roster, kf_env):
    servicers(stand_in, {"userid": "guide-lin", "status": 0}, {"userid": "guide-chen", "status": 0})
    stand_in.post("/_stand_in/kf/service_state", {"open_kfid": h.OPEN_KFID, "external_userid": "wmH8",
                                                  "service_state": 3, "servicer_userid": "guide-lin"})
    details = {"sender": "wecom_kf:wmH8", "guide": "guide-chen", "context": json.dumps({"open_kfid": h.OPEN_KFID})}

    async def body(client):
        messengers = Messengers(client)
        await kf_handoff.to_guide(client, messengers, details)
        await kf_handoff.to_guide(client, messengers, details)  # a retried notify: theirs already
        await messengers.http.close()
        return await client.get(kf_handoff.code_key("wecom_kf:wmH8"))

    code = run(redis_url, body)
    assert trans_made(stand_in, "wmH8") == [(3, "guide-chen", 0)]
    assert kf_state(stand_in, "wmH8") == {"service_state": 3, "servicer_userid": "guide-chen"}
    assert code is None  # WeCom gives a 回复语 code only on the first change to 2/3
