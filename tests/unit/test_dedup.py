"""The WeChat dedup lease on a real Redis: who processes a message and when a retry takes it over."""
from __future__ import annotations

import asyncio
from typing import Any, List

import pytest
import redis as redis_sync
import redis.asyncio as aioredis

from bot.wechat import dedup
from tests.unit.conftest import run_with_redis as run

KEY = "wx:dedup:wechat_mp:msg:42"


@pytest.fixture(autouse=True)
def clean(redis_url) -> None:
    redis_sync.Redis.from_url(redis_url).flushall()


def test_a_message_is_processed_once_and_a_retry_of_a_live_owner_waits(redis_url, monkeypatch):
    monkeypatch.setenv("WECHAT_DEDUP_LEASE_S", "1")

    async def body(r: aioredis.Redis) -> List[Any]:
        first = await dedup.claim(r, KEY, 60)
        retry = await dedup.claim(r, KEY, 60)  # the owner's lease is alive
        retried = await dedup.was_retried(r, KEY)
        await dedup.finish(r, KEY)
        late = await dedup.claim(r, KEY, 60)
        return [first, retry, retried, late]

    assert run(redis_url, body) == [dedup.FIRST, dedup.BUSY, True, dedup.SETTLED]


def test_a_retry_takes_over_once_the_owner_stopped_renewing(redis_url, monkeypatch):
    monkeypatch.setenv("WECHAT_DEDUP_LEASE_S", "0.4")

    async def body(r: aioredis.Redis) -> List[str]:
        first = await dedup.claim(r, KEY, 60)
        # the owner dies here: no renewal. A retry waits within its budget, then takes over.
        verdict = await dedup.claim_within(r, KEY, 60, budget_s=2.0)
        again = await dedup.claim(r, KEY, 60)  # the new owner's lease is alive
        return [first, verdict, again]

    assert run(redis_url, body) == [dedup.FIRST, dedup.TAKEOVER, dedup.BUSY]


def test_a_live_owner_renewing_its_lease_is_never_taken_over(redis_url, monkeypatch):
    monkeypatch.setenv("WECHAT_DEDUP_LEASE_S", "0.3")

    async def body(r: aioredis.Redis) -> List[str]:
        first = await dedup.claim(r, KEY, 60)
        async with dedup.leased(r, KEY):
            verdicts = []
            for _ in range(8):  # 1.2 s: four leases long
                await asyncio.sleep(0.15)
                verdicts.append(await dedup.claim(r, KEY, 60))
        return [first] + sorted(set(verdicts))

    assert run(redis_url, body) == [dedup.FIRST, dedup.BUSY]


def test_the_claim_survives_a_script_cache_flush(redis_url):
    """After a Redis restart (or SCRIPT FLUSH) the scripts are loaded again, not failed."""
    async def body(r: aioredis.Redis) -> List[str]:
        first = await dedup.claim(r, KEY, 60)
        await r.script_flush()
        return [first, await dedup.claim(r, "wx:dedup:wechat_mp:msg:43", 60)]

    assert run(redis_url, body) == [dedup.FIRST, dedup.FIRST]


def test_the_lease_stays_below_the_passive_budget(monkeypatch):
    monkeypatch.setenv("WECHAT_PASSIVE_BUDGET_S", "4")
    monkeypatch.setenv("WECHAT_DEDUP_LEASE_S", "10")
    assert dedup.lease_s() == 3.0  # a retry waiting 4 s still sees a dead owner's lease run out
    monkeypatch.setenv("WECHAT_DEDUP_LEASE_S", "0")
    assert dedup.lease_s() == dedup.MIN_LEASE_S
    monkeypatch.setenv("WECHAT_DEDUP_LEASE_S", "2")
    assert dedup.lease_s() == 2.0
