"""scripts/push.py as ops run it: preview, refusals in Chinese, create, report, cancel."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import redis.asyncio as aioredis

from tests.outbound.conftest import NOON, ROOT, Clock, World, run


def push_cli(redis_url: str, *args: str) -> tuple:
    done = subprocess.run([sys.executable, "scripts/push.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}, timeout=60)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


def test_ops_preview_create_read_and_cancel_a_push_from_the_command_line(stand_in, redis_url):
    async def customers():
        redis = aioredis.from_url(redis_url, decode_responses=True)
        world = World(redis, Clock(NOON))
        await world.customer("wechat_mp", "oCliA", 1, ["skin:sensitive", "level:gold"])
        await world.customer("wechat_mp", "oCliB", 1, ["skin:sensitive"])
        await world.customer("wechat_mp", "oCliC", 1, ["skin:dry"])
        await redis.close()

    run(customers)
    code, preview = push_cli(redis_url, "preview", "--any", "skin:sensitive")
    assert code == 0 and preview["customers"] == 2
    code, gold = push_cli(redis_url, "preview", "--any", "skin:sensitive", "--level", "gold")
    assert gold["customers"] == 1
    code, refused = push_cli(redis_url, "create", "--name", "敏感肌", "--text", "券码 {coupon_code}", "--coupon", "nope")
    assert code == 1 and any("没有这种优惠券" in p for p in refused["refused"])
    assert any("没选优惠券" in p for p in push_cli(redis_url, "create", "--name", "x", "--text", "{coupon_code}")[1]["refused"])
    code, created = push_cli(redis_url, "create", "--name", "敏感肌专场", "--text", "修护精华上新", "--any", "skin:sensitive",
                             "--at", "2099-01-01 10:00", "--by", "运营小王")
    push_id = created["push"]
    assert code == 0 and created["report"]["status"] == "scheduled" and created["report"]["by"] == "运营小王"
    code, listed = push_cli(redis_url, "list")
    assert [p["id"] for p in listed["pushes"]] == [push_id]
    code, cancelled = push_cli(redis_url, "cancel", push_id)
    assert code == 0 and cancelled["cancelled"] is True
    assert push_cli(redis_url, "report", push_id)[1]["status"] == "cancelled"
    assert push_cli(redis_url, "cancel", push_id)[0] == 1  # already cancelled
