"""微信客服 specifics of a handoff (issue 12, item 6): the WeCom session follows the conversation.

WeCom keeps every 微信客服 session in one of five states — 0 未处理, 1 智能助手, 2 待接入池,
3 人工接待, 4 已结束 — and kf/send_msg works only in 0 and 1. So:

- **to the guide** (outbox `notify:`): `service_state/trans` to 3 with the guide as servicer when
  kf/servicer/list lists them 接待中. A guide who is not a servicer of the account (or not
  接待中) is reached through the WeCom app like a 公众号 guide, and the session stays with the
  bot (state 1), which relays: WeCom's pool (2) can only be left to a servicer (2 → 3), so a
  customer sent there by us could never come back to the bot. A request transferred to a
  colleague moves the same way (3 → 3). The guide then talks from the WeCom client: their messages come back in
  kf/sync_msg with origin 5 and go into the transcript (`guide_wrote`).
- **back to the bot** (outbox `resume:` / `takeback:`): WeCom's transition table has no way from
  2 or 3 back to 1 (3 may only be transferred or ended), so the session is ended (→ 4). The
  customer's next message opens a new session (0), in which the bot may send again.
- a trans to 2/3/4, and WeCom's session_status_change for 接入 and 结束, return a `msg_code`
  that allows one kf/send_msg_on_event message. It is kept a few seconds for the customer and
  carries the next handoff message ("林导购来啦", "琪琪回来啦") the state would otherwise refuse.
- WeCom raises no session_status_change for changes made through the API: the state is read
  again after each trans.
- session_status_change with change_type 3 (the servicer ended the session in the WeCom
  client) ends the handoff; the bot resumes (`session_changed`).

Nothing here raises: a refused API call is logged and the handoff goes on (the session then
stays with the bot and the guide's replies are relayed through send_msg as before).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple

from bot.wechat.api import ApiError, KFClient
from common import handoff_routing as routing
from common import handoff_session as session
from common import sender
from common.privacy import mask_id

logger = logging.getLogger(__name__)

NEW, BOT, POOL, HUMAN, ENDED = 0, 1, 2, 3, 4
SENDABLE = (NEW, BOT)  # the states in which kf/send_msg is accepted
RECEIVING = 0  # kf/servicer/list status: 0 接待中, 1 停止接待
CODE_TTL_S = 20  # WeCom honours an event code for seconds (20 s for a welcome code), not longer
GUIDE_MEDIA = {"image": "[导购发了一张图片]", "voice": "[导购发了一段语音]",
               "video": "[导购发了一段视频]", "file": "[导购发了一个文件]"}

State = Tuple[int, str]  # (service_state, servicer_userid)


def code_key(sender_id: str) -> str:
    return f"{routing.PREFIX}kf:code:{sender_id}"  # a msg_code for one send_msg_on_event message


def customer(details: Dict[str, str]) -> Tuple[str, str, str]:
    """(sender id, external_userid, open_kfid) of a 微信客服 request ('' when not one)."""
    sender_id = details.get("sender", "")
    channel, user = sender.split(sender_id)
    if channel != sender.WECOM_KF:
        return sender_id, "", ""
    open_kfid = str(json.loads(details.get("context") or "{}").get("open_kfid") or "")
    return sender_id, user, open_kfid


# --- WeCom calls that never raise --------------------------------------------------------

async def state_of(client: KFClient, open_kfid: str, user: str) -> Optional[State]:
    """The session's state as WeCom says now; None when it could not be read."""
    try:
        answer = await client.service_state_get(open_kfid, user)
    except Exception as error:  # noqa: BLE001 (an unreadable state must not stop the handoff)
        logger.warning("wecom_kf: service_state/get for %s failed (%s).", mask_id(user), _why(error))
        return None
    return int(answer.get("service_state") or 0), str(answer.get("servicer_userid") or "")


async def receiving(client: KFClient, open_kfid: str, userid: str) -> bool:
    """True when the guide is a servicer of the account and 接待中 (trans to 3 needs both).
    A listed guide whose status WeCom leaves out is tried (trans says no if they may not)."""
    try:
        answer = await client.servicer_list(open_kfid)
    except Exception as error:  # noqa: BLE001
        logger.warning("wecom_kf: servicer/list of %s failed (%s); guide sent to the pool.", open_kfid, _why(error))
        return False
    # Departments are listed by id only: a guide serving through one is not recognised (pool).
    return any(str(s.get("userid") or "") == userid and int(s.get("status", RECEIVING)) == RECEIVING
               for s in answer.get("servicer_list") or [])


async def _trans(client: KFClient, open_kfid: str, user: str, state: int,
                 servicer: str = "") -> Optional[Dict[str, Any]]:
    try:
        return await client.service_state_trans(open_kfid, user, state, servicer)
    except Exception as error:  # noqa: BLE001
        logger.warning("wecom_kf: service_state/trans of %s to %s refused (%s).", mask_id(user), state, _why(error))
        return None


def _why(error: Exception) -> str:
    return f"errcode {error.errcode}" if isinstance(error, ApiError) else type(error).__name__


# --- event codes -----------------------------------------------------------------------

async def remember_code(redis: Any, sender_id: str, code: str) -> None:
    if code:
        await redis.set(code_key(sender_id), code, ex=CODE_TTL_S)


async def take_code(redis: Any, sender_id: str) -> str:
    """The customer's event code, once (a code allows one message)."""
    found = await redis.getdel(code_key(sender_id))  # one step (no MULTI: Redis Cluster has none)
    return found.decode() if isinstance(found, bytes) else str(found or "")


async def send_with_code(redis: Any, client: KFClient, sender_id: str, text: str) -> bool:
    """Send one message through a code kept for the customer; False when there is none or it was refused."""
    code = await take_code(redis, sender_id)
    if not code:
        return False
    try:
        await client.send_text_on_event(code, text)
    except ApiError as error:
        logger.warning("wecom_kf: send_msg_on_event to %s refused (errcode %s).",
                       mask_id(sender.split(sender_id)[1]), error.errcode)
        return False
    return True


# --- the worker's hooks ------------------------------------------------------------------

async def to_guide(redis: Any, messengers: Any, details: Dict[str, str]) -> None:
    """After a guide was assigned (outbox `notify:`): the session goes to the guide's WeCom client (3)
    when they are a servicer 接待中, else it stays with the bot, which relays."""
    sender_id, user, open_kfid = customer(details)
    guide = details.get("guide", "")
    if not (user and open_kfid and guide):
        logger.warning("wecom_kf: handoff of %s without its kf account; the session stays with the bot.",
                       mask_id(user or sender_id))
        return
    client: KFClient = messengers.kf_client()
    before = await state_of(client, open_kfid, user)
    if before == (HUMAN, guide) or (before and before[0] == ENDED):
        # theirs already (a retried notify); 4: WeCom allows no change until the customer writes again
        logger.info("wecom_kf: session of %s left in state %s.", mask_id(user), before[0])
        return
    if not await receiving(client, open_kfid, guide):
        logger.info("wecom_kf: %s is not a receiving servicer; the bot relays for them.", mask_id(guide))
        return
    # from 0/1, or 3 → 3: a colleague hands the conversation over (the request was transferred)
    answer = await _trans(client, open_kfid, user, HUMAN, guide)
    if answer is not None:
        await remember_code(redis, sender_id, str(answer.get("msg_code") or ""))
        request_id = await session.held_request(redis, sender_id)
        if request_id:  # the guide reads the customer in the WeCom client: no copies through the app
            await redis.hset(routing.request_key(request_id), "kf_in_client", "1")
    await _reread(client, open_kfid, user, "to the guide")


async def to_bot(redis: Any, messengers: Any, details: Dict[str, str]) -> None:
    """After the conversation ended or was taken back (outbox `resume:` / `takeback:`): a session a
    person (3) or the pool (2) holds is ended, so that the bot may send again once the customer writes;
    the 结束语 code carries the persona's next message."""
    sender_id, user, open_kfid = customer(details)
    if not (user and open_kfid):
        return
    client: KFClient = messengers.kf_client()
    before = await state_of(client, open_kfid, user)
    if before is None or before[0] not in (POOL, HUMAN):
        return  # with the bot already (0/1), or already ended (4: the servicer's own 结束 code is kept)
    answer = await _trans(client, open_kfid, user, ENDED)
    if answer is not None:
        await remember_code(redis, sender_id, str(answer.get("msg_code") or ""))
    await _reread(client, open_kfid, user, "back to the bot")


async def _reread(client: KFClient, open_kfid: str, user: str, why: str) -> None:
    # WeCom sends no session_status_change for an API trans: this read is how we learn the outcome.
    after = await state_of(client, open_kfid, user)
    if after is not None:
        logger.info("wecom_kf: session of %s handed %s: state %s, servicer %s.", mask_id(user), why, after[0],
                    mask_id(after[1]))


# --- what kf/sync_msg reports (bot/channels/wecom_kf.py) ------------------------------------

async def guide_wrote(redis: Any, message: Dict[str, Any]) -> None:
    """A servicer's message from the WeCom client (origin 5): into the held conversation's transcript."""
    user = str(message.get("external_userid") or "")
    request_id = await session.held_request(redis, sender.make(sender.WECOM_KF, user)) if user else None
    if not request_id:
        logger.info("wecom_kf: servicer message to %s outside a handoff; not recorded.", mask_id(user))
        return
    msgtype = str(message.get("msgtype") or "text")
    text = str((message.get("text") or {}).get("content") or "") if msgtype == "text" else \
        GUIDE_MEDIA.get(msgtype, "[导购发了一条消息]")
    servicer = str(message.get("servicer_userid") or "")
    recorded = await session.record_delivered(redis, routing.current_roster(), request_id, text,
                                              datetime.now(timezone.utc), servicer, via=sender.WECOM_KF)
    if not recorded.ok:
        logger.info("wecom_kf: servicer message in handoff %s not recorded (%s).", request_id, recorded.refused)


async def session_changed(redis: Any, event: Dict[str, Any]) -> None:
    """session_status_change: a servicer ending the session in the WeCom client (change_type 3)
    ends the handoff, and WeCom's 结束语 code carries the persona's "I'm back"."""
    if str(event.get("change_type") or "") != "3":
        return  # 1 taken from the pool, 2 transferred, 4 reopened: the handoff goes on as it is
    sender_id = sender.make(sender.WECOM_KF, str(event.get("external_userid") or ""))
    request_id = await session.held_request(redis, sender_id)
    if not request_id:
        return
    details = await session.details(redis, request_id)
    holder = details.get("guide", "")
    if details.get("status") != "assigned" or not holder:
        return
    await remember_code(redis, sender_id, str(event.get("msg_code") or ""))
    roster = routing.current_roster()
    # A guide who left the roster meanwhile still frees the request (no new one is offered to them).
    guide = roster.guide(holder) or routing.Guide(userid=holder, name=holder, group="", capacity=0, hours={})
    await routing.free_and_offer(redis, roster, guide, datetime.now(timezone.utc), freed_request=request_id,
                                 outcome="guide_ended_in_wecom")
    logger.info("wecom_kf: handoff %s ended by %s in the WeCom client; the bot resumes.", request_id,
                mask_id(str(event.get("old_servicer_userid") or holder)))
