"""The flood limiter and the nonce cache against a real redis-server."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, List

import pytest
import redis as redis_sync
import redis.asyncio as aioredis
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.common import handle_user_text
from bot.flood import Verdict, WindowLimiter
from bot.persona import system_text
from bot.redis_server import free_port
from bot.wechat.callback_auth import Forbidden
from bot.wechat.nonce import NEW, RETRY, check_nonce, nonce_key
from tests.unit.conftest import run_with_redis as run


@pytest.fixture(autouse=True)
def clean(redis_url) -> None:
    redis_sync.Redis.from_url(redis_url).flushdb()


def dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


def test_window_rolls_over_on_the_injected_clock(redis_url):
    limiter = WindowLimiter("flood:test", 3, 10.0)

    async def body(r: aioredis.Redis) -> List[Verdict]:
        times = [100.0, 101.0, 102.0, 103.0, 104.0, 109.99, 110.0, 110.5, 111.0, 111.5, 119.0, 200.0]
        return [await limiter.hit(r, "alice", now=t) for t in times]

    A, N, D = Verdict.ALLOW, Verdict.NOTICE, Verdict.DROP
    assert run(redis_url, body) == [A, A, A, N, D, D, A, A, A, N, D, A]


def test_subjects_are_counted_apart_and_the_key_cleans_itself_up(redis_url):
    limiter = WindowLimiter("flood:test", 1, 10.0)

    async def body(r: aioredis.Redis) -> Any:
        verdicts = [await limiter.hit(r, s, now=50.0) for s in ("alice", "bob", "alice", "bob")]
        return verdicts, await r.pttl(limiter.key("alice"))

    verdicts, ttl_ms = run(redis_url, body)
    assert verdicts == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTICE, Verdict.NOTICE]
    assert 0 < ttl_ms <= 20_000


def test_concurrent_hits_cannot_both_pass_the_limit(redis_url):
    limiter = WindowLimiter("flood:test", 20, 10.0)

    async def body(r: aioredis.Redis) -> List[Verdict]:
        return list(await asyncio.gather(*[limiter.hit(r, "burst") for _ in range(100)]))

    verdicts = run(redis_url, body)
    assert verdicts.count(Verdict.ALLOW) == 20 and verdicts.count(Verdict.NOTICE) == 1


def test_zero_disables_the_limit(redis_url):
    limiter = WindowLimiter("flood:test", 0, 10.0)
    assert run(redis_url, lambda r: asyncio.gather(*[limiter.hit(r, "x") for _ in range(50)])) == [Verdict.ALLOW] * 50


def test_redis_down_fails_open_with_a_warning(caplog):
    limiter = WindowLimiter("flood:test", 1, 10.0)
    with caplog.at_level(logging.WARNING, logger="bot.flood"):
        verdicts = run(dead_url(), lambda r: asyncio.gather(*[limiter.hit(r, "x") for _ in range(3)]))
    assert verdicts == [Verdict.ALLOW] * 3
    assert "limiter unavailable" in caplog.text


def _turns(url: str, monkeypatch, sender: str, count: int) -> Any:
    """`count` messages from `sender` through handle_user_text; what Rasa got and what each caller got back."""
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("FLOOD_MAX_MESSAGES", "5")
    monkeypatch.setenv("FLOOD_WINDOW_S", "60")
    monkeypatch.setenv("PERSONA", "qiqi")
    reached: List[str] = []

    async def on_new_message(message: UserMessage) -> None:
        reached.append(message.text or "")
        await message.output_channel.send_text_message(message.sender_id, f"回声：{message.text}")

    async def body(_: aioredis.Redis) -> List[List[str]]:
        answers = []
        for n in range(count):
            collector = CollectingOutputChannel()
            await handle_user_text(on_new_message, collector, f"第{n}条", sender, "rest")
            answers.append([m["text"] for m in collector.messages])
        return answers

    return reached, run(url, body)


def test_handle_user_text_answers_the_flood_once_and_keeps_it_from_nlu(redis_url, monkeypatch):
    reached, answers = _turns(redis_url, monkeypatch, "rest:flooder", 12)
    assert reached == [f"第{n}条" for n in range(5)]
    assert answers[:5] == [[f"回声：第{n}条"] for n in range(5)]
    assert answers[5] == [system_text("throttled")]
    assert answers[6:] == [[]] * 6  # the REST webhook answers []


def test_handle_user_text_without_redis_still_answers_everyone(monkeypatch):
    reached, answers = _turns(dead_url(), monkeypatch, "rest:someone", 8)
    assert len(reached) == 8 and answers == [[f"回声：第{n}条"] for n in range(8)]


def test_nonce_same_body_is_a_retry_another_body_a_replay(redis_url, monkeypatch):
    monkeypatch.setenv("WECHAT_REPLAY_WINDOW_S", "300")
    params = {"timestamp": "1700000000", "nonce": "42", "signature": "abc"}

    async def body(r: aioredis.Redis) -> Any:
        first = await check_nonce(r, "wechat_mp", params, b"<xml>a</xml>")
        retry = await check_nonce(r, "wechat_mp", params, b"<xml>a</xml>")
        with pytest.raises(Forbidden, match="replayed nonce"):
            await check_nonce(r, "wechat_mp", params, b"<xml>b</xml>")
        other_channel = await check_nonce(r, "wecom", params, b"<xml>b</xml>")
        return first, retry, other_channel, await r.ttl(nonce_key("wechat_mp", "1700000000", "42"))

    first, retry, other_channel, ttl = run(redis_url, body)
    assert (first, retry, other_channel) == (NEW, RETRY, NEW)
    assert 300 < ttl <= 600


def test_nonce_cache_down_falls_back_to_the_signature_checks(caplog):
    params = {"timestamp": "1700000000", "nonce": "42", "signature": "abc"}
    with caplog.at_level(logging.WARNING, logger="bot.wechat.nonce"):
        outcomes = run(dead_url(), lambda r: asyncio.gather(check_nonce(r, "wechat_mp", params, b"a"),
                                                            check_nonce(r, "wechat_mp", params, b"b")))
    assert outcomes == [NEW, NEW] and "nonce cache unavailable" in caplog.text


def test_a_hit_right_after_a_redis_restart_is_still_counted(tmp_path):
    """A pooled connection Redis dropped fails once; the limiter must not wave that hit
    through (the staff sign-in cap counts on every hit)."""
    from bot.redis_conn import make_redis
    from bot.redis_server import RedisServer

    server = RedisServer(free_port(), tmp_path / "redis").start(appendonly=True)
    limiter = WindowLimiter("flood:restart", 2, 600.0)

    async def body() -> List[Verdict]:
        client = make_redis(server.url)  # the project's own client settings
        try:
            verdicts = [await limiter.hit(client, "mallory"), await limiter.hit(client, "mallory")]
            server.stop()
            server.start(appendonly=True)  # same port, same data: the pooled connection is dead
            verdicts.append(await limiter.hit(client, "mallory"))
            return verdicts
        finally:
            await client.close()

    try:
        assert asyncio.run(body()) == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTICE]
    finally:
        server.stop()
