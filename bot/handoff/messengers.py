"""Who the handoff worker talks to: guides (WeCom app `message/send`) and customers
(the channel they wrote on: 公众号 客服消息, 微信客服 send_msg, or the web chat's
mailbox). Each send returns what happened instead of raising, so the worker can
tell the guide when the customer could not be reached (48-hour window…).

A 微信客服 customer whose session a servicer holds in the WeCom client (state 3) is not
sent to at all: the guide talks there, so a reply typed in the WeCom app is recorded as
undeliverable and the guide is told (bot/handoff/kf_handoff.py)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional

from common import web_mailbox
from bot.handoff import kf_handoff
from bot.wechat.api import KF_SESSION_INVALID, ApiError, HttpJson, KFClient, MPClient, WeComAppClient
from bot.wechat.settings import env_str, wechat_api_base, wecom_api_base
from bot.wechat.split import split_text
from bot.wechat.undeliverable import record_undeliverable
from common import sender
from common.privacy import mask_id

logger = logging.getLogger(__name__)

# Why the bot did not send to a 微信客服 customer (wx:undeliverable `errmsg`; the guide is told 95018).
KF_NOT_SENDABLE = {
    kf_handoff.POOL: "session in the pool (state 2): kf/send_msg refused until a servicer takes it",
    kf_handoff.HUMAN: "session with a servicer (state 3): the guide replies from the WeCom client",
    kf_handoff.ENDED: "session ended (state 4): kf/send_msg refused until the customer writes again",
}


@dataclass(frozen=True)
class Sent:
    ok: bool
    errcode: int = 0
    errmsg: str = ""


class Messengers:
    def __init__(self, redis: Any, http: Optional[HttpJson] = None) -> None:
        self.redis = redis
        self.http = http or HttpJson()

    def _app(self) -> Optional[WeComAppClient]:
        corp, secret, agent = env_str("WECOM_CORP_ID"), env_str("WECOM_SECRET"), env_str("WECOM_AGENT_ID")
        if not (corp and secret and agent):
            return None
        return WeComAppClient(wecom_api_base(), self.redis, corp, secret, agent, http=self.http)

    async def to_guide(self, userid: str, text: str) -> Sent:
        client = self._app()
        if client is None:
            logger.warning("Handoff: the WeCom app is not configured; guide %s not notified.", mask_id(userid))
            return Sent(False, -1, "WeCom app not configured")
        for part in split_text(text):
            try:
                await client.send_text(userid, part)
            except ApiError as error:
                logger.warning("Handoff: message/send to guide %s refused (%s).", mask_id(userid), error.errcode)
                return Sent(False, error.errcode, error.errmsg)
        return Sent(True)

    def kf_client(self) -> KFClient:
        return KFClient(wecom_api_base(), self.redis, env_str("WECOM_CORP_ID"), env_str("WECOM_KF_SECRET"),
                        http=self.http)

    async def to_customer(self, sender_id: str, text: str, details: Dict[str, str]) -> Sent:
        channel, native = sender.split(sender_id)
        try:
            if channel == "wechat_mp":
                client = MPClient(wechat_api_base(), self.redis, env_str("WECHAT_MP_APPID"),
                                  env_str("WECHAT_MP_SECRET"), http=self.http)
                for part in split_text(text):
                    await client.send_text(native, part)
            elif channel == "wecom_kf":
                return await self._to_kf_customer(sender_id, native, text, details)
            elif channel == "web":
                await web_mailbox.leave(self.redis, native, text)
            else:
                return Sent(False, -1, f"no way to reach a {channel or 'unknown'} customer")
        except ApiError as error:
            await record_undeliverable(self.redis, channel, native, text, error.errcode, error.errmsg, extra="handoff")
            return Sent(False, error.errcode, error.errmsg)
        return Sent(True)

    async def _to_kf_customer(self, sender_id: str, user: str, text: str, details: Dict[str, str]) -> Sent:
        """kf/send_msg while the session is with the bot (state 0/1). In any other state the bot
        does not speak: a 人工接待 (3) session is the guide's, who writes from the WeCom client.
        There only a WeCom event code (from the trans, or the servicer ending the session) lets one
        handoff message through; without one the message is recorded as undeliverable."""
        open_kfid = str(json.loads(details.get("context") or "{}").get("open_kfid") or "")
        client = self.kf_client()
        state = await kf_handoff.state_of(client, open_kfid, user)
        if state is not None and state[0] not in kf_handoff.SENDABLE:
            return await self._kf_by_code(client, sender_id, user, text, state[0])
        parts = split_text(text)
        for index, part in enumerate(parts):
            try:
                await client.send_text(user, open_kfid, part)
            except ApiError as error:
                rest = "".join(parts[index:])
                if error.errcode == KF_SESSION_INVALID:  # the state changed since it was read
                    return await self._kf_by_code(client, sender_id, user, rest, -1)
                await record_undeliverable(self.redis, "wecom_kf", user, rest, error.errcode, error.errmsg,
                                           extra="handoff")
                return Sent(False, error.errcode, error.errmsg)
        return Sent(True)

    async def _kf_by_code(self, client: KFClient, sender_id: str, user: str, text: str, state: int) -> Sent:
        parts = split_text(text)
        if parts and await kf_handoff.send_with_code(self.redis, client, sender_id, parts[0]):
            if len(parts) > 1:  # a code allows one message
                await record_undeliverable(self.redis, "wecom_kf", user, "".join(parts[1:]), KF_SESSION_INVALID,
                                           "one message per event code", extra="handoff")
            return Sent(True)
        why = KF_NOT_SENDABLE.get(state, "session state does not allow kf/send_msg")
        await record_undeliverable(self.redis, "wecom_kf", user, text, KF_SESSION_INVALID, why, extra="handoff")
        return Sent(False, KF_SESSION_INVALID, why)
