"""WeCom self-built app (企业微信自建应用) for guides: /webhooks/wecom/webhook.

Guides write to the app in WeCom; the callback is acknowledged at once and
the answer goes out with message/send (no passive reply: guides' questions
may take longer, and ordering across parts is simpler with one path).
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.privacy import mask_id
from bot.wechat import dedup, glue, texts
from bot.wechat.api import ApiError, HttpJson, WeComAppClient
from bot.wechat.callback_auth import AesEnvelope, Forbidden, check_timestamp, query_params
from bot.wechat.creds import missing, pick
from bot.wechat.outgoing import Reply
from bot.redis_conn import get_redis
from bot.wechat.settings import dedup_ttl_s, max_body_bytes, wecom_api_base
from bot.wechat.turn import run_turn
from bot.wechat.undeliverable import record_undeliverable
from bot.wechat.xmlmsg import BadXml, parse_xml

logger = logging.getLogger(__name__)

CHANNEL = "wecom"
_HTTP = HttpJson()


class WeComInput(InputChannel):
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
        self.corp_id, self.agent_id, self.secret = corp_id, agent_id, secret
        self.envelope = AesEnvelope(token, aes_key, corp_id, enterprise=True)
        self.api_base = api_base or wecom_api_base()
        self.missing = missing({"WECOM_CORP_ID": corp_id, "WECOM_AGENT_ID": agent_id, "WECOM_SECRET": secret,
                                "WECOM_TOKEN": token, "WECOM_AES_KEY": aes_key})

    def _client(self) -> WeComAppClient:
        return WeComAppClient(self.api_base, get_redis(), self.corp_id, self.secret, self.agent_id, http=_HTTP)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint(f"wecom_webhook_{id(self)}", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": not self.missing})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if self.missing:
                return glue.not_configured(CHANNEL, ", ".join(self.missing))
            params = query_params(request.args)
            try:
                check_timestamp(params.get("timestamp"))
                echo = self.envelope.decrypt(params, params.get("echostr", ""))
            except Forbidden as error:
                return glue.forbidden(CHANNEL, str(error))
            return response.text(echo)

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.missing:
                return glue.not_configured(CHANNEL, ", ".join(self.missing))
            params = query_params(request.args)
            body = request.body or b""
            if len(body) > max_body_bytes():
                return glue.bad_request(CHANNEL, f"body of {len(body)} bytes over the limit")
            try:
                check_timestamp(params.get("timestamp"))
                outer = parse_xml(body)
                message = parse_xml(self.envelope.decrypt(params, str(outer.get("Encrypt") or "")))
            except Forbidden as error:
                return glue.forbidden(CHANNEL, str(error))
            except BadXml as error:
                return glue.bad_request(CHANNEL, str(error))
            msg_type = str(message.get("MsgType") or "")
            if msg_type == "event":
                logger.info("wecom: event %r from %s noted.", message.get("Event"), mask_id(message.get("FromUserName")))
                return glue.success()
            redis = get_redis()
            key = dedup.dedup_key(CHANNEL, message)
            try:
                first = await dedup.claim(redis, key, dedup_ttl_s())
            except Exception:
                logger.exception("wecom: Redis unavailable for dedup; processing without it.")
                first = True
            if first:
                glue.spawn(self._work(on_new_message, message, key))
            return glue.success()

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await glue.drain_background()
            await _HTTP.close()

        return hook

    async def _work(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: Dict[str, Any], key: str) -> None:
        userid = str(message.get("FromUserName") or "")
        redis = get_redis()
        try:
            if str(message.get("MsgType")) == "text":
                meta = {"role": "guide", "agent_id": str(message.get("AgentID") or ""), "msg_type": "text"}
                reply = await run_turn(on_new_message, CHANNEL, userid, str(message.get("Content") or ""), meta)
            else:
                reply = Reply(texts.persona_text(texts.MEDIA_ACK))
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
