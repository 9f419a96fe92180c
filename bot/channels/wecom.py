"""WeCom self-built app (企业微信自建应用) for guides: /webhooks/wecom/webhook.

Guides write to the app in WeCom; the callback is acknowledged at once and
the answer goes out with message/send to the userid (Rasa sees
`wecom:<userid>`; no passive reply: guides' questions
may take longer, and ordering across parts is simpler with one path).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic.response import HTTPResponse

from common import sender
from common.privacy import mask_id
from bot.handoff import guide_commands
from bot.wechat import dedup, glue, texts
from bot.wechat.api import ApiError, HttpJson, WeComAppClient
from bot.wechat.creds import missing, pick
from bot.redis_conn import get_redis
from bot.wechat.settings import dedup_ttl_s, wecom_api_base
from bot.wechat.turn import direct_reply, run_turn
from bot.wechat.undeliverable import record_undeliverable
from bot.wechat.wecom_callback import OnNewMessage, WeComCallbackChannel

logger = logging.getLogger(__name__)

CHANNEL = "wecom"
CONTACT_ADDS = ("add_external_contact", "add_half_external_contact")
CONTACT_INTENT = "/contact_added"  # internal: never accepted from a consumer (bot/input_guard.py)
_HTTP = HttpJson()


def contact_key(message: Dict[str, Any]) -> str:
    # FromUserName is "sys" for these events: the guide, the customer and the time tell retries apart
    return (f"wx:dedup:{CHANNEL}:contact:{message.get('UserID')}:{message.get('ExternalUserID')}:"
            f"{message.get('CreateTime')}")


class WeComInput(WeComCallbackChannel):
    http = _HTTP

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeComInput":
        return cls(
            corp_id=pick(credentials, "corp_id", "WECOM_CORP_ID"),
            agent_id=pick(credentials, "agent_id", "WECOM_AGENT_ID"),
            secret=pick(credentials, "secret", "WECOM_SECRET"),
            token=pick(credentials, "token", "WECOM_TOKEN"),
            aes_key=pick(credentials, "aes_key", "WECOM_AES_KEY"),
            api_base=pick(credentials, "api_base", "WECOM_API_BASE") or None,
        )

    def __init__(self, corp_id: str, agent_id: str, secret: str, token: str, aes_key: str,
                 api_base: Optional[str] = None) -> None:
        super().__init__(corp_id, token, aes_key, missing({
            "WECOM_CORP_ID": corp_id, "WECOM_AGENT_ID": agent_id, "WECOM_SECRET": secret,
            "WECOM_TOKEN": token, "WECOM_AES_KEY": aes_key}))
        self.agent_id, self.secret = agent_id, secret
        self.api_base = api_base or wecom_api_base()

    def _client(self) -> WeComAppClient:
        return WeComAppClient(self.api_base, get_redis(), self.corp_id, self.secret, self.agent_id, http=_HTTP)

    async def on_callback(self, message: Dict[str, Any], on_new_message: OnNewMessage) -> HTTPResponse:
        if str(message.get("MsgType") or "") == "event":
            if message.get("Event") == "change_external_contact" and message.get("ChangeType") in CONTACT_ADDS:
                await self._once(contact_key(message), self._contact_added(on_new_message, message, contact_key(message)))
                return glue.success()
            logger.info("wecom: event %r from %s noted.", message.get("Event"), mask_id(message.get("FromUserName")))
            return glue.success()
        key = dedup.dedup_key(CHANNEL, message)
        await self._once(key, self._work(on_new_message, message, key))
        return glue.success()

    async def _once(self, key: str, work: Any) -> None:
        """Run `work` in the background unless a retry of the same callback already did."""
        try:
            first = await dedup.claim(get_redis(), key, dedup_ttl_s()) in (dedup.FIRST, dedup.TAKEOVER)
        except Exception:
            logger.exception("wecom: Redis unavailable for dedup; processing without it.")
            first = True
        if first:
            glue.spawn(work)
        else:
            work.close()  # the coroutine never runs

    async def _contact_added(self, on_new_message: OnNewMessage, message: Dict[str, Any], key: str) -> None:
        """锁客: a guide added a customer (action_contact_added binds and tags; its welcome goes out
        with the event's WelcomeCode, which WeCom honours once, for 20 seconds)."""
        guide, external = str(message.get("UserID") or ""), str(message.get("ExternalUserID") or "")
        redis = get_redis()
        try:
            async with dedup.leased(redis, key):
                collector = CollectingOutputChannel()
                await on_new_message(UserMessage(
                    CONTACT_INTENT, collector, sender.make(sender.WECOM_KF, external), input_channel=CHANNEL,
                    message_id=key, metadata={"contact_event": {"guide": guide, "state": str(message.get("State") or "")}}))
                welcome = "\n\n".join(str(m["text"]) for m in collector.messages if m.get("text"))
                code = str(message.get("WelcomeCode") or "")
                if code and welcome:  # no code: the brand set a welcome in WeCom's admin, which WeCom sent
                    try:
                        await self._client().send_welcome(code, welcome)
                    except ApiError as error:
                        await record_undeliverable(redis, CHANNEL, external, welcome, error.errcode, error.errmsg,
                                                   extra="welcome")
        except Exception:
            logger.exception("wecom: contact event for %s failed.", mask_id(external))
        finally:
            await _finished(redis, key)

    async def _work(self, on_new_message: OnNewMessage, message: Dict[str, Any], key: str) -> None:
        userid = str(message.get("FromUserName") or "")
        sender_id = sender.make(CHANNEL, userid)
        redis = get_redis()
        try:
            async with dedup.leased(redis, key):
                command = await guide_commands.handle(redis, userid, str(message.get("Content") or ""),
                                                      datetime.now(timezone.utc)) \
                    if str(message.get("MsgType")) == "text" else None
                if command is not None:  # `#12 …`: about a conversation the guide holds, not for the bot
                    if command:
                        await self._client().send_text(userid, command)
                    return
                if str(message.get("MsgType")) == "text":
                    meta = {"role": "guide", "agent_id": str(message.get("AgentID") or ""), "msg_type": "text"}
                    reply = await run_turn(on_new_message, CHANNEL, sender_id, str(message.get("Content") or ""),
                                           meta, message_id=key)
                else:
                    reply = await direct_reply(CHANNEL, sender_id, texts.persona_text(texts.MEDIA_ACK))
                client = self._client()
                parts = reply.parts()
                for index, part in enumerate(parts):
                    try:
                        await client.send_text(userid, part)
                    except ApiError as error:
                        await record_undeliverable(redis, CHANNEL, userid, "".join(parts[index:]), error.errcode, error.errmsg)
                        return
        except Exception:
            logger.exception("wecom: turn for %s failed.", mask_id(userid))
        finally:
            await _finished(redis, key)


async def _finished(redis: Any, key: str) -> None:
    """Mark a callback done; a Redis hiccup here only lets a later retry run it again."""
    try:
        await dedup.finish(redis, key)
    except Exception:
        pass
