"""The pieces of the web trust boundary that need no running stack: REST token
and sender checks, signed web sessions, and which IP the console counts."""
from __future__ import annotations

import pytest

from bot.channels.rest import token_ok
from common.sender import for_rest as rest_sender_id
from bot.console.limits import client_ip, mask_ip, trusted_proxies
from bot.console.web_session import WebSessions


@pytest.mark.parametrize("raw, expected", [
    ("alice", "rest:alice"),
    ("rest:alice", "rest:alice"),
    ("web:AbC", "web:AbC"),
    ("oUser123", "rest:oUser123"),          # a bare openid is not the WeChat customer's tracker
    ("WECHAT_MP:oUser", "rest:WECHAT_MP:oUser"),
    ("foo:bar", "rest:foo:bar"),
    ("web:", "rest:web:"),
])
def test_rest_sender_ids_are_namespaced(raw, expected):
    assert rest_sender_id(raw) == expected


@pytest.mark.parametrize("raw", ["wechat_mp:oUser", "wecom_kf:wmUser", "wecom:zhangsan"])
def test_rest_refuses_wechat_namespaces(raw):
    with pytest.raises(PermissionError):
        rest_sender_id(raw)


def test_token_compare():
    assert token_ok("s3cret", "s3cret")
    assert not token_ok("s3cre", "s3cret")
    assert not token_ok("", "")            # no token configured: nobody is trusted
    assert not token_ok("x", "")


def test_a_session_cookie_verifies_only_untampered_and_unexpired():
    sessions = WebSessions(b"k" * 32, max_age_s=100)
    sid, cookie = sessions.issue(now=1_000)
    assert sessions.verify(cookie, now=1_050) == sid
    assert sessions.verify(cookie, now=1_200) is None                      # expired
    other_sid, other_cookie = sessions.issue(now=1_000)
    forged = f"{other_sid}.{cookie.split('.', 1)[1]}"                      # someone else's id, my signature
    assert sessions.verify(forged, now=1_050) is None
    assert sessions.verify(cookie[:-1] + ("A" if cookie[-1] != "A" else "B"), now=1_050) is None
    assert sessions.verify(WebSessions(b"x" * 32).issue(now=1_000)[1], now=1_050) is None  # other secret
    for junk in ("", "abc", "a.b.c", None, sid):
        assert sessions.verify(junk, now=1_050) is None
    assert sessions.csrf_ok(sid, sessions.csrf_token(sid))
    assert not sessions.csrf_ok(sid, sessions.csrf_token(other_sid))
    assert not sessions.csrf_ok(sid, None)
    assert sid not in sessions.history_key(sid) and sessions.rasa_sender(sid) == f"web:{sid}"


def test_client_ip_is_the_peer_unless_the_peer_is_a_trusted_proxy():
    none = trusted_proxies("")
    local = trusted_proxies("127.0.0.1, 10.0.0.0/8")
    # untrusted peer: X-Forwarded-For is the client's own claim
    assert client_ip("198.51.100.4", "203.0.113.9", none) == "198.51.100.4"
    assert client_ip("198.51.100.4", "203.0.113.9", local) == "198.51.100.4"
    # trusted proxy: the right-most hop it did not add itself
    assert client_ip("127.0.0.1", "203.0.113.9", local) == "203.0.113.9"
    assert client_ip("127.0.0.1", "1.2.3.4, 203.0.113.9", local) == "203.0.113.9"   # spoofed left part ignored
    assert client_ip("127.0.0.1", "203.0.113.9, 10.1.2.3", local) == "203.0.113.9"  # chain of our proxies
    assert client_ip("127.0.0.1", "garbage", local) == "127.0.0.1"
    assert client_ip("127.0.0.1", None, local) == "127.0.0.1"
    assert client_ip("::ffff:127.0.0.1", "203.0.113.9", local) == "203.0.113.9"
    assert trusted_proxies("not-an-ip, 127.0.0.1") == trusted_proxies("127.0.0.1")


def test_ips_are_masked_in_logs():
    assert mask_ip("203.0.113.77") == "203.0.113.x"
    assert mask_ip("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
