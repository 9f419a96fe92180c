"""kill -9 of the worker in the middle of a 2,000-customer push: after a restart every
customer has the message exactly once (the stand-in's record is what they received)."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import redis.asyncio as aioredis
import requests

from bot.outbound import pushes
from bot.outbound.segments import Segment
from tests.channels.helpers import wait_for
from tests.outbound.conftest import ROOT, Clock, World, run, worker_env

CUSTOMERS = 2000


def start_worker(redis_url: str, stand_in_url: str, log_path) -> subprocess.Popen:
    env = {**os.environ, **worker_env(redis_url, stand_in_url), "PYTHONPATH": str(ROOT),
           "OUTBOUND_QUIET_HOURS": "none", "OUTBOUND_RATE_PER_S": "300", "OUTBOUND_JOB_TIMEOUT_S": "5",
           "OUTBOUND_SWEEP_S": "1"}
    return subprocess.Popen([sys.executable, "-m", "bot.outbound"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)


def received_counts(stand_in) -> collections.Counter:
    return collections.Counter(body["touser"] for body in stand_in.sent())


def test_a_worker_killed_mid_push_and_restarted_sends_each_message_exactly_once(stand_in, redis_url, stand_in_url,
                                                                               run_dir):
    requests.post(f"{stand_in_url}/_stand_in/config", json={"latency_s": 0.002}, timeout=5)
    clock = Clock(datetime.now(timezone.utc))

    async def setup() -> str:
        redis = aioredis.from_url(redis_url, decode_responses=True)
        world = World(redis, clock)
        for n in range(CUSTOMERS):
            await world.customer("wechat_mp" if n % 2 else "wecom_kf", f"uCrash{n:04d}", 1)
        push_id = await pushes.create(redis, name="大促", text="双十二预热开始啦", segment=Segment(), by="ops")
        await redis.close()
        return push_id

    push_id = run(setup)
    log = run_dir / "outbound-crash.log"
    first = start_worker(redis_url, stand_in_url, log)
    try:
        wait_for(lambda: len(stand_in.sent()) >= 600, timeout_s=60, interval_s=0.05)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    at_kill = len(stand_in.sent())
    assert at_kill < CUSTOMERS, "the push finished before the kill: the test proves nothing"

    async def status() -> dict:
        redis = aioredis.from_url(redis_url, decode_responses=True)
        report = await pushes.report(redis, push_id)
        await redis.close()
        return report

    second = start_worker(redis_url, stand_in_url, log)
    try:
        report = wait_for(lambda: (lambda r: r if r["status"] == "done" else None)(run(status)), timeout_s=120,
                          interval_s=0.5)
        probe = subprocess.run([sys.executable, "-m", "bot.outbound", "--check"], cwd=ROOT, timeout=60,
                               env={**os.environ, **worker_env(redis_url, stand_in_url), "PYTHONPATH": str(ROOT)})
        assert probe.returncode == 0  # the container probe sees a live worker
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    counts = received_counts(stand_in)
    assert len(counts) == CUSTOMERS and set(counts.values()) == {1}, \
        (len(counts), collections.Counter(counts.values()), report)
    assert report["sent"] + report["in_doubt"] == CUSTOMERS and report["waiting"] == 0
    print(f"killed after {at_kill} sent; in doubt after the restart: {report['in_doubt']}")


def test_the_worker_outlives_a_redis_restart_and_then_sends(stand_in, stand_in_url, run_dir):
    from bot.redis_server import RedisServer, free_port

    port = free_port()
    server = RedisServer(port, run_dir / "redis-restart").start(appendonly=True)
    url = server.url
    worker = start_worker(url, stand_in_url, run_dir / "outbound-restart.log")
    try:
        time.sleep(2)
        server.stop()  # Redis goes away under the running worker
        time.sleep(5)
        assert worker.poll() is None, "the worker died with Redis"
        server = RedisServer(port, run_dir / "redis-restart").start(appendonly=True)

        async def push() -> str:
            redis = aioredis.from_url(url, decode_responses=True)
            await World(redis, Clock(datetime.now(timezone.utc))).customer("wechat_mp", "oAfterRestart", 1)
            push_id = await pushes.create(redis, name="重启后", text="Redis 回来了", segment=Segment(), by="ops")
            await redis.close()
            return push_id

        push_id = run(push)

        async def status() -> str:
            redis = aioredis.from_url(url, decode_responses=True)
            report = await pushes.report(redis, push_id)
            await redis.close()
            return report["status"]

        wait_for(lambda: run(status) == "done", timeout_s=60, interval_s=0.5)
        assert [b["touser"] for b in stand_in.sent()] == ["oAfterRestart"]
    finally:
        os.kill(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
        server.stop()
