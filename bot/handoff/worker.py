"""Delivers the handoff outbox and runs its clocks (common/handoff_session.py).

Every Rasa server process runs `tick()` every HANDOFF_TICK_S (default 1 s); a short
Redis lease lets one of them work at a time, so the messages of one conversation
go out in the order they were written. A tick:

1. sends what is due in the outbox (guide notifications, relayed messages, the
   persona's "I'm back"), oldest first; a member is removed only after it was handled,
   so a crash means it is sent again after its lease, never lost;
2. takes back requests a guide did not answer in `reply_timeout_min` and ends
   conversations idle for `idle_timeout_min` (the bot resumes);
3. offers waiting requests to guides on duty with room (one who just came on duty,
   or whose conversation ended).
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional

from bot.handoff import kf_handoff
from bot.handoff.messengers import Messengers
from bot.handoff.rasa_events import RasaEvents
from bot.persona import load_persona, system_text
from common import handoff_routing as routing
from common import handoff_session as session
from common.env import env_float
from common.privacy import mask_id

logger = logging.getLogger(__name__)

LEASE_KEY = routing.PREFIX + "worker"
OUTBOX_LEASE_S = 30.0  # a claimed member is retried this long after a worker died with it
LEASE_S = 5.0  # one worker at a time; another takes over this long after it stops
REASONS = {"asked": "顾客要求转人工", "complaint": "顾客投诉", "bot_failed_twice": "机器人连续两次没能回答"}


def tick_interval_s() -> float:
    return max(0.0, env_float("HANDOFF_TICK_S", 1.0))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class HandoffWorker:
    def __init__(self, redis: Any, rasa: Optional[RasaEvents] = None, messengers: Optional[Messengers] = None,
                 roster: Callable[[], routing.Roster] = routing.current_roster,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.redis = redis
        self.rasa = rasa or RasaEvents()
        self.messengers = messengers or Messengers(redis)
        self.roster = roster
        self.clock = clock
        self.me = secrets.token_hex(6)

    async def tick(self) -> int:
        """One round; returns how many outbox members were handled (0 when another process holds the lease)."""
        if not await self.redis.set(LEASE_KEY, self.me, nx=True, px=int(LEASE_S * 1000)) and \
                await self.redis.get(LEASE_KEY) not in (self.me, self.me.encode()):
            return 0
        await self.redis.pexpire(LEASE_KEY, int(LEASE_S * 1000))
        now = self.clock()
        await self._timers(now)
        await self._offer(now)
        handled = 0
        for member in await session.claim_due(self.redis, now, OUTBOX_LEASE_S):
            try:
                await self.handle(member)
            except Exception as error:  # retried after the lease; the next members still go
                logger.warning("Handoff outbox %s not done yet (%s: %s); retrying later.", member,
                               type(error).__name__, error)
                continue
            await session.done(self.redis, member)
            handled += 1
        return handled

    async def _timers(self, now: datetime) -> None:
        roster = self.roster()
        for timer in await session.due_timers(self.redis, now):
            kind, _, request_id = timer.partition(":")
            if kind == "reply":
                taken_from = await session.take_back(self.redis, request_id, now)
                if taken_from:
                    logger.info("Handoff %s taken back from %s (no reply in %s min).", request_id,
                                mask_id(taken_from), roster.reply_timeout_min)
                continue
            details = await session.details(self.redis, request_id)
            guide = roster.guide(details.get("guide", ""))
            if details.get("status") == "assigned" and guide is not None:
                await routing.free_and_offer(self.redis, roster, guide, now, freed_request=request_id,
                                             outcome="idle_timeout")
            await self.redis.zrem(routing.TIMERS, timer)

    async def _offer(self, now: datetime) -> None:
        roster = self.roster()
        if roster.offer == "pick" or not await self.redis.zcard(routing.QUEUE):
            return
        for guide in roster.on_duty(now):
            await routing.free_and_offer(self.redis, roster, guide, now)

    # --- one outbox member ---------------------------------------------------------------

    async def handle(self, member: str) -> None:
        kind, _, rest = member.partition(":")
        request_id, _, extra = rest.partition(":")
        details = await session.details(self.redis, request_id)
        if not details:
            return  # erased meanwhile
        if kind == "notify":
            await self._notify(request_id, details)
        elif kind == "in":
            await self._relay_in(request_id, details, int(extra))
        elif kind == "out":
            await self._relay_out(request_id, details, int(extra))
        elif kind == "resume":
            await self._resume(request_id, details)
        elif kind == "takeback":
            await self._taken_back(request_id, details, extra)
        else:
            logger.error("Handoff outbox member %r of unknown kind; dropped.", member)

    def _guide_name(self, userid: str) -> str:
        guide = self.roster().guide(userid)
        return guide.name if guide else "导购"

    async def _notify(self, request_id: str, details: Dict[str, str]) -> None:
        if details.get("status") != "assigned":
            return  # ended or taken back before the guide was told
        sender_id = details.get("sender", "")
        await self.rasa.pause(sender_id)
        if sender_id.startswith("wecom_kf:"):
            await kf_handoff.to_guide(self.redis, self.messengers, details)
        recent = await self.rasa.recent_lines(sender_id)
        await self._to_guide(details["guide"], notification(
            request_id, details, recent, load_persona().name, self._guide_name(details.get("transferred_from", ""))))
        if details.get("assigned_at") != details.get("requested_at"):  # they waited: tell them who came
            await self.messengers.to_customer(
                sender_id, system_text("handoff_guide_joined", guide=self._guide_name(details["guide"])), details)

    async def _relay_in(self, request_id: str, details: Dict[str, str], index: int) -> None:
        found = await session.message(self.redis, request_id, index)
        if found is None or details.get("status") != "assigned" or details.get("kf_in_client") == "1":
            return  # the guide let go meanwhile, or reads it in the WeCom client; it stays in the transcript
        await self._to_guide(details["guide"], f"#{request_id} {customer_label(details)}：{found['text']}")

    async def _relay_out(self, request_id: str, details: Dict[str, str], index: int) -> None:
        found = await session.message(self.redis, request_id, index)
        if found is None:
            return
        sent = await self.messengers.to_customer(details.get("sender", ""), found["text"], details)
        if not sent.ok:
            await self._to_guide(found.get("guide") or details.get("guide", ""),
                                 f"#{request_id} 这条没有送达顾客（{undelivered_reason(sent.errcode)}）：{found['text'][:60]}")

    async def _resume(self, request_id: str, details: Dict[str, str]) -> None:
        sender_id = details.get("sender", "")
        if sender_id.startswith("wecom_kf:"):
            await kf_handoff.to_bot(self.redis, self.messengers, details)
        await self.rasa.resume(sender_id)
        name = self._guide_name(details.get("guide", ""))
        await self.messengers.to_customer(sender_id, system_text("handoff_back", guide=name), details)
        why = "对话超过一段时间没有新消息" if details.get("outcome") == "idle_timeout" else "接待已结束"
        await self._to_guide(details.get("guide", ""), f"#{request_id} {why}，{load_persona().name}接手了。")

    async def _taken_back(self, request_id: str, details: Dict[str, str], guide: str) -> None:
        minutes = max(1, round(self.roster().reply_timeout_min))
        await self._to_guide(guide, f"#{request_id} 超过 {minutes} 分钟没有回复，已交给其他导购。")
        if details.get("status") != "queued":
            return  # already offered to someone else: their notification speaks to the customer
        sender_id = details.get("sender", "")
        if sender_id.startswith("wecom_kf:"):
            await kf_handoff.to_bot(self.redis, self.messengers, details)
        await self.rasa.resume(sender_id)  # the bot answers while they wait, as for any queued request
        place = await routing.position(self.redis, request_id)
        await self.messengers.to_customer(sender_id, system_text("handoff_taken_back", position=str(place)), details)

    async def _to_guide(self, userid: str, text: str) -> None:
        if userid:
            await self.messengers.to_guide(userid, text)


def customer_label(details: Dict[str, str]) -> str:
    context = json.loads(details.get("context") or "{}")
    return context.get("name") or "顾客"


def notification(request_id: str, details: Dict[str, str], recent: list, persona: str, transferred_by: str = "") -> str:
    context = json.loads(details.get("context") or "{}")
    who = customer_label(details) + (f"（{context['level']}会员）" if context.get("level") else "")
    lines = [f"【转人工 #{request_id}】{who}",
             f"原因：{REASONS.get(details.get('reason', ''), details.get('reason') or '转人工')}",
             f"渠道：{details.get('channel') or '-'}"]
    if context.get("tags"):
        lines.append("标签：" + "、".join(context["tags"]))
    if details.get("transferred_from"):
        lines.append(f"转自：{transferred_by}" + (f"（备注：{details['transfer_note']}）"
                                                   if details.get("transfer_note") else ""))
    if recent:
        lines.append("最近的对话：")
        lines += [f"{'顾客' if r['who'] == 'user' else persona}：{r['text'][:80]}" for r in recent]
    lines.append(f"回复「#{request_id} 内容」发给顾客，「#{request_id} 结束」结束接待、交还{persona}。")
    return "\n".join(lines)


def undelivered_reason(errcode: int) -> str:
    return {45015: "顾客超过 48 小时没有发消息，公众号不能再主动发给他", 45047: "发给这位顾客的消息已达上限，等顾客回复后才能再发",
            95018: "微信客服会话状态不允许发送"}.get(errcode, f"错误码 {errcode}")


_started: Dict[int, asyncio.Task] = {}


def start_once(redis_factory: Callable[[], Any]) -> None:
    """Start this process's loop (each channel's start-up hook calls it; the first one wins)."""
    loop = asyncio.get_running_loop()
    if id(loop) in _started or tick_interval_s() <= 0:
        return
    _started[id(loop)] = loop.create_task(_run_forever(redis_factory))


async def _run_forever(redis_factory: Callable[[], Any]) -> None:
    worker: Optional[HandoffWorker] = None
    while True:
        try:
            worker = worker or HandoffWorker(redis_factory())
            await worker.tick()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # Redis or Rasa away: try again next tick
            logger.warning("Handoff worker tick failed (%s: %s).", type(error).__name__, error)
        await asyncio.sleep(tick_interval_s())


def attach(blueprint: Any) -> None:
    """Start the worker with the server that serves this channel's blueprint."""
    from bot.redis_conn import get_redis

    @blueprint.listener("after_server_start")
    async def _start_handoff_worker(*_: Any) -> None:
        start_once(get_redis)
