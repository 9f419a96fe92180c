"""微信客服 message sync: cursor per open_kfid, one sync at a time, in order.

A `kf_msg_or_event` callback only says "there is something new"; messages
are pulled with kf/sync_msg. Per kf account:
- the cursor lives in Redis, so a restart continues where it stopped;
- a Redis lock lets one process sync at a time; a trigger arriving while
  another process syncs sets a `pending` flag so the holder loops once more;
- pages are processed before the cursor moves; messages of one customer run
  in order, different customers concurrently; msgid dedup makes a re-read
  page harmless.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, List

import redis.asyncio as aioredis

from common.privacy import mask_id
from bot.wechat.api import ApiError, KFClient
from bot.wechat.dedup import claim
from bot.wechat.locks import RedisLock
from bot.wechat.settings import env_float, kf_dedup_ttl_s

logger = logging.getLogger(__name__)

Handler = Callable[[Dict[str, Any]], Awaitable[None]]


def cursor_key(open_kfid: str) -> str:
    return f"wx:kf:cursor:{open_kfid}"


class KFSyncer:
    def __init__(self, client: KFClient, redis: aioredis.Redis, handle: Handler) -> None:
        self.client = client
        self.redis = redis
        self.handle = handle
        self.concurrency = int(env_float("WECOM_KF_CONCURRENCY", 32))

    async def trigger(self, open_kfid: str, token: str) -> None:
        pending = f"wx:kf:sync-pending:{open_kfid}"
        if token:
            # The callback token (valid 10 min) lifts sync_msg's strict rate limit.
            await self.redis.set(f"wx:kf:sync-token:{open_kfid}", token, ex=540)
        lock = RedisLock(self.redis, f"wx:kf:sync-lock:{open_kfid}", ttl_ms=60000)
        while True:
            if not await lock.acquire():
                await self.redis.set(pending, "1", ex=300)
                if not await lock.acquire():
                    return  # the holder sees the flag after its current pass
            try:
                while True:
                    await self.redis.delete(pending)
                    await self._drain(open_kfid, lock)
                    if not await self.redis.exists(pending):
                        break
            finally:
                await lock.release()
            if not await self.redis.exists(pending):
                return  # else: a trigger slipped in between our last check and the release

    async def _drain(self, open_kfid: str, lock: RedisLock) -> None:
        cursor = await self.redis.get(cursor_key(open_kfid)) or ""
        while True:
            token = await self.redis.get(f"wx:kf:sync-token:{open_kfid}") or ""
            try:
                answer = await self.client.sync_msg(open_kfid, cursor=cursor, token=token)
            except ApiError as error:
                logger.error("wecom_kf: sync_msg for %s failed: %s", open_kfid, error)
                return
            await self._process_page(answer.get("msg_list") or [])
            next_cursor = str(answer.get("next_cursor") or "")
            if next_cursor and next_cursor != cursor:
                cursor = next_cursor
                await self.redis.set(cursor_key(open_kfid), cursor)
            if not await lock.extend():
                logger.warning("wecom_kf: sync lock for %s expired mid-sync; stopping this pass.", open_kfid)
                return
            if not answer.get("has_more"):
                return

    async def _process_page(self, messages: List[Dict[str, Any]]) -> None:
        by_user: "OrderedDict[str, List[Dict[str, Any]]]" = OrderedDict()
        for message in messages:
            user = str(message.get("external_userid") or (message.get("event") or {}).get("external_userid") or "")
            by_user.setdefault(user, []).append(message)
        gate = asyncio.Semaphore(self.concurrency)

        async def run_user(queue: List[Dict[str, Any]]) -> None:
            async with gate:
                for message in queue:
                    await self._process_one(message)

        await asyncio.gather(*(run_user(queue) for queue in by_user.values()))

    async def _process_one(self, message: Dict[str, Any]) -> None:
        msgid = str(message.get("msgid") or "")
        if msgid and not await claim(self.redis, f"wx:dedup:wecom_kf:msg:{msgid}", kf_dedup_ttl_s()):
            return
        try:
            await self.handle(message)
        except Exception:
            logger.exception("wecom_kf: handling message %s from %s failed.", msgid,
                             mask_id(message.get("external_userid")))
