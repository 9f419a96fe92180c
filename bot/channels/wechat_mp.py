"""公众号 (WeChat Official Account) channel: /webhooks/wechat_mp/webhook.

Plaintext, compatible and safe (AES) modes; with WECHAT_MP_AES_KEY set only
encrypted callbacks are accepted (the plain signature does not cover the
body), and a (timestamp, nonce) seen with another body is refused
(bot.wechat.nonce). Rasa sees `wechat_mp:<openid>` with the unionid WeChat
reports (bot.wechat.mp_unionid) in the metadata; sends use the openid.

The answer goes back as the passive reply when Rasa is done within WECHAT_PASSIVE_BUDGET_S, otherwise the
callback is acknowledged with `success` and the answer goes through 客服消息
(message/custom/send); 45015/45047 refusals are recorded, never raised. An
acknowledged callback is kept in Redis until its answer went out, so a server
that dies in between leaves it to another one (bot.wechat.acked).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from common import chat_commands, sender
from common.privacy import mask_id
from bot.wechat import acked, dedup, glue, menu, mp_unionid, texts
from bot.wechat.api import ApiError, HttpJson, MPClient
from bot.wechat.callback_auth import AesEnvelope, Forbidden, check_plain_signature, check_timestamp, query_params
from bot.wechat.creds import missing, pick
from bot.wechat.ip_gate import ip_refusal
from bot.wechat.nonce import check_nonce
from bot.wechat.passive import PassiveSlot
from bot.redis_conn import get_redis
from bot.wechat.settings import (dedup_ttl_s, max_body_bytes, passive_budget_s, recovery_interval_s,
                                 wechat_api_base)
from bot.wechat.turn import direct_reply, run_turn
from bot.wechat.undeliverable import record_undeliverable
from bot.wechat.xmlmsg import BadXml, parse_xml, text_reply_xml
from bot.handoff import worker as handoff_worker

logger = logging.getLogger(__name__)

CHANNEL = "wechat_mp"
_HTTP = HttpJson()  # one connection pool per process (per event loop inside)


@dataclass
class Job:
    """What a callback asks for: a Rasa turn (`text`) or a fixed persona text (`direct`)."""

    openid: str
    text: Optional[str] = None
    direct: Optional[str] = None
    metadata: Dict[str, Any] = field(default_factory=dict)


def job_for(message: Dict[str, Any]) -> Optional[Job]:
    openid = str(message.get("FromUserName") or "")
    msg_type = str(message.get("MsgType") or "").lower()
    meta: Dict[str, Any] = {"openid": openid, "msg_type": msg_type}
    if msg_type == "text":
        return Job(openid, text=str(message.get("Content") or ""), metadata=meta)
    if msg_type == "voice":
        recognised = str(message.get("Recognition") or "").strip()
        if recognised:
            return Job(openid, text=recognised, metadata={**meta, "voice_recognition": True})
        return Job(openid, direct=texts.persona_text(texts.VOICE_UNCLEAR))
    if msg_type == "image":
        return Job(openid, direct=texts.persona_text(texts.IMAGE_ACK))
    if msg_type == "location":
        label = str(message.get("Label") or "").strip() or f"{message.get('Location_X')}, {message.get('Location_Y')}"
        return Job(openid, direct=texts.persona_text(texts.LOCATION_ACK, label=label))
    if msg_type == "link":
        return Job(openid, direct=texts.persona_text(texts.LINK_ACK, title=str(message.get("Title") or "")))
    if msg_type in ("video", "shortvideo", "file"):
        return Job(openid, direct=texts.persona_text(texts.MEDIA_ACK))
    if msg_type != "event":
        logger.info("wechat_mp: message type %r from %s not handled.", msg_type, mask_id(openid))
        return None
    event = str(message.get("Event") or "").lower()
    key = str(message.get("EventKey") or "")
    meta["wechat_event"] = event
    if event == "subscribe":
        if key.startswith("qrscene_"):
            meta["scene"] = key[len("qrscene_"):]
        # a 包裹卡 QR (pkg_<code>) redeems its code; any other scene greets (and is read by the actions)
        text = chat_commands.scene_text(meta.get("scene", "")) or menu.intent_for_event("subscribe")
        return Job(openid, text=text, metadata=meta)
    if event == "scan":
        return Job(openid, text=chat_commands.scene_text(key) or menu.intent_for_event("scan"),
                   metadata={**meta, "scene": key})
    if event == "click":
        intent = menu.intent_for_click(key)
        if intent:
            return Job(openid, text=intent, metadata={**meta, "menu_key": key})
        logger.warning("wechat_mp: menu key %r is not in bot/wechat/menu.yml; ignored.", key)
    return None


class WeChatMPInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeChatMPInput":
        return cls(
            appid=pick(credentials, "appid", "WECHAT_MP_APPID"),
            secret=pick(credentials, "secret", "WECHAT_MP_SECRET"),
            token=pick(credentials, "token", "WECHAT_MP_TOKEN"),
            aes_key=pick(credentials, "aes_key", "WECHAT_MP_AES_KEY"),
            api_base=pick(credentials, "api_base", "WECHAT_API_BASE") or None,
        )

    def __init__(self, appid: str, secret: str, token: str, aes_key: str = "", api_base: Optional[str] = None) -> None:
        self.appid, self.secret, self.token = appid, secret, token
        self.envelope = AesEnvelope(token, aes_key, appid, enterprise=False) if aes_key else None
        self.api_base = api_base or wechat_api_base()
        self.missing = missing({"WECHAT_MP_APPID": appid, "WECHAT_MP_SECRET": secret, "WECHAT_MP_TOKEN": token})

    def _client(self) -> MPClient:
        return MPClient(self.api_base, get_redis(), self.appid, self.secret, http=_HTTP)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint(f"wechat_mp_webhook_{id(self)}", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": not self.missing,
                                  "mode": "aes" if self.envelope else "plaintext"})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            refusal = await ip_refusal(request, CHANNEL)
            if refusal is not None:
                return refusal
            if self.missing:
                return glue.not_configured(CHANNEL, ", ".join(self.missing))
            params = query_params(request.args)
            try:
                check_timestamp(params.get("timestamp"))
                check_plain_signature(self.token, params)
            except Forbidden as error:
                return glue.forbidden(CHANNEL, str(error))
            return response.text(params.get("echostr", ""))

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refusal = await ip_refusal(request, CHANNEL)
            if refusal is not None:
                return refusal
            if self.missing:
                return glue.not_configured(CHANNEL, ", ".join(self.missing))
            params = query_params(request.args)
            body = request.body or b""
            if len(body) > max_body_bytes():
                return glue.bad_request(CHANNEL, f"body of {len(body)} bytes over the limit")
            encrypted = params.get("encrypt_type", "").lower() == "aes"
            try:
                check_timestamp(params.get("timestamp"))
                check_plain_signature(self.token, params)
                if self.envelope is not None and not encrypted:
                    raise Forbidden("plaintext callback but WECHAT_MP_AES_KEY is set (set the 公众号's "
                                    "消息加解密方式 to 安全模式, or clear the key)")
                outer = parse_xml(body)
                if encrypted:
                    if self.envelope is None:
                        raise Forbidden("AES-encrypted callback but WECHAT_MP_AES_KEY is empty")
                    message = parse_xml(self.envelope.decrypt(params, str(outer.get("Encrypt") or "")))
                else:
                    message = outer
                await check_nonce(get_redis(), CHANNEL, params, body)
            except Forbidden as error:
                return glue.forbidden(CHANNEL, str(error))
            except BadXml as error:
                return glue.bad_request(CHANNEL, str(error))
            return await self._dispatch(on_new_message, message, params, encrypted)

        handoff_worker.attach(hook)  # the handoff outbox goes out from every Rasa process

        @hook.listener("after_server_start")
        async def start_recovery(*_: Any) -> None:
            if recovery_interval_s() > 0 and not self.missing:
                self._recovery = asyncio.get_running_loop().create_task(self._recover_forever(on_new_message))

        @hook.listener("after_server_stop")
        async def close(*_: Any) -> None:
            if getattr(self, "_recovery", None) is not None:
                self._recovery.cancel()
            await glue.drain_background()
            await _HTTP.close()

        return hook

    async def _dispatch(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: Dict[str, Any],
                        params: Dict[str, str], encrypted: bool) -> HTTPResponse:
        openid = str(message.get("FromUserName") or "")
        if str(message.get("Event") or "").lower() == "unsubscribe":
            logger.info("wechat_mp: %s unsubscribed.", mask_id(openid))
            await _record_unsubscribe(openid)
            return glue.success()
        job = job_for(message)
        if job is None:
            return glue.success()
        redis = get_redis()
        key = dedup.dedup_key(CHANNEL, message)
        started = time.monotonic()
        try:
            verdict = await dedup.claim_within(redis, key, dedup_ttl_s(), passive_budget_s())
        except Exception:
            logger.exception("wechat_mp: Redis unavailable for dedup; processing without it.")
            verdict = dedup.FIRST
        if verdict not in (dedup.FIRST, dedup.TAKEOVER):
            logger.info("wechat_mp: duplicate callback %s not processed again (WeChat retry).", key)
            return glue.success()
        if verdict == dedup.TAKEOVER:
            logger.warning("wechat_mp: %s taken over: the process that claimed it stopped renewing its lease.", key)

        slot = PassiveSlot()
        glue.spawn(self._work(on_new_message, job, key, slot))
        content = await slot.wait(max(0.0, passive_budget_s() - (time.monotonic() - started)))
        if content is None:
            await _remember_acked(redis, acked_entry(key, job))  # before `success`: WeChat will not ask again
            return glue.success()
        reply = text_reply_xml(openid, str(message.get("ToUserName") or ""), content)
        if encrypted and self.envelope is not None:
            reply = self.envelope.encrypt(reply, params.get("nonce", ""), str(int(time.time())))
        return response.text(reply, content_type="application/xml")

    async def _work(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], job: Job, key: str,
                    slot: PassiveSlot) -> None:
        redis = get_redis()
        passive = False
        try:
            async with dedup.leased(redis, key):
                passive = await self._turn(on_new_message, job, key, slot)
        except Exception:
            logger.exception("wechat_mp: turn for %s failed.", mask_id(job.openid))
        finally:
            slot.decline()
            try:
                await dedup.finish(redis, key)
                if not passive:  # a passive answer was never acknowledged without it: nothing kept
                    await acked.forget(redis, CHANNEL, acked_entry(key, job))  # after `done`
            except Exception:
                pass

    async def _recover_forever(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        while True:
            await asyncio.sleep(recovery_interval_s())
            try:
                await self.recover(on_new_message)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("wechat_mp: recovery sweep failed (%s); next in %.0f s.",
                               type(error).__name__, recovery_interval_s())

    async def recover(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> int:
        """Answer acknowledged callbacks whose worker died (its lease ran out): the turn
        runs again under the same message id and answers through 客服消息. Returns how
        many this process took over."""
        redis = get_redis()
        taken = 0
        for member, found in await acked.due(redis, CHANNEL, dedup.lease_s(), dedup_ttl_s()):
            key = str(found.get("key") or "")
            verdict = await dedup.claim(redis, key, dedup_ttl_s()) if key else dedup.SETTLED
            if verdict == dedup.BUSY:
                continue  # its worker is alive and renewing
            if verdict == dedup.SETTLED:
                await acked.forget(redis, CHANNEL, member)
                continue
            job = Job(**found["job"])
            logger.warning("wechat_mp: %s was acknowledged but not answered (its worker stopped); "
                           "answering it through 客服消息.", key)
            taken += 1
            await self._work(on_new_message, job, key, PassiveSlot.closed())
        return taken

    async def _turn(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], job: Job, key: str,
                    slot: PassiveSlot) -> bool:
        """Run the turn and deliver it; True when it went out as the passive reply."""
        redis = get_redis()
        sender_id = sender.make(CHANNEL, job.openid)
        if job.text is not None:
            unionid = await mp_unionid.unionid_for(self._client(), redis, job.openid)
            metadata = {**job.metadata, "unionid": unionid} if unionid else job.metadata
            # the dedup key as message id: a taken-over message repeats no effect (idem keys)
            reply = await run_turn(on_new_message, CHANNEL, sender_id, job.text, metadata, message_id=key)
        else:
            reply = await direct_reply(CHANNEL, sender_id, job.direct or "")
        parts = reply.parts()
        if len(parts) == 1 and not await _retried(redis, key) and slot.offer(parts[0]):
            return True
        slot.decline()
        await self._deliver(job.openid, parts)
        return False

    async def _deliver(self, openid: str, parts: List[str]) -> None:
        """Send the parts in order through 客服消息; stop at the first refusal."""
        client = self._client()
        for index, part in enumerate(parts):
            try:
                await client.send_text(openid, part)
            except ApiError as error:
                await record_undeliverable(get_redis(), CHANNEL, openid, "".join(parts[index:]), error.errcode, error.errmsg)
                return
            except Exception as error:
                logger.exception("wechat_mp: custom/send to %s failed.", mask_id(openid))
                await record_undeliverable(get_redis(), CHANNEL, openid, "".join(parts[index:]), -1, type(error).__name__)
                return


def acked_entry(key: str, job: Job) -> str:
    return acked.entry(key, dataclasses.asdict(job))


async def _remember_acked(redis: Any, member: str) -> None:
    try:
        await acked.remember(redis, CHANNEL, member)
    except Exception as error:  # Redis down: the answer still goes out, only a crash could lose it
        logger.warning("wechat_mp: could not keep an acknowledged callback (%s).", type(error).__name__)


async def _retried(redis: Any, key: str) -> bool:
    try:
        return await dedup.was_retried(redis, key)
    except Exception:
        return False


async def _record_unsubscribe(openid: str) -> None:
    try:
        await get_redis().xadd("wx:mp:unsubscribed", {"openid": openid, "ts": str(int(time.time()))},
                               maxlen=10000, approximate=True)
    except Exception:
        logger.exception("wechat_mp: could not record an unsubscribe.")

