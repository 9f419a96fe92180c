"""A lottery action that outlives the guard's time-out: exactly one draw is
recorded, the customer first hears an honest "slow" text (no win, no failure
claim), and the next turn starts with the real result.

How the action is made slow without touching its code: the action server gets a
Redis of its own (Rasa's tracker and lock store stay on the stack's Redis), and
the test pauses writes on it (`CLIENT PAUSE ... WRITE`: every EVALSHA blocks)
while 抽奖 is sent; it unpauses as soon as the slow text arrived, well inside the
action's Redis socket time-out, so the blocked draw then completes.

Why REST with a catalogue override instead of a `wechat_mp:` customer: the
lottery requires a WeChat identity, REST senders are web identities, and REST
refuses WeChat namespaces; a test copy of data/catalog (CATALOG_DIR) with
`requires_wechat: false` keeps the test independent of the 公众号 channel's
sign/encrypt/passive-reply timing (5 s budget vs. the pause).
"""
from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Iterator, List

import pytest
import redis as redis_sync
import requests
import yaml

from bot.persona import system_text
from bot.redis_server import RedisServer, free_port
from bot.stack import ROOT, Stack
from tests.channels.helpers import wait_for
from common.key_tags import MARKETING as TAG

ACTION_TIMEOUT_S = "0.5"
SLOW_MARK = "有点慢"  # utter_action_slow
APOLOGY_MARKS = ("系统开了个小差", "办不了", "没处理成功")


def open_lottery_catalog(directory: Path) -> Path:
    shutil.copytree(ROOT / "data" / "catalog", directory, dirs_exist_ok=True)
    campaigns = yaml.safe_load((directory / "campaigns.yml").read_text(encoding="utf-8"))
    for lottery in campaigns["lotteries"]:
        lottery["requires_wechat"] = False
    (directory / "campaigns.yml").write_text(yaml.safe_dump(campaigns, allow_unicode=True), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def slow_stack(model_path, tmp_path_factory) -> Iterator[tuple]:
    run_dir = tmp_path_factory.mktemp("late_stack")
    actions_redis = RedisServer(free_port(), run_dir / "actions_redis").start(appendonly=False)
    stack = Stack(
        model=model_path, rasa_port=free_port(), actions_port=free_port(), console_port=free_port(),
        rasa_token=secrets.token_hex(8), run_dir=run_dir, persona="qiqi",
        extra_env={"ACTION_TIMEOUT_S": ACTION_TIMEOUT_S,
                   "CATALOG_DIR": str(open_lottery_catalog(run_dir / "catalog"))},
    )
    try:
        stack.start(redis_port=free_port(), with_console=False, with_outbound=False)
        # the action server again, on its own Redis
        stack.services.pop("actions").stop()
        actions = stack.actions_service()
        stack.services["actions"] = actions.start({**stack.env(), "REDIS_URL": actions_redis.url})
        actions.wait(120)
        yield stack, actions_redis
    except Exception:
        for log in (run_dir / "logs").glob("*.log"):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        stack.stop()
        actions_redis.stop()


def send(stack: Stack, sender: str, text: str) -> List[str]:
    answer = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", params={"token": stack.rasa_token},
        headers={"Authorization": f"Bearer {stack.rasa_token}"},
        json={"sender": sender, "message": text}, timeout=60,
    )
    answer.raise_for_status()
    return [m.get("text", "") for m in answer.json()]


def late_keys(rasa_redis: redis_sync.Redis, sender: str) -> List[str]:
    return list(rasa_redis.scan_iter(match=f"late:*{sender}"))



def test_a_lottery_that_outlives_the_timeout_is_drawn_once_and_told_next_turn(slow_stack):
    stack, actions_redis = slow_stack
    rasa_redis = redis_sync.Redis.from_url(stack.redis_url, decode_responses=True)
    actions_db = redis_sync.Redis.from_url(actions_redis.url, decode_responses=True)
    sender = f"e2e-late-{secrets.token_hex(4)}"

    # warm up (model, connections, the customer): a real greeting within the time-out
    def greeted() -> bool:
        if late_keys(rasa_redis, sender):
            rasa_redis.delete(*late_keys(rasa_redis, sender))
        return any("七七" in t for t in send(stack, sender, "你好")) and not late_keys(rasa_redis, sender)
    assert wait_for(greeted, timeout_s=60), "the warm-up greeting never came back in time"

    actions_db.execute_command("CLIENT", "PAUSE", "10000", "WRITE")
    try:
        first = "\n".join(send(stack, sender, "抽奖"))
    finally:
        actions_db.execute_command("CLIENT", "UNPAUSE")
    assert SLOW_MARK in first, first
    assert "抽中" not in first and not any(mark in first for mark in APOLOGY_MARKS), first

    assert wait_for(lambda: late_keys(rasa_redis, sender), timeout_s=30), "the late result was never kept"
    draws = [actions_db.hget(k, "total") for k in actions_db.scan_iter(match=TAG + "lot:*:user:*")]
    assert draws == ["1"]  # exactly one draw, by the call that timed out

    second = send(stack, sender, "你好")
    assert second, "no reply on the next turn"
    late = second[0]
    assert late.startswith(system_text("late_result_intro")), second
    assert "抽中" in late and not any(mark in late for mark in APOLOGY_MARKS), late  # won or not: the real result
    if "收货" in late:  # a parcel: the form slot never arrived, so say how to fill the address
        assert "我的奖品" in late
    assert any("七七" in t for t in second[1:]), second  # and the greeting itself
    assert not late_keys(rasa_redis, sender)  # told once
    assert [actions_db.hget(k, "total") for k in actions_db.scan_iter(match=TAG + "lot:*:user:*")] == ["1"]
