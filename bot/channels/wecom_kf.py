"""微信客服 (WeChat Customer Service) channel: /webhooks/wecom_kf/webhook.

The callback (AES, corp id) only announces `kf_msg_or_event`; it is
acknowledged at once and the messages are pulled with kf/sync_msg
(bot.wechat.kf_sync). Customer messages (origin 3) go to Rasa as
`wecom_kf:<external_userid>`, with the unionid WeCom reports for that customer
(kf/customer/batchget, once per customer, cached) in the metadata; answers go
out to the raw external_userid with kf/send_msg (text, or `msgmenu` for
options, whose item ids name the option); `enter_session` gets the persona
welcome through kf/send_msg_on_event. A click on an expired menu gets an
honest persona reply, not an NLU guess.

During a handoff (bot/handoff/kf_handoff.py) a servicer's own messages (origin 5)
go into the handoff transcript, a servicer ending the session in the WeCom
client (session_status_change, change_type 3) gives the customer back to the
bot, and msg_send_fail (48-hour window, 5-message limit, refused…) is recorded.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from sanic.response import HTTPResponse

from common import chat_commands, contact_state, sender
from common.privacy import mask_id
from bot.channels import options
from bot.persona import system_text
from bot.wechat import glue, menu, texts
from bot.handoff import kf_handoff
from bot.wechat.api import KF_SESSION_INVALID, ApiError, HttpJson, KFClient
from bot.wechat.creds import missing, pick
from bot.wechat.kf_sync import KFSyncer
from bot.wechat.outgoing import Reply
from bot.redis_conn import get_redis
from bot.wechat.settings import env_float, wecom_api_base
from bot.wechat.split import split_text, utf8_len
from bot.wechat.turn import run_turn
from bot.wechat.undeliverable import record_undeliverable
from bot.wechat.wecom_callback import OnNewMessage, WeComCallbackChannel

logger = logging.getLogger(__name__)

CHANNEL = "wecom_kf"
_HTTP = HttpJson()

# msgmenu limits (kf/send_msg): up to 10 items of at most 128 bytes each; head at most 1024 bytes.
MENU_MAX_ITEMS = 10
MENU_ITEM_BYTES = 128
MENU_HEAD_BYTES = 1024

NO_UNIONID = "none"  # cached answer for a customer WeCom reports without a unionid


# msg_send_fail fail_type (WeCom): why a kf/send_msg message accepted earlier never arrived.
SEND_FAIL_REASONS = {0: "unknown reason", 1: "kf account deleted", 2: "app closed", 4: "session expired (48 hours)",
                     5: "session closed", 6: "more than 5 messages since the customer's last one",
                     8: "corp not verified", 10: "the customer refuses messages",
                     11: "no member of the corp logged in to WeCom", 12: "message type not allowed"}


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def customer_key(external_userid: str) -> str:
    return f"wx:kf:unionid:{external_userid}"


MEDIA_REPLIES = {"image": texts.IMAGE_ACK, "voice": texts.VOICE_UNCLEAR, "video": texts.MEDIA_ACK,
                 "file": texts.MEDIA_ACK}


class WeComKFInput(WeComCallbackChannel):
    http = _HTTP

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeComKFInput":
        return cls(
            corp_id=pick(credentials, "corp_id", "WECOM_CORP_ID"),
            secret=pick(credentials, "secret", "WECOM_KF_SECRET"),
            token=pick(credentials, "token", "WECOM_KF_TOKEN"),
            aes_key=pick(credentials, "aes_key", "WECOM_KF_AES_KEY"),
            api_base=pick(credentials, "api_base", "WECOM_API_BASE") or None,
        )

    def __init__(self, corp_id: str, secret: str, token: str, aes_key: str, api_base: Optional[str] = None) -> None:
        super().__init__(corp_id, token, aes_key, missing({
            "WECOM_CORP_ID": corp_id, "WECOM_KF_SECRET": secret, "WECOM_KF_TOKEN": token,
            "WECOM_KF_AES_KEY": aes_key}))
        self.secret = secret
        self.api_base = api_base or wecom_api_base()

    def client(self) -> KFClient:
        """Also the entry point for the handoff issue (service_state get/trans)."""
        return KFClient(self.api_base, get_redis(), self.corp_id, self.secret, http=_HTTP)

    async def on_callback(self, event: Dict[str, Any], on_new_message: OnNewMessage) -> HTTPResponse:
        if str(event.get("Event") or "") != "kf_msg_or_event":
            logger.info("wecom_kf: callback event %r ignored.", event.get("Event") or event.get("MsgType"))
            return glue.success()
        open_kfid = str(event.get("OpenKfId") or "")
        if not open_kfid:
            logger.warning("wecom_kf: kf_msg_or_event without OpenKfId; nothing to sync.")
            return glue.success()
        syncer = KFSyncer(self.client(), get_redis(), lambda msg: self._handle(on_new_message, msg))
        glue.spawn(syncer.trigger(open_kfid, str(event.get("Token") or "")))
        return glue.success()

    async def _handle(self, on_new_message: OnNewMessage, msg: Dict[str, Any]) -> None:
        msgtype = str(msg.get("msgtype") or "")
        if msgtype == "event":
            await self._handle_event(on_new_message, msg.get("event") or {})
            return
        if msg.get("origin") == 5:  # a servicer wrote from the WeCom client: never consumer input
            await kf_handoff.guide_wrote(get_redis(), msg)
            return
        if msg.get("origin") != 3:
            return  # system messages are not consumer input
        user = str(msg.get("external_userid") or "")
        sender_id = sender.make(CHANNEL, user)
        open_kfid = str(msg.get("open_kfid") or "")
        meta = {"open_kfid": open_kfid, "msgid": msg.get("msgid"), "msg_type": msgtype,
                **await self.identity(user)}
        if msgtype == "text":
            text = msg.get("text") or {}
            menu_id = str(text.get("menu_id") or "") or None
            if menu_id and not await self._menu_item_known(sender_id, menu_id):
                logger.info("wecom_kf: %s clicked an expired or unknown menu item.", mask_id(user))
                reply = Reply(system_text("stale_option"))
            else:
                # sync_msg's msgid as message id: a message retried after a crash repeats no effect
                message_id = f"{CHANNEL}:{msg['msgid']}" if msg.get("msgid") else None
                reply = await run_turn(on_new_message, CHANNEL, sender_id, str(text.get("content") or ""), meta,
                                       menu_id=menu_id, message_id=message_id)
        elif msgtype == "location":
            location = msg.get("location") or {}
            label = str(location.get("address") or location.get("name") or "")
            reply = Reply(texts.persona_text(texts.LOCATION_ACK, label=label))
        elif msgtype == "link":
            reply = Reply(texts.persona_text(texts.LINK_ACK, title=str((msg.get("link") or {}).get("title") or "")))
        else:
            reply = Reply(texts.persona_text(MEDIA_REPLIES.get(msgtype, texts.MEDIA_ACK)))
        await self.deliver(user, open_kfid, reply)

    async def _menu_item_known(self, sender_id: str, menu_id: str) -> bool:
        """False for a click on an expired, unknown or position-only (pre-token) menu item."""
        try:
            return await options.resolve_menu_item(get_redis(), CHANNEL, sender_id, menu_id) is not None
        except Exception as error:  # Redis hiccup: let the turn go on with the clicked text
            logger.warning("wecom_kf: could not read a menu (%s).", type(error).__name__)
            return True

    async def identity(self, user: str) -> Dict[str, str]:
        """{"unionid": …} as WeCom reports it (batchget once per customer, cached); {} if none or unknown.

        Trusted because it comes from WeCom, never from the message; a failure or a
        slow API only leaves it out (retried on the customer's next message)."""
        redis = get_redis()
        try:
            cached = await redis.get(customer_key(user))
            if cached is None:
                timeout_s = env_float("WECOM_KF_BATCHGET_TIMEOUT_S", 2.0)
                answer = await asyncio.wait_for(self.client().batchget_customers([user]), timeout_s)
                found = [c for c in answer.get("customer_list") or [] if c.get("external_userid") == user]
                cached = str(found[0].get("unionid") or "") if found else ""
                ttl = env_float("WECOM_KF_UNIONID_TTL_S", 30 * 86400.0) if cached else \
                    env_float("WECOM_KF_NO_UNIONID_TTL_S", 86400.0)
                await redis.set(customer_key(user), cached or NO_UNIONID, ex=int(ttl))
        except Exception as error:
            logger.warning("wecom_kf: no unionid for %s this time (%s: %s).", mask_id(user),
                           type(error).__name__, error if isinstance(error, ApiError) else "")
            return {}
        return {"unionid": cached} if cached and cached != NO_UNIONID else {}

    async def _handle_event(self, on_new_message: OnNewMessage, event: Dict[str, Any]) -> None:
        kind = str(event.get("event_type") or "")
        user = str(event.get("external_userid") or "")
        open_kfid = str(event.get("open_kfid") or "")
        if kind == "enter_session":
            code = str(event.get("welcome_code") or "")
            if not code:
                logger.info("wecom_kf: %s entered without a welcome_code; no welcome sent.", mask_id(user))
                return
            meta = {"open_kfid": open_kfid, "wechat_event": "enter_session", "scene": event.get("scene", ""),
                    "scene_param": event.get("scene_param", ""), **await self.identity(user)}
            # a 包裹卡 link (scene_param pkg_<code>) redeems its code; any other scene greets
            text = chat_commands.scene_text(str(event.get("scene_param") or "")) or menu.intent_for_event("enter_session")
            reply = await run_turn(on_new_message, CHANNEL, sender.make(CHANNEL, user), text, meta)
            parts = reply.parts()
            if parts:
                try:
                    # A welcome_code allows exactly one message, within 20 s of the event.
                    await self.client().send_text_on_event(code, parts[0])
                except ApiError as error:
                    await record_undeliverable(get_redis(), CHANNEL, user, parts[0], error.errcode, error.errmsg)
        elif kind == "msg_send_fail":
            fail_type = _int(event.get("fail_type"), -1)
            await record_undeliverable(get_redis(), CHANNEL, user, "", fail_type,
                                       "msg_send_fail: " + SEND_FAIL_REASONS.get(fail_type, "unknown reason"),
                                       extra=str(event.get("fail_msgid") or ""))
        elif kind == "session_status_change":
            logger.info("wecom_kf: session of %s on %s changed (change_type %s, servicer %s → %s).", mask_id(user),
                        open_kfid, event.get("change_type"), mask_id(event.get("old_servicer_userid")),
                        mask_id(event.get("new_servicer_userid")))
            await kf_handoff.session_changed(get_redis(), event)
        else:
            logger.info("wecom_kf: event %r for %s noted.", kind, mask_id(user))

    async def deliver(self, user: str, open_kfid: str, reply: Reply) -> None:
        """Send in order: text parts, then the options as msgmenu when they fit, else numbered."""
        client = self.client()
        sends = []
        fits_menu = (reply.options and len(reply.options) <= MENU_MAX_ITEMS
                     and all(utf8_len(o.title) <= MENU_ITEM_BYTES for o in reply.options))
        items: List[Tuple[str, str]] = []
        if fits_menu:
            try:
                ids = await options.remember_menu(get_redis(), CHANNEL, sender.make(CHANNEL, user), reply.options)
                items = list(zip(ids, (o.title for o in reply.options)))
            except Exception as error:  # no stored menu: numbered text (typed numbers still work)
                logger.warning("wecom_kf: could not store a menu (%s); options sent as text.", type(error).__name__)
                fits_menu = False
        if fits_menu:
            body_parts = split_text(reply.body) if reply.body else []
            head = body_parts.pop() if body_parts and utf8_len(body_parts[-1]) <= MENU_HEAD_BYTES else ""
            sends = [("text", p) for p in body_parts] + [("menu", head)]
        else:
            sends = [("text", p) for p in reply.parts()]
        sent: List[int] = []
        try:
            await self._send_all(client, user, open_kfid, sends, items, sent)
        finally:  # the replies use up the window's 5 messages too (common/contact_state)
            try:
                await contact_state.count_sent(get_redis(), sender.make(CHANNEL, user), len(sent))
            except Exception as error:
                logger.warning("wecom_kf: sent count of %s not kept (%s).", mask_id(user), type(error).__name__)

    async def _send_all(self, client: KFClient, user: str, open_kfid: str, sends: List[Tuple[str, str]],
                        items: List[Tuple[str, str]], sent: List[int]) -> None:
        for index, (kind, content) in enumerate(sends):
            try:
                if kind == "text":
                    await client.send_text(user, open_kfid, content)
                else:
                    await client.send_menu(user, open_kfid, content, items)
                sent.append(index)
            except ApiError as error:
                rest = "".join(c for _, c in sends[index:])
                # Handed to a guide meanwhile (send_msg refused in 人工接待): the trans's code
                # still lets this one reply through, e.g. the persona naming the guide.
                if error.errcode == KF_SESSION_INVALID and await kf_handoff.send_with_code(
                        get_redis(), client, sender.make(CHANNEL, user), rest):
                    return
                await record_undeliverable(get_redis(), CHANNEL, user, rest, error.errcode, error.errmsg)
                return
            except Exception as error:
                logger.exception("wecom_kf: send_msg to %s failed.", mask_id(user))
                await record_undeliverable(get_redis(), CHANNEL, user, content, -1, type(error).__name__)
                return
