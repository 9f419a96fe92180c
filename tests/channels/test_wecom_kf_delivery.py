"""微信客服 at-least-once, in order: a SIGKILLed syncer's page is finished by the
next process, a page longer than the lock TTL is not run twice by a second
syncer, and messages outside the 48-hour reply window are recorded, not answered."""
from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter, defaultdict

import redis as redis_sync

from tests.channels import helpers as h
from tests.channels.helpers import wait_for
from tests.channels.test_wecom_kf import enqueue, kf, replies, text


def notify(app) -> None:
    sim = kf(app)
    sim.deliver(sim.kf_notify(h.OPEN_KFID))


def answers_by_user(stand_in):
    per_user = defaultdict(list)
    for user, content in replies(stand_in):
        per_user[user].append(content.removeprefix("回声："))
    return dict(per_user)


def keep_notifying(apps, until: threading.Event) -> threading.Thread:
    """WeChat sends a callback per new message, to any instance: keep both busy."""
    def run() -> None:
        while not until.is_set():
            for app in apps:
                threading.Thread(target=notify, args=(app,), daemon=True).start()
            until.wait(0.3)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_sigkill_mid_page_then_restart_answers_every_message_exactly_once_in_order(
        apps, make_app, stand_in, received, redis_url):
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    stand_in.post("/_stand_in/config", {"page_size": 5})
    users = ["wmK0", "wmK1", "wmK2"]
    expected = {u: [f"{u}-{n}" for n in range(4)] for u in users}
    # Round 1 of wmK0 and wmK1 stalls in the handler (page 1), so the kill lands mid-page:
    # round 0 answered and done, round 1 pending, the rest not started.
    enqueue(stand_in, *[text(u, f"wait:kill {u}-{n}" if n == 1 and u != "wmK2" else f"{u}-{n}")
                        for n in range(4) for u in users])
    victim = make_app("kf_victim", WECOM_KF_LOCK_TTL_S="2").wait()
    notify(victim)
    stalled = lambda: [m for m in received.all() if m["text"].startswith("wait:")]  # noqa: E731
    assert wait_for(lambda: len(stalled()) == 2, timeout_s=20)
    assert wait_for(lambda: len(replies(stand_in)) == 3)  # round 0 of each customer
    victim_pid = victim.service.process.pid
    os.killpg(victim_pid, signal.SIGKILL)
    victim.service.process.wait()
    assert r.get(f"{{wx:kf}}:cursor:{h.OPEN_KFID}") is None  # page 1 never completed
    r.set("test:go:kill", "1")

    # A fresh process; its first trigger finds the dead holder's lock and takes over once it expires.
    fresh = make_app("kf_after_kill", WECOM_KF_LOCK_TTL_S="2").wait()
    notify(fresh)
    assert wait_for(lambda: sum(map(len, answers_by_user(stand_in).values())) >= 12, timeout_s=30)
    time.sleep(0.5)  # anything sent twice would show up now
    notify(fresh)
    assert wait_for(lambda: r.get(f"{{wx:kf}}:cursor:{h.OPEN_KFID}") == "c12")
    assert answers_by_user(stand_in) == expected  # exactly once each, in order per customer
    # Rasa got the stalled messages twice (at-least-once: they never finished), everything else once,
    # and round 0 only from the killed process (done before the kill, skipped after).
    seen = [m["text"] for m in received.all()]
    sent_in = {u: [f"wait:kill {u}-1" if n == 1 and u != "wmK2" else f"{u}-{n}" for n in range(4)] for u in users}
    assert Counter(seen) == Counter([t for ts in sent_in.values() for t in ts] + ["wait:kill wmK0-1",
                                                                                 "wait:kill wmK1-1"])
    assert {m["pid"] for m in received.all() if m["text"].endswith("-0")} == {victim_pid}
    # Both runs of a stalled message carry its 微信客服 msgid as Rasa's message id, so the
    # actions' idempotency keys match and no check-in or prize of it happens twice.
    for stalled_text in ("wait:kill wmK0-1", "wait:kill wmK1-1"):
        ids = {m["message_id"] for m in received.all() if m["text"] == stalled_text}
        assert len(ids) == 1 and next(iter(ids)).startswith("wecom_kf:"), (stalled_text, ids)


def test_a_page_longer_than_the_lock_ttl_runs_once_with_two_syncers(apps, make_app, stand_in, received, redis_url):
    # TTL 1 s; one message takes 2.5 s and the page about 4 s: only a kept-alive lock holds.
    syncers = [make_app(f"kf_lock_{n}", WECOM_KF_LOCK_TTL_S="1") for n in range(2)]
    for app in syncers:
        app.wait()
    users = ["wmL0", "wmL1"]
    plan = {u: [f"slow:2.5 {u}-0", f"{u}-1", f"slow:1 {u}-2", f"{u}-3"] for u in users}
    enqueue(stand_in, *[text(u, plan[u][n]) for n in range(4) for u in users])
    done = threading.Event()
    keep_notifying(syncers, done)
    try:
        assert wait_for(lambda: len(replies(stand_in)) >= 8, timeout_s=30)
        time.sleep(1.5)  # a second run of a message would answer now
    finally:
        done.set()
    assert answers_by_user(stand_in) == {u: [f"{u}-{n}" for n in range(4)] for u in users}
    assert sorted(received.texts()) == sorted(t for ts in plan.values() for t in ts)  # each handled once


def test_a_message_older_than_48_hours_is_recorded_and_not_answered_even_after_a_lost_cursor(
        apps, stand_in, received, redis_url):
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    now = int(time.time())
    old_id, _ = enqueue(stand_in, {**text("wmOLD", "两天前的问题"), "send_time": now - 49 * 3600},
                        text("wmOLD", "今天的问题"))
    notify(apps["main"])
    assert wait_for(lambda: replies(stand_in)) == [("wmOLD", "回声：今天的问题")]
    assert received.texts() == ["今天的问题"]
    skipped = r.xrange("{wx:kf}:skipped")
    assert [(e[1]["msgid"], e[1]["external_userid"]) for e in skipped] == [(old_id, "wmOLD")]
    assert "48-hour" in skipped[0][1]["reason"]

    # The cursor is lost: sync_msg starts from the beginning again. Nothing is answered or recorded twice.
    r.delete(f"{{wx:kf}}:cursor:{h.OPEN_KFID}")
    enqueue(stand_in, text("wmOLD", "还有一个问题"))
    notify(apps["main"])
    assert wait_for(lambda: len(replies(stand_in)) == 2)
    time.sleep(0.5)
    assert replies(stand_in) == [("wmOLD", "回声：今天的问题"), ("wmOLD", "回声：还有一个问题")]
    assert received.texts() == ["今天的问题", "还有一个问题"]
    assert len(r.xrange("{wx:kf}:skipped")) == 1
