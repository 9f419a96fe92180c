"""Real parts for the outbound worker's tests: a redis-server, the WeChat API stand-in
(its record is what customers received) and arq, with an injected clock."""
from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, time as dtime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional
from zoneinfo import ZoneInfo

import pytest
import redis as redis_sync
import redis.asyncio as aioredis
import requests
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker

from actions.services import customers
from bot import redis_conn
from bot.outbound import worker as outbound
from bot.outbound.channels import ChannelSender
from bot.outbound.policy import Settings
from bot.redis_server import RedisServer, free_port
from bot.stack import stand_in_service
from common import contact_state
from common.handoff_routing import held_key
from tests.channels.helpers import StandIn

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=SHANGHAI)
SETTINGS = Settings(timezone="Asia/Shanghai", quiet_start=dtime(22, 0), quiet_end=dtime(8, 0), daily_cap=2)
KF_ACCOUNT = "wkKF0001"
MP_SEND = "/cgi-bin/message/custom/send"
KF_SEND = "/cgi-bin/kf/send_msg"


@pytest.fixture(scope="package")
def run_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("outbound")


@pytest.fixture(scope="package")
def redis_url(run_dir) -> Iterator[str]:
    server = RedisServer(free_port(), run_dir / "redis").start(appendonly=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="package")
def stand_in_url(run_dir) -> Iterator[str]:
    port = free_port()
    service = stand_in_service(port, run_dir).start({**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        service.wait(30.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


def worker_env(redis_url: str, stand_in_url: str) -> Dict[str, str]:
    return {"REDIS_URL": redis_url, "WECHAT_API_BASE": stand_in_url, "WECOM_API_BASE": stand_in_url,
            "WECHAT_MP_APPID": "wxOUTBOUND", "WECHAT_MP_SECRET": "mpsecret", "WECOM_CORP_ID": "wwOUTBOUND",
            "WECOM_KF_SECRET": "kfsecret", "WECOM_SECRET": "appsecret", "WECOM_AGENT_ID": "1000002", "PERSONA": "qiqi", "OUTBOUND_RATE_PER_S": "1000"}


@pytest.fixture
def stand_in(stand_in_url, redis_url, monkeypatch) -> StandIn:
    """A clean Redis and stand-in record, and this process pointed at both."""
    redis_sync.Redis.from_url(redis_url).flushdb()
    requests.post(f"{stand_in_url}/_stand_in/reset", timeout=5)
    for name, value in worker_env(redis_url, stand_in_url).items():
        monkeypatch.setenv(name, value)
    return StandIn(stand_in_url)


def texts_to(stand_in: StandIn, user: str) -> List[str]:
    return [b["text"]["content"] for b in stand_in.sent() if b.get("touser") == user and b.get("msgtype") == "text"]


class World:
    """Customers as the channels leave them: identities, contact records, tags, handoffs."""

    def __init__(self, redis: aioredis.Redis, clock: Callable[[], datetime]) -> None:
        self.redis = redis
        self.clock = clock

    async def customer(self, channel: str, user: str, wrote_h_ago: Optional[float] = 1.0, tags: List[str] = (),
                       kf_sent: int = 0) -> str:
        cid = (await customers.resolve(self.redis, customers.Identity(channel=channel, user_id=user),
                                       self.clock())).id
        sender_id = f"{channel}:{user}"
        if wrote_h_ago is not None:
            last_in = (self.clock() - timedelta(hours=wrote_h_ago)).timestamp()
            await contact_state.record_inbound(self.redis, sender_id, last_in,
                                               KF_ACCOUNT if channel == "wecom_kf" else "")
            if kf_sent:
                await contact_state.count_sent(self.redis, sender_id, kf_sent)
        if tags:
            await self.redis.sadd(f"{{brand}}:cust:{cid}:tags", *tags)
        return cid

    async def hold(self, sender_id: str) -> None:
        await self.redis.set(held_key(sender_id), "h1")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def arq_ctx(redis_url: str, clock: Clock, settings: Settings = SETTINGS) -> Dict[str, Any]:
    """The ctx a worker's jobs get, for calling them one by one (real arq pool)."""
    ctx: Dict[str, Any] = {"redis": await create_pool(RedisSettings.from_dsn(redis_url),
                                                       default_queue_name=outbound.QUEUE),
                           "redis_data": aioredis.from_url(redis_url, decode_responses=True),
                           "clock": clock, "settings": settings}
    ctx["sender"] = ChannelSender(ctx["redis_data"])
    return ctx


async def close_ctx(ctx: Dict[str, Any]) -> None:
    await ctx["sender"].close()
    await ctx["redis"].close()
    await ctx["redis_data"].close()
    await redis_conn.close_all()


async def run_worker_until_idle(redis_url: str, clock: Clock, settings: Settings = SETTINGS,
                                timeout_s: float = 60.0) -> None:
    """A real arq worker in this process until nothing is ready to run (deferred jobs may wait)."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=outbound.QUEUE)
    worker = Worker(**outbound.worker_settings(burst=False, handle_signals=False, redis_pool=pool,
                                               ctx={"clock": clock, "settings": settings}))
    task = asyncio.ensure_future(worker.async_run())
    deadline = time.time() + timeout_s
    try:
        await asyncio.sleep(0.5)  # the startup sweep
        while time.time() < deadline:
            ready = await pool.zcount(outbound.QUEUE, "-inf", time.time() * 1000)
            if not ready and not worker.tasks and worker.jobs_complete + worker.jobs_failed > 0:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the outbound worker did not finish in time")
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        await worker.close()
        await redis_conn.close_all()


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(body())
