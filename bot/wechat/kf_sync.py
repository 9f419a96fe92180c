"""微信客服 message sync: at-least-once, in order per customer, one syncer per account.

A `kf_msg_or_event` callback only says "there is something new"; messages are
pulled with kf/sync_msg. Per kf account (open_kfid):
- one syncer at a time: a Redis lock, kept alive by a heartbeat while its holder
  works and checked atomically (fenced) before every message and before the
  cursor moves. A holder that lost it stops before its next message.
- every msgid goes pending → done (`{wx:kf}:msg:<msgid>`) only after it was
  handled, so a crash leaves pendings that the next lock holder retries; done,
  failed and expired messages are skipped, from one pipelined read per page.
- the cursor moves only when every message of the page is settled: done,
  failed after `WECOM_KF_MAX_ATTEMPTS` (recorded), or expired (recorded).
- messages older than the 48-hour reply window are recorded and not answered
  (WeCom refuses the reply anyway); so a lost cursor, which makes sync_msg
  start 3 days back, answers nothing twice and nothing stale.
- messages of one customer run in order, different customers concurrently.
A trigger that finds the lock taken leaves a flag the holder honours, and
waits for the lock's expiry in case the holder died (a SIGKILLed holder's
pendings are retried without waiting for the next callback).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, List, Set

import redis.asyncio as aioredis

from common.privacy import mask_id
from common.key_tags import KF_SYNC
from common.lua_script import LuaScript
from bot.wechat.api import ApiError, KFClient
from bot.wechat.locks import RedisLock
from bot.wechat.settings import env_float, kf_dedup_ttl_s

logger = logging.getLogger(__name__)

Handler = Callable[[Dict[str, Any]], Awaitable[None]]

PENDING, DONE, FAILED, EXPIRED = "pending", "done", "failed", "expired"
SETTLED = (DONE, FAILED, EXPIRED)
# Every key a sync script touches shares one hash tag (one Redis Cluster slot).
TAG = KF_SYNC
SKIPPED_STREAM = TAG + "skipped"  # expired and failed messages, for ops
SKIPPED_MAX = 10000

# KEYS: lock, state, stream. ARGV: owner, lock ttl ms, max attempts, state ttl s, now, msgid,
# open_kfid, external_userid, send_time, msgtype, stream max len.
# One step: the lock still ours (extended: one extension per message), the message not
# settled, one more attempt counted; past the limit it is failed and recorded instead.
_BEGIN = LuaScript("""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local state = redis.call('HGET', KEYS[2], 'state')
if state and state ~= 'pending' then return 'settled' end
local attempts = redis.call('HINCRBY', KEYS[2], 'attempts', 1)
redis.call('EXPIRE', KEYS[2], ARGV[4])
if attempts > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[2], 'state', 'failed', 'ts', ARGV[5])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[11], '*', 'msgid', ARGV[6], 'open_kfid', ARGV[7],
             'external_userid', ARGV[8], 'send_time', ARGV[9], 'msgtype', ARGV[10],
             'reason', 'failed after ' .. ARGV[3] .. ' attempts', 'ts', ARGV[5])
  return 'failed'
end
redis.call('HSET', KEYS[2], 'state', 'pending', 'ts', ARGV[5])
return 'go'
""")

# KEYS: state, stream. ARGV: state ttl s, now, msgid, open_kfid, external_userid, send_time,
# msgtype, reason, max len. Marks an unsettled message expired and records it, once.
_EXPIRE = LuaScript("""
local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'expired', 'ts', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], '*', 'msgid', ARGV[3], 'open_kfid', ARGV[4],
           'external_userid', ARGV[5], 'send_time', ARGV[6], 'msgtype', ARGV[7], 'reason', ARGV[8], 'ts', ARGV[2])
return 1
""")

# KEYS: lock, cursor. ARGV: owner, cursor. Only the holder moves the cursor (never backwards).
_MOVE_CURSOR = LuaScript("""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
""")


def cursor_key(open_kfid: str) -> str:
    return f"{TAG}cursor:{open_kfid}"


def state_key(msgid: str) -> str:
    return f"{TAG}msg:{msgid}"


def legacy_dedup_key(msgid: str) -> str:
    # Written before per-message states existed: such a message was already taken.
    return f"wx:dedup:wecom_kf:msg:{msgid}"


def lock_ttl_ms() -> int:
    return max(200, int(env_float("WECOM_KF_LOCK_TTL_S", 60.0) * 1000))


def page_limit() -> int:
    return max(1, min(1000, int(env_float("WECOM_KF_PAGE_LIMIT", 100))))


def max_attempts() -> int:
    return max(1, int(env_float("WECOM_KF_MAX_ATTEMPTS", 3)))


def reply_window_s() -> float:
    # WeCom accepts kf/send_msg only within 48 h of the customer's message.
    return env_float("WECOM_KF_REPLY_WINDOW_S", 48 * 3600.0)


def customer_of(message: Dict[str, Any]) -> str:
    return str(message.get("external_userid") or (message.get("event") or {}).get("external_userid") or "")


class LockLost(Exception):
    """The sync lock expired or was taken: stop before handling another message."""


_waiting: Set[str] = set()  # open_kfids this process already waits on (one waiter each)


class KFSyncer:
    def __init__(self, client: KFClient, redis: aioredis.Redis, handle: Handler) -> None:
        self.client = client
        self.redis = redis
        self.handle = handle
        self.concurrency = int(env_float("WECOM_KF_CONCURRENCY", 32))

    async def trigger(self, open_kfid: str, token: str) -> None:
        if token:
            # The callback token (valid 10 min) lifts sync_msg's strict rate limit.
            await self.redis.set(f"{TAG}sync-token:{open_kfid}", token, ex=540)
        pending = f"{TAG}sync-pending:{open_kfid}"
        lock = RedisLock(self.redis, f"{TAG}sync-lock:{open_kfid}", ttl_ms=lock_ttl_ms())
        while True:
            if await lock.acquire():
                again = await self._hold(open_kfid, lock, pending)
            else:
                await self.redis.set(pending, "1", ex=300)
                if await lock.acquire():
                    again = await self._hold(open_kfid, lock, pending)
                else:
                    again = await self._wait_for_holder(open_kfid, lock, pending)
            if not again:
                return

    async def _hold(self, open_kfid: str, lock: RedisLock, pending: str) -> bool:
        """Drain while holding the lock; True if a trigger slipped in after the last pass."""
        try:
            while True:
                await self.redis.delete(pending)
                if not await self._drain(open_kfid, lock):
                    return False  # lock lost: its new holder carries on
                if not await self.redis.exists(pending):
                    break
        finally:
            await lock.release()
        return bool(await self.redis.exists(pending))

    async def _wait_for_holder(self, open_kfid: str, lock: RedisLock, pending: str) -> bool:
        """The holder honours the flag while alive; True when it died and its lock expired."""
        if open_kfid in _waiting:
            return False  # this process already waits for that account
        _waiting.add(open_kfid)
        try:
            while await self.redis.exists(pending):
                left_ms = await self.redis.pttl(lock.key)
                await asyncio.sleep(max(0, min(left_ms, lock.ttl_ms)) / 1000 + 0.05)
                if not await self.redis.exists(lock.key):
                    return bool(await self.redis.exists(pending))
            return False
        finally:
            _waiting.discard(open_kfid)

    async def _drain(self, open_kfid: str, lock: RedisLock) -> bool:
        """Process pages until none is left; False when the lock was lost."""
        lost = asyncio.Event()
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(lock, lost))
        try:
            cursor = await self.redis.get(cursor_key(open_kfid)) or ""
            while True:
                token = await self.redis.get(f"{TAG}sync-token:{open_kfid}") or ""
                try:
                    answer = await self.client.sync_msg(open_kfid, cursor=cursor, token=token, limit=page_limit())
                except ApiError as error:
                    logger.error("wecom_kf: sync_msg for %s failed: %s", open_kfid, error)
                    return True
                try:
                    await self._process_page(open_kfid, answer.get("msg_list") or [], lock, lost)
                except LockLost:
                    logger.warning("wecom_kf: sync lock for %s lost mid-page; stopping before the next message.",
                               open_kfid)
                    return False
                next_cursor = str(answer.get("next_cursor") or "")
                if next_cursor and next_cursor != cursor:
                    moved = await _MOVE_CURSOR(self.redis, [lock.key, cursor_key(open_kfid)],
                                               [lock.owner or "", next_cursor])
                    if not moved:
                        logger.warning("wecom_kf: sync lock for %s lost; cursor left to the new holder.", open_kfid)
                        return False
                    cursor = next_cursor
                if not answer.get("has_more"):
                    return True
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, lock: RedisLock, lost: asyncio.Event) -> None:
        """Extend the lock every third of its TTL, so one slow message cannot outlive it."""
        while True:
            await asyncio.sleep(lock.ttl_ms / 3000)
            try:
                if not await lock.extend():
                    lost.set()
                    return
            except Exception as error:  # a Redis hiccup: the next beat (or the fenced steps) decide
                logger.warning("wecom_kf: could not extend the sync lock (%s).", type(error).__name__)

    async def _process_page(self, open_kfid: str, messages: List[Dict[str, Any]], lock: RedisLock,
                            lost: asyncio.Event) -> None:
        """Settle every message of the page or raise LockLost."""
        todo = await self._unsettled(messages)
        by_user: "OrderedDict[str, List[Dict[str, Any]]]" = OrderedDict()
        oldest_ok = time.time() - reply_window_s()
        for message in todo:
            if float(message.get("send_time") or 0) < oldest_ok:
                await self._expire(open_kfid, message, "older than the 48-hour reply window")
                continue
            by_user.setdefault(customer_of(message), []).append(message)
        gate = asyncio.Semaphore(self.concurrency)

        async def run_user(queue: List[Dict[str, Any]]) -> None:
            async with gate:
                for message in queue:
                    await self._process_one(open_kfid, message, lock, lost)

        results = await asyncio.gather(*(run_user(q) for q in by_user.values()), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if any(isinstance(e, LockLost) for e in errors):
            raise LockLost()
        if errors:
            raise errors[0]

    async def _unsettled(self, messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Drop settled messages with one round trip (a replayed page costs one read)."""
        ids = [str(m.get("msgid") or "") for m in messages]
        pipe = self.redis.pipeline(transaction=False)
        for msgid in ids:
            pipe.hget(state_key(msgid), "state")
            pipe.exists(legacy_dedup_key(msgid))
        answers = await pipe.execute() if ids else []
        todo = []
        for index, message in enumerate(messages):
            state, legacy = answers[2 * index], answers[2 * index + 1]
            if ids[index] and (state in SETTLED or (legacy and state is None)):
                continue
            todo.append(message)
        return todo

    async def _expire(self, open_kfid: str, message: Dict[str, Any], reason: str) -> None:
        msgid = str(message.get("msgid") or "")
        if msgid and await _EXPIRE(
                self.redis, [state_key(msgid), SKIPPED_STREAM],
                [kf_dedup_ttl_s(), int(time.time()), msgid, open_kfid, customer_of(message),
                 str(message.get("send_time") or ""), str(message.get("msgtype") or ""), reason, SKIPPED_MAX]):
            logger.info("wecom_kf: message %s from %s skipped: %s.", msgid, mask_id(customer_of(message)), reason)

    async def _process_one(self, open_kfid: str, message: Dict[str, Any], lock: RedisLock,
                           lost: asyncio.Event) -> None:
        msgid = str(message.get("msgid") or "")
        user = customer_of(message)
        if not msgid:
            logger.warning("wecom_kf: message without msgid from %s handled without a state.", mask_id(user))
            await self._run(message)
            return
        attempt = 0
        while True:
            if lost.is_set():
                raise LockLost()
            verdict = await _BEGIN(
                self.redis, [lock.key, state_key(msgid), SKIPPED_STREAM],
                [lock.owner or "", lock.ttl_ms, max_attempts(), kf_dedup_ttl_s(), int(time.time()), msgid,
                 open_kfid, user, str(message.get("send_time") or ""), str(message.get("msgtype") or ""),
                 SKIPPED_MAX])
            if verdict == "lost":
                raise LockLost()
            if verdict == "settled":
                return
            if verdict == "failed":
                logger.error("wecom_kf: message %s from %s failed %d times; recorded in %s and skipped.",
                             msgid, mask_id(user), max_attempts(), SKIPPED_STREAM)
                return
            attempt += 1
            if await self._run(message):
                await self.redis.hset(state_key(msgid), "state", DONE)  # handled: true even if the lock went
                return
            await asyncio.sleep(min(0.5 * 2 ** attempt, 5.0))  # then retry in order, before the next message

    async def _run(self, message: Dict[str, Any]) -> bool:
        try:
            await self.handle(message)
            return True
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("wecom_kf: handling message %s from %s failed.", message.get("msgid"),
                             mask_id(customer_of(message)))
            return False
