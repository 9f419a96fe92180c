"""Real processes for the channel tests: one redis-server, the API stand-in and
a few channel apps (real Sanic, real wechatpy crypto), each on a free port."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import redis as redis_sync
import requests

from bot.redis_server import RedisServer, free_port
from bot.stack import Service, stand_in_service
from tests.channels import helpers as h

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


class ChannelApp:
    """tests/channels/channel_app.py on a free port (a bot.stack.Service)."""

    def __init__(self, name: str, env: Dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.service = Service(name, [PYTHON, "tests/channels/channel_app.py", "--port", str(self.port), "--name", name],
                               f"{self.base}/health", log_dir / f"{name}.log")

    def start(self) -> "ChannelApp":
        self.service.start(self.env)
        return self

    def wait(self, timeout_s: float = 30.0) -> "ChannelApp":
        self.service.wait(timeout_s)
        return self

    def stop(self) -> None:
        self.service.stop()

    def url(self, channel: str) -> str:
        return f"{self.base}/webhooks/{channel}/webhook"


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("channels")


@pytest.fixture(scope="session")
def redis_url(run_dir) -> Iterator[str]:
    server = RedisServer(free_port(), run_dir / "redis").start(appendonly=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stand_in_url(run_dir, redis_url) -> Iterator[str]:
    port = free_port()
    service = stand_in_service(port, run_dir).start({**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        service.wait(30.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


def app_env(redis_url: str, stand_in_url: str, run_dir: Path, **overrides: str) -> Dict[str, str]:
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "TEST_RUN_DIR": str(run_dir), "REDIS_URL": redis_url,
        "PERSONA": "qiqi", "WECHAT_API_BASE": stand_in_url, "WECOM_API_BASE": stand_in_url,
        # a lease shorter than the budget (as 4 s and 4 s are by default), and shorter than
        # the slow turns, so that its renewal is exercised
        "WECHAT_PASSIVE_BUDGET_S": "1.0", "WECHAT_DEDUP_LEASE_S": "0.6", "WECHAT_REPLAY_WINDOW_S": "300",
        "WECHAT_MP_APPID": h.MP_APPID, "WECHAT_MP_SECRET": "mpsecret", "WECHAT_MP_TOKEN": h.MP_TOKEN,
        "WECHAT_MP_AES_KEY": h.MP_AES,
        "WECOM_CORP_ID": h.CORP_ID, "WECOM_KF_SECRET": "kfsecret", "WECOM_KF_TOKEN": h.KF_TOKEN,
        "WECOM_KF_AES_KEY": h.KF_AES, "WECOM_AGENT_ID": h.AGENT_ID, "WECOM_SECRET": "appsecret",
        "WECOM_TOKEN": h.WECOM_TOKEN, "WECOM_AES_KEY": h.WECOM_AES,
        # The kf backlog test drains 50 messages per customer at once; test_flood.py runs
        # its own apps with the real limits.
        "FLOOD_MAX_MESSAGES": "1000",
        # no background handoff worker in the apps: the handoff tests drive one themselves, and a
        # second one ticking in an app would race them over the same requests
        "HANDOFF_TICK_S": "0",
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def make_app(redis_url, stand_in_url, run_dir):
    started: List[ChannelApp] = []

    def make(name: str, **overrides: str) -> ChannelApp:
        app = ChannelApp(name, app_env(redis_url, stand_in_url, run_dir, **overrides), run_dir)
        started.append(app.start())
        return app

    yield make
    for app in started:
        app.stop()


@pytest.fixture(scope="session")
def apps(make_app) -> Dict[str, ChannelApp]:
    """Started together (each takes ~1.5 s to import Rasa) and shared by the tests."""
    all_apps = {
        "main": make_app("main"),
        "second": make_app("second"),
        "plain": make_app("plain", WECHAT_MP_AES_KEY=""),
        "vectors": make_app("vectors", WECHAT_REPLAY_WINDOW_S="0", WECOM_CORP_ID=h.VEC_CORP_ID, WECOM_AGENT_ID="218",
                            WECOM_TOKEN=h.VEC_TOKEN, WECOM_AES_KEY=h.VEC_AES, WECOM_KF_TOKEN=h.VEC_TOKEN,
                            WECOM_KF_AES_KEY=h.VEC_AES),
    }
    for app in all_apps.values():
        app.wait()
    return all_apps


@pytest.fixture
def stand_in(stand_in_url) -> h.StandIn:
    return h.StandIn(stand_in_url)


@pytest.fixture
def received(redis_url) -> h.Received:
    return h.Received(redis_url)


@pytest.fixture(autouse=True)
def clean_state(request) -> None:
    """Each end-to-end test starts with an empty Redis and an empty stand-in record."""
    if {"apps", "stand_in", "received"} & set(request.fixturenames):
        redis_sync.Redis.from_url(request.getfixturevalue("redis_url")).flushdb()
        requests.post(f"{request.getfixturevalue('stand_in_url')}/_stand_in/reset", timeout=5)
