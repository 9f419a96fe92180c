"""Outages: the persona apologises at once and recovers by itself."""
from __future__ import annotations

from tests.e2e.replies import apology_texts


def test_action_server_down_gets_an_apology_then_recovers(stack, chat):
    stack.services["actions"].stop()
    try:
        reply = chat.texts("我要签到", allow_apology=True)
        assert reply in apology_texts() and "七七" in reply
        assert "Traceback" not in reply
    finally:
        stack.start_service(stack.actions_service())
    recovered = chat.texts("我要签到")
    assert recovered and "系统开了个小差" not in recovered


def test_redis_down_gets_an_apology_then_recovers(stack, chat):
    port = stack.redis.port
    stack.redis.stop()
    try:
        reply = chat.texts("你好", allow_apology=True)
        assert reply in apology_texts() and "七七" in reply
    finally:
        stack.redis.start(appendonly=True)
    assert "七七" in chat.texts("你好") and stack.redis.port == port
