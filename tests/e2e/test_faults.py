"""Faults, as production meets them (issue 11): the action server killed with
-9 in the middle of a check-in, Redis restarted (gracefully and killed hard).
Nothing is applied twice or lost; the persona stays polite throughout. A handoff
to a guide survives the Rasa server killed hard (issue 12).

These tests run on a stack of their own: after a Redis restart every pooled
connection of the servers is stale and fails once (the flood limiter then lets
a message through, by design), which would leak into the tests after them."""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, List

import pytest

from bot.redis_server import free_port
from bot.stack import Stack
from tests.channels.helpers import wait_for
from tests.e2e.conftest import TEST_ROSTER
from tests.e2e.customers import checkin_totals
from tests.e2e.replies import apology_texts


@pytest.fixture(scope="module")
def stack(model_path, tmp_path_factory) -> Iterator[Stack]:
    """Overrides the session's stack (and `chat` with it) for this module."""
    run_dir = tmp_path_factory.mktemp("faults_stack")
    (run_dir / "guides.yml").write_text(TEST_ROSTER, encoding="utf-8")
    own = Stack(model=model_path, rasa_port=free_port(), actions_port=free_port(), console_port=free_port(),
                rasa_token=secrets.token_hex(8), run_dir=run_dir,
                extra_env={"HANDOFF_ROSTER_FILE": str(run_dir / "guides.yml")})
    try:
        own.start(redis_port=free_port(), with_console=False, with_outbound=False)
        yield own
    finally:
        own.stop()


def kill_hard(service) -> None:
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait()


def test_action_server_killed_mid_checkin_applies_it_once_after_recovery(stack, chat):
    before = checkin_totals(stack.redis_url)
    replies: List[str] = []
    sender = threading.Thread(target=lambda: replies.append(chat.texts("我要签到", allow_apology=True)))
    sender.start()
    time.sleep(0.05)  # the turn is on its way: NLU, then the action call
    kill_hard(stack.services["actions"])
    sender.join(60)
    try:
        assert replies and replies[0], "the customer got silence"
        assert "Traceback" not in replies[0]
        down = chat.texts("我要签到", allow_apology=True)
        assert down in apology_texts() and "七七" in down  # polite while it is down
    finally:
        stack.start_service(stack.actions_service())
    again = chat.texts("我要签到")  # after the restart: checked in now, or told it already was
    assert "连续签到 1 天" in again or "已经签过到" in again, again
    new = {key: total for key, total in checkin_totals(stack.redis_url).items() if key not in before}
    assert list(new.values()) == [1], new  # exactly one check-in: not lost, not doubled


def test_checkins_survive_a_redis_restart(stack, chat):
    assert "连续签到 1 天" in chat.texts("我要签到")
    stack.redis.stop()  # SIGTERM: Redis writes its append-only file and exits
    stack.redis.start(appendonly=True)
    assert "已经签过到" in chat.texts("我要签到")  # the check-in of before the restart is there


def test_checkins_survive_redis_killed_hard_after_a_second(stack, chat):
    """The recovery point with appendfsync everysec: writes older than a second are on disk."""
    assert "连续签到 1 天" in chat.texts("我要签到")
    time.sleep(1.5)
    stack.redis.process.kill()
    stack.redis.process.wait()
    stack.redis.start(appendonly=True)
    assert "已经签过到" in chat.texts("我要签到")


def test_a_handoff_survives_the_rasa_server_killed_hard_and_restarted(stack, chat):
    """The guide holds the conversation in Redis, not in a process: after Rasa comes back the
    customer's messages still go to the guide, and the end of the handoff still brings the bot back."""
    import redis

    from common import handoff_routing as routing, handoff_session as session
    assert "请到" in chat.texts("转人工")
    store = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    request_id = store.get(routing.held_key(chat.sender))
    assert request_id
    kill_hard(stack.services["rasa"])
    stack.start_service(stack.rasa_service(), timeout_s=240)
    assert chat.send("我的快递到哪了") == []  # still the guide's: no bot reply
    transcript = [json.loads(m)["text"] for m in store.lrange(session.messages_key(request_id), 0, -1)]
    assert transcript == ["我的快递到哪了"]
    guide = store.hget(routing.request_key(request_id), "guide")

    async def end() -> None:
        import redis.asyncio as aioredis
        client = aioredis.from_url(stack.redis_url, decode_responses=True)
        roster = routing.current_roster(Path(stack.extra_env["HANDOFF_ROSTER_FILE"]))
        await routing.free_and_offer(client, roster, roster.guide(guide), datetime.now(timezone.utc),
                                     freed_request=request_id)
        await client.close()
    asyncio.run(end())  # what the guide's 结束 does
    assert wait_for(lambda: not store.zscore(routing.OUTBOX, f"resume:{request_id}"), timeout_s=30)  # worker done
    assert "七七" in chat.texts("你好")
