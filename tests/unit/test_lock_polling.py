"""A message waiting for its conversation's lock re-checks it every 50 ms, not
every second as Rasa does, so it starts as soon as the message before it is
done (real Redis lock store, Rasa's own lock code)."""
from __future__ import annotations

import asyncio

import pytest
import rasa.core.lock_store as rasa_lock_store
from rasa.core.lock_store import RedisLockStore

from bot import lock_polling
from bot.redis_server import RedisServer, free_port


@pytest.fixture
def lock_store(tmp_path):
    server = RedisServer(free_port(), tmp_path).start(appendonly=False)
    lock_polling.install()
    yield RedisLockStore(host="127.0.0.1", port=server.port)
    server.stop()


def test_a_queued_message_rechecks_the_lock_every_50_ms(lock_store, monkeypatch):
    waits = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(seconds, *args, **kwargs):
        waits.append(seconds)
        return await real_sleep(seconds, *args, **kwargs)

    monkeypatch.setattr(rasa_lock_store.asyncio, "sleep", recorded_sleep)

    async def scenario():
        async def first():
            async with lock_store.lock("wechat_mp:o-quick"):
                await real_sleep(0.3)

        async def second():
            await real_sleep(0.05)  # queued behind the first
            async with lock_store.lock("wechat_mp:o-quick"):
                return "served"

        return await asyncio.gather(first(), second())

    assert asyncio.run(scenario())[1] == "served"
    assert waits, "the second message never waited: the check would be vacuous"
    assert max(waits) <= lock_polling.DEFAULT_POLL_S
