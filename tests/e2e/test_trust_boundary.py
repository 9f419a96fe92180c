"""The trust boundary, tried as an attacker would, against the real stack.

REST webhook: only RASA_TOKEN holders are answered; not even they can write into
a WeChat customer's tracker or borrow a customer through a forged `unionid`.
Web chat: the console issues the session; a forged cookie or a client-chosen
sender id never reaches another visitor's conversation; every POST needs the
session's CSRF token; new sessions and messages are capped per client IP.
"""
from __future__ import annotations

import itertools
import json
import secrets
import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import Iterator, List, Optional

import pytest
import redis as redis_sync
import requests

from bot.persona import load_persona, system_text
from bot.redis_server import free_port
from bot.stack import RASA_PY, Service
from common.key_tags import MARKETING as TAG

SESSIONS_CAP = 20
MESSAGES_CAP = 3
QIQI = load_persona("qiqi")
_ips = itertools.count(1)


def fake_ip() -> str:
    """A distinct client address per visitor (sent as X-Forwarded-For via a trusted proxy)."""
    n = next(_ips)
    return f"203.0.{113 + n // 250}.{n % 250 + 1}"


@pytest.fixture(scope="module")
def redis(stack) -> redis_sync.Redis:
    return redis_sync.Redis.from_url(stack.redis_url, decode_responses=True)


def tracker_raw(redis: redis_sync.Redis, sender_id: str) -> Optional[str]:
    return redis.get(f"rasa:tracker:{sender_id}")


def webhook(stack) -> str:
    return f"{stack.rasa_url}/webhooks/rest/webhook"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def texts(messages: List[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def conversation_path(sender_id: str) -> str:
    # The colon stays as it is: Rasa's <conversation_id:path> does not decode %3A.
    return urllib.parse.quote(sender_id, safe=":")


def rasa_tracker(stack, sender_id: str) -> dict:
    quoted = conversation_path(sender_id)
    response = requests.get(
        f"{stack.rasa_url}/conversations/{quoted}/tracker", params={"token": stack.rasa_token}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def seed_tracker(stack, sender_id: str) -> None:
    """A real tracker in Rasa's store, made through Rasa's own (token-protected) API."""
    quoted = conversation_path(sender_id)
    response = requests.post(
        f"{stack.rasa_url}/conversations/{quoted}/tracker/events", params={"token": stack.rasa_token},
        json=[{"event": "user", "text": "你好", "parse_data": {"intent": {"name": "greet", "confidence": 1.0},
                                                              "entities": []}}],
        timeout=10,
    )
    response.raise_for_status()


# --- REST webhook -----------------------------------------------------------------------------

def test_anonymous_and_wrong_token_calls_are_refused_and_reach_nothing(stack, redis):
    user = f"anon-{secrets.token_hex(4)}"
    body = {"sender": user, "message": "你好"}
    attempts = [
        requests.post(webhook(stack), json=body, timeout=10),
        requests.post(webhook(stack), json=body, headers=bearer("not-the-token"), timeout=10),
        requests.post(webhook(stack), json=body, params={"token": stack.rasa_token[:-1]}, timeout=10),
        requests.post(webhook(stack), json=body, headers={"Authorization": stack.rasa_token}, timeout=10),
    ]
    assert [r.status_code for r in attempts] == [401] * 4
    assert all("error" in r.json() for r in attempts)
    assert redis.keys(f"*{user}*") == [], "a refused call must not create a tracker (or anything else)"
    assert "without a valid token refused" in (stack.run_dir / "logs" / "rasa.log").read_text(errors="replace")


def test_the_token_works_as_query_and_as_bearer_and_the_tracker_is_namespaced(stack, redis):
    user = f"tool-{secrets.token_hex(4)}"
    by_query = requests.post(webhook(stack), params={"token": stack.rasa_token},
                             json={"sender": user, "message": "你好"}, timeout=30)
    by_header = requests.post(webhook(stack), headers=bearer(stack.rasa_token),
                              json={"sender": user, "message": "你是机器人吗"}, timeout=30)
    assert by_query.status_code == by_header.status_code == 200
    apology = system_text("service_apology", QIQI)
    for reply in (by_query.json(), by_header.json()):
        assert reply and apology not in texts(reply)
        assert {m["recipient_id"] for m in reply} == {f"rest:{user}"}
    assert tracker_raw(redis, f"rest:{user}") and tracker_raw(redis, user) is None
    # Trusted callers read it with the namespaced id, the colon as it is in the URL.
    tracker = requests.get(f"{stack.rasa_url}/conversations/rest:{user}/tracker",
                           params={"token": stack.rasa_token}, timeout=10).json()
    assert tracker["sender_id"] == f"rest:{user}"
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["你好", "你是机器人吗"]


@pytest.mark.parametrize("namespace", ["wechat_mp", "wecom_kf", "wecom"])
def test_a_token_holder_cannot_write_into_a_wechat_customers_tracker(stack, redis, namespace):
    victim = f"{namespace}:oVictim{secrets.token_hex(6)}"
    seed_tracker(stack, victim)
    before = tracker_raw(redis, victim)
    assert before
    response = requests.post(webhook(stack), headers=bearer(stack.rasa_token),
                             json={"sender": victim, "message": "帮我签到"}, timeout=30)
    assert response.status_code == 403 and "error" in response.json()
    assert tracker_raw(redis, victim) == before
    assert "refused (403)" in (stack.run_dir / "logs" / "rasa.log").read_text(errors="replace")


def test_a_bare_openid_is_the_callers_own_rest_conversation(stack, redis):
    # Trackers from before namespacing are keyed by the bare openid: REST cannot reach them either.
    legacy = f"oLegacy{secrets.token_hex(6)}"
    seed_tracker(stack, legacy)
    before = tracker_raw(redis, legacy)
    reply = requests.post(webhook(stack), headers=bearer(stack.rasa_token),
                          json={"sender": legacy, "message": "你好"}, timeout=30)
    assert reply.status_code == 200 and reply.json()
    assert tracker_raw(redis, legacy) == before
    assert tracker_raw(redis, f"rest:{legacy}")


def test_a_forged_unionid_does_not_link_the_caller_to_the_victim(stack, redis):
    tag = secrets.token_hex(4)
    unionid, victim_cid, code = f"oUnion{tag}", f"cvictim{tag}", f"QHL-VICTIM-{tag.upper()}"
    now = datetime.now(timezone.utc)
    # The victim as actions/services/customers.py and issue_coupon.lua store a 公众号 customer.
    redis.set(f"{TAG}cust:ident:unionid:{unionid}", victim_cid)
    redis.set(f"{TAG}cust:ident:wechat_mp:oVictim{tag}", victim_cid)
    redis.hset(f"{TAG}cust:{victim_cid}:profile", mapping={"created_at": now.isoformat(), "first_channel": "wechat_mp"})
    redis.hset(f"{TAG}cust:{victim_cid}:coupons", "lottery_20", json.dumps({
        "code": code, "issued_at": now.isoformat(), "expires_at": (now + timedelta(days=30)).isoformat(),
    }))
    redis.rpush(f"{TAG}cust:{victim_cid}:claims", f"victim-claim-{tag}")
    claims_before = redis.lrange(f"{TAG}cust:{victim_cid}:claims", 0, -1)

    thief = f"thief-{tag}"
    response = requests.post(webhook(stack), headers=bearer(stack.rasa_token), timeout=30, json={
        "sender": thief, "message": "我的优惠券", "metadata": {"unionid": unionid, "scene": "forged"},
    })
    assert response.status_code == 200
    reply = texts(response.json())
    assert reply and system_text("service_apology", QIQI) not in reply
    assert rasa_tracker(stack, f"rest:{thief}")["latest_message"]["intent"]["name"] == "my_coupons"
    assert code not in reply, "the caller was shown the victim's coupon"

    linked = sorted(k for k in redis.scan_iter(TAG + "cust:ident:*") if redis.get(k) == victim_cid)
    assert linked == sorted([f"{TAG}cust:ident:unionid:{unionid}", f"{TAG}cust:ident:wechat_mp:oVictim{tag}"])
    assert redis.lrange(f"{TAG}cust:{victim_cid}:claims", 0, -1) == claims_before
    assert redis.hkeys(f"{TAG}cust:{victim_cid}:coupons") == ["lottery_20"]


# --- web chat through the console ---------------------------------------------------------------

@pytest.fixture(scope="module")
def console(stack, tmp_path_factory) -> Iterator[str]:
    """A console behind a (simulated) trusted reverse proxy at 127.0.0.1, so each test can be
    its own client IP via X-Forwarded-For; its counters live in their own Redis database."""
    port = free_port()
    service = Service(
        "console-trust", [str(RASA_PY), "-m", "bot.console", "--port", str(port)],
        f"http://127.0.0.1:{port}/healthz", tmp_path_factory.mktemp("console_trust") / "console.log",
    )
    service.start({
        **stack.env(),
        "REDIS_URL": stack.redis_url.rsplit("/", 1)[0] + "/1",
        "CONSOLE_TRUSTED_PROXIES": "127.0.0.1",
        "WEB_NEW_SESSIONS_PER_IP_HOUR": str(SESSIONS_CAP),
        "WEB_MESSAGES_PER_IP_MINUTE": str(MESSAGES_CAP),
    })
    try:
        service.wait(60)
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


class Visitor:
    """A browser-like client of the web chat: cookie jar, CSRF header, own IP."""

    def __init__(self, base_url: str, ip: Optional[str] = None) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["X-Forwarded-For"] = ip or fake_ip()

    def open(self) -> "Visitor":
        response = self.http.get(f"{self.base_url}/api/session", timeout=10)
        assert response.status_code == 200, response.text
        self.http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return self

    @property
    def cookie(self) -> str:
        return self.http.cookies.get("webchat_session")

    @property
    def session_id(self) -> str:
        return self.cookie.split(".")[0]

    @property
    def rasa_sender(self) -> str:
        return f"web:{self.session_id}"

    def say(self, body) -> requests.Response:
        return self.http.post(f"{self.base_url}/api/chat", json=body, timeout=30)


def test_chat_needs_the_sessions_csrf_token(console, redis):
    visitor, other = Visitor(console).open(), Visitor(console).open()
    own = visitor.http.headers.pop("X-CSRF-Token")
    assert visitor.say({"message": "你好"}).status_code == 403
    visitor.http.headers["X-CSRF-Token"] = "forged"
    assert visitor.say({"message": "你好"}).status_code == 403
    visitor.http.headers["X-CSRF-Token"] = other.http.headers["X-CSRF-Token"]
    assert visitor.say({"message": "你好"}).status_code == 403
    assert tracker_raw(redis, visitor.rasa_sender) is None, "a refused POST reached Rasa"
    # Without any session there is nothing to hold a token for.
    assert requests.post(f"{console}/api/chat", json={"message": "你好"}, timeout=10).status_code == 403

    visitor.http.headers["X-CSRF-Token"] = own
    answered = visitor.say({"message": "你好"})
    assert answered.status_code == 200 and "七七" in texts(answered.json()["messages"])
    assert tracker_raw(redis, visitor.rasa_sender)


def test_the_session_cookie_is_httponly_strict_and_secure_behind_https(console):
    plain = requests.get(f"{console}/api/session", headers={"X-Forwarded-For": fake_ip()}, timeout=10)
    https = requests.get(f"{console}/api/session", timeout=10,
                         headers={"X-Forwarded-For": fake_ip(), "X-Forwarded-Proto": "https"})
    for response in (plain, https):
        attributes = [a.strip().lower() for a in response.headers["Set-Cookie"].split(";")]
        assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert "secure" not in plain.headers["Set-Cookie"].lower()
    assert "secure" in [a.strip().lower() for a in https.headers["Set-Cookie"].split(";")]


def test_a_tampered_cookie_gets_a_fresh_session_never_the_victims(console, redis):
    victim = Visitor(console).open()
    assert victim.say({"message": "你好"}).status_code == 200
    before = tracker_raw(redis, victim.rasa_sender)
    assert before

    thief = Visitor(console).open()
    own_sid, own_tail = thief.cookie.split(".", 1)
    flipped = victim.cookie[:-1] + ("A" if victim.cookie[-1] != "A" else "B")
    forgeries = [
        f"{victim.session_id}.{own_tail}",           # the victim's id under the thief's signature
        flipped,                                      # the victim's cookie, one character changed
        victim.session_id,                            # the bare id
        f"{victim.session_id}.9999999999.{own_tail.split('.')[1]}",
    ]
    for forged in forgeries:
        jar = {"webchat_session": forged}
        headers = {"X-Forwarded-For": thief.http.headers["X-Forwarded-For"],
                   "X-CSRF-Token": thief.http.headers["X-CSRF-Token"]}
        chat = requests.post(f"{console}/api/chat", json={"message": "我的优惠券"}, cookies=jar,
                             headers=headers, timeout=10)
        assert chat.status_code == 403
        fresh = requests.get(f"{console}/api/session", cookies=jar, headers=headers, timeout=10)
        assert fresh.status_code == 200
        new_sid = fresh.cookies.get("webchat_session").split(".")[0]
        assert new_sid not in (victim.session_id, own_sid)
    assert tracker_raw(redis, victim.rasa_sender) == before


def test_a_client_sent_sender_cannot_pick_another_sessions_id(console, redis):
    victim = Visitor(console).open()
    assert victim.say({"message": "你好"}).status_code == 200
    before = tracker_raw(redis, victim.rasa_sender)

    thief = Visitor(console).open()
    for claimed in (victim.rasa_sender, victim.session_id):
        reply = thief.say({"sender": claimed, "message": "谢谢"})
        assert reply.status_code == 200 and reply.json()["messages"]
    assert tracker_raw(redis, victim.rasa_sender) == before
    users = [e["text"] for e in rasa_tracker_events(redis, thief.rasa_sender) if e["event"] == "user"]
    assert users == ["谢谢", "谢谢"], "the messages ran in the thief's own session"


def rasa_tracker_events(redis: redis_sync.Redis, sender_id: str) -> List[dict]:
    raw = tracker_raw(redis, sender_id)
    return json.loads(raw)["events"] if raw else []


def test_a_thousand_new_sessions_from_one_ip_are_capped(console):
    ip = fake_ip()
    statuses, cookies, refusals = [], 0, set()
    for _ in range(1000):
        response = requests.get(f"{console}/api/session", headers={"X-Forwarded-For": ip}, timeout=10)
        statuses.append(response.status_code)
        if response.cookies.get("webchat_session"):
            cookies += 1
        if response.status_code == 429:
            refusals.add(texts(response.json()["messages"]))
    assert statuses.count(200) == cookies == SESSIONS_CAP
    assert statuses.count(429) == 1000 - SESSIONS_CAP
    assert refusals == {system_text("web_sessions_capped", QIQI)}
    # Another address is unaffected, and the capped one cannot chat without a session.
    assert Visitor(console).open().say({"message": "你好"}).status_code == 200
    assert requests.post(f"{console}/api/chat", json={"message": "你好"},
                         headers={"X-Forwarded-For": ip}, timeout=10).status_code == 403


def test_messages_per_ip_are_capped_and_refused_ones_never_reach_rasa(console, redis):
    visitor = Visitor(console).open()
    replies = [visitor.say({"message": "你好"}) for _ in range(2 * MESSAGES_CAP + 1)]
    statuses = [r.status_code for r in replies]
    assert set(statuses) == {200, 429} and statuses[:MESSAGES_CAP] == [200] * MESSAGES_CAP
    refused = {texts(r.json()["messages"]) for r in replies if r.status_code == 429}
    assert refused == {system_text("web_messages_capped", QIQI)}
    users = [e for e in rasa_tracker_events(redis, visitor.rasa_sender) if e["event"] == "user"]
    assert len(users) == statuses.count(200)
    # A visitor on another address chats on.
    other = Visitor(console).open()
    assert other.say({"message": "你好"}).status_code == 200
