"""Action tests against a real redis-server: one private server per session on
a free port in a temp dir, flushed before every test; tracker fixtures build the
Tracker an action receives from Rasa."""
from __future__ import annotations

import functools
from typing import Iterator

import pytest
import pytest_asyncio
from rasa_sdk.executor import CollectingDispatcher

from actions.services import clock, store
from actions.services.catalog import catalog as load_catalog
from bot.redis_server import RedisServer, free_port
from marketing_support import WECHAT_ALICE, FakeClock, make_tracker


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start(appendonly=False)
    yield server
    server.stop()


@pytest_asyncio.fixture
async def redis(redis_server, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("GRANT_SWEEP_INTERVAL_S", "0")  # tests sweep explicitly
    client = store.make_client(redis_server.url)
    await client.flushdb()
    store.use_client(client)
    yield client
    store.use_client(None)
    await client.aclose()


@pytest.fixture
def catalog():
    return load_catalog()


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "utc_now", fake)
    return fake


@pytest.fixture
def tracker():
    """make_tracker for a 公众号 customer unless a sender_id is given."""
    return functools.partial(make_tracker, sender_id=WECHAT_ALICE)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()
