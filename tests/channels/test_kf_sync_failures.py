"""The 微信客服 sync loop's failure paths, in-process against the real stand-in and a
real Redis: a poison message is recorded after N attempts and does not block the
account, and a syncer that loses its lock stops before the next message."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import redis as redis_sync
import redis.asyncio as aioredis

from bot.wechat.api import KFClient
from bot.wechat.kf_sync import KFSyncer, cursor_key, state_key
from tests.channels import helpers as h
from tests.channels.test_wecom_kf import enqueue, text


def run_sync(stand_in_url: str, redis_url: str, handle) -> None:
    async def go() -> None:
        redis = aioredis.from_url(redis_url, decode_responses=True)
        client = KFClient(stand_in_url, redis, h.CORP_ID, "kfsecret")
        try:
            await KFSyncer(client, redis, handle).trigger(h.OPEN_KFID, "")
        finally:
            await client.http.close()
            await redis.close()

    asyncio.run(go())


def test_a_poison_message_is_recorded_after_n_attempts_and_the_account_moves_on(
        stand_in, stand_in_url, redis_url, monkeypatch):
    monkeypatch.setenv("WECOM_KF_MAX_ATTEMPTS", "2")
    poison_id, _, _ = enqueue(stand_in, text("wmP", "毒"), text("wmP", "之后"), text("wmQ", "别人"))
    seen: List[str] = []

    async def handle(message: Dict[str, Any]) -> None:
        seen.append(message["text"]["content"])
        if message["text"]["content"] == "毒":
            raise RuntimeError("a bug this message triggers every time")

    run_sync(stand_in_url, redis_url, handle)
    assert [t for t in seen if t != "别人"] == ["毒", "毒", "之后"]  # retried, then in order
    assert seen.count("别人") == 1
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    assert r.hget(state_key(poison_id), "state") == "failed"
    record = r.xrange("{wx:kf}:skipped")
    assert [(e[1]["msgid"], e[1]["reason"]) for e in record] == [(poison_id, "failed after 2 attempts")]
    assert r.get(cursor_key(h.OPEN_KFID)) == "c3"
    run_sync(stand_in_url, redis_url, handle)  # settled: not tried again
    assert len(seen) == 4


def test_a_syncer_that_lost_its_lock_stops_before_the_next_message(stand_in, stand_in_url, redis_url):
    first, second, _ = enqueue(stand_in, text("wmS", "一"), text("wmS", "二"), text("wmS", "三"))
    r = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    seen: List[str] = []

    async def handle(message: Dict[str, Any]) -> None:
        seen.append(message["text"]["content"])
        # Meanwhile the lock expired and another syncer took it.
        r.set(f"{{wx:kf}}:sync-lock:{h.OPEN_KFID}", "another-owner", px=60000)

    run_sync(stand_in_url, redis_url, handle)
    assert seen == ["一"]
    assert r.hget(state_key(first), "state") == "done"  # it was handled: the new holder skips it
    assert not r.exists(state_key(second))  # never begun, left for the new holder
    assert r.get(cursor_key(h.OPEN_KFID)) is None
    assert r.get(f"{{wx:kf}}:sync-lock:{h.OPEN_KFID}") == "another-owner"  # not released by the loser
