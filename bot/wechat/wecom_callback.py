"""What both WeCom callbacks (微信客服 and the self-built app) share.

Both are AES-encrypted with the corp id as receive id: GET verifies the URL by
echoing the decrypted `echostr`; POST checks size, timestamp and signature,
decrypts, refuses a replayed nonce (bot.wechat.nonce), and hands the inner
XML to `on_callback`, which must answer fast (work goes to the background).
Both routes first check the per-IP cap (bot.wechat.ip_gate).
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any, Awaitable, Callable, Dict, List

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.wechat import glue
from bot.wechat.api import HttpJson
from bot.redis_conn import get_redis
from bot.wechat.callback_auth import AesEnvelope, Forbidden, check_timestamp, query_params
from bot.wechat.ip_gate import ip_refusal
from bot.wechat.nonce import check_nonce
from bot.wechat.settings import max_body_bytes
from bot.wechat.xmlmsg import BadXml, parse_xml
from bot.handoff import worker as handoff_worker

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WeComCallbackChannel(InputChannel, metaclass=ABCMeta):
    http: HttpJson  # each subclass keeps one HTTP client for its API calls

    def __init__(self, corp_id: str, token: str, aes_key: str, missing: List[str]) -> None:
        self.corp_id = corp_id
        self.envelope = AesEnvelope(token, aes_key, corp_id, enterprise=True)
        self.missing = missing

    @abstractmethod
    async def on_callback(self, message: Dict[str, Any], on_new_message: OnNewMessage) -> HTTPResponse:
        """Answer the decrypted callback at once; heavy work goes to the background."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        channel = self.name()
        hook = Blueprint(f"{channel}_webhook_{id(self)}", __name__)

        handoff_worker.attach(hook)  # the handoff outbox goes out from every Rasa process

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": not self.missing})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            refusal = await ip_refusal(request, channel)
            if refusal is not None:
                return refusal
            if self.missing:
                return glue.not_configured(channel, ", ".join(self.missing))
            params = query_params(request.args)
            try:
                check_timestamp(params.get("timestamp"))
                echo = self.envelope.decrypt(params, params.get("echostr", ""))
            except Forbidden as error:
                return glue.forbidden(channel, str(error))
            return response.text(echo)

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refusal = await ip_refusal(request, channel)
            if refusal is not None:
                return refusal
            if self.missing:
                return glue.not_configured(channel, ", ".join(self.missing))
            message = self._decrypt_callback(request)
            if isinstance(message, HTTPResponse):
                return message
            try:
                await check_nonce(get_redis(), channel, query_params(request.args), request.body or b"")
            except Forbidden as error:
                return glue.forbidden(channel, str(error))
            return await self.on_callback(message, on_new_message)

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await glue.drain_background()
            await self.http.close()

        return hook

    def _decrypt_callback(self, request: Request) -> "Dict[str, Any] | HTTPResponse":
        channel = self.name()
        params = query_params(request.args)
        body = request.body or b""
        if len(body) > max_body_bytes():
            return glue.bad_request(channel, f"body of {len(body)} bytes over the limit")
        try:
            check_timestamp(params.get("timestamp"))
            outer = parse_xml(body)
            return parse_xml(self.envelope.decrypt(params, str(outer.get("Encrypt") or "")))
        except Forbidden as error:
            return glue.forbidden(channel, str(error))
        except BadXml as error:
            return glue.bad_request(channel, str(error))
