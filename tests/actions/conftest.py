"""Action tests against a real redis-server: one private server per session on
a free port in a temp dir, flushed before every test; tracker fixtures build the
Tracker an action receives from Rasa. With TEST_REDIS_CLUSTER=1 (scripts/test.sh
runs the suite a second time so) the same tests run on a real local 3-node Redis
Cluster, every client a cluster client (REDIS_CLUSTER=1)."""
from __future__ import annotations

import functools
import os
from typing import Iterator, Union

import pytest
import pytest_asyncio
from rasa_sdk.executor import CollectingDispatcher

from actions.services import clock, store
from actions.services.catalog import catalog as load_catalog
from bot.redis_server import RedisCluster, RedisServer, free_port
from marketing_support import ON_CLUSTER, WECHAT_ALICE, FakeClock, make_tracker


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[Union[RedisServer, RedisCluster]]:
    os.environ["REDIS_CLUSTER"] = "1" if ON_CLUSTER else "0"  # every client the code and tools build
    if ON_CLUSTER:
        server: Union[RedisServer, RedisCluster] = RedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    else:
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
