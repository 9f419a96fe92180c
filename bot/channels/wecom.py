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
_HTTP = HttpJson()


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
            logger.info("wecom: event %r from %s noted.", message.get("Event"), mask_id(message.get("FromUserName")))
            return glue.success()
        key = dedup.dedup_key(CHANNEL, message)
        try:
            first = await dedup.claim(get_redis(), key, dedup_ttl_s()) in (dedup.FIRST, dedup.TAKEOVER)
        except Exception:
            logger.exception("wecom: Redis unavailable for dedup; processing without it.")
            first = True
        if first:
            glue.spawn(self._work(on_new_message, message, key))
        return glue.success()

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
            try:
                await dedup.finish(redis, key)
            except Exception:
                pass
