"""Send one proactive text on the customer's channel: 公众号 客服消息 or 微信客服 send_msg.

In two steps around the delivery's claim (bot/outbound/held_post.py): `prepare` renders
the request and writes it up to its last byte; `complete` sends that byte and reads the
answer (`abort` drops it when the claim says the message is not ours to send). A text
longer than one message sends its later parts after the first is through.

Outcomes, never exceptions: sent, refused by the API (errcode: recorded as undeliverable),
unreachable (nothing left this process: the delivery may be tried again), or no answer
after a complete request (in doubt: never repeated).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from bot.outbound.held_post import Connections, HeldPost, HeldPostError
from bot.outbound.policy import Facts
from bot.wechat.api import TOKEN_ERRORS, ApiError, BaseClient, HttpJson, KFClient, MPClient
from bot.wechat.settings import env_str, wechat_api_base, wecom_api_base
from bot.wechat.split import split_text
from common import sender
from common.privacy import mask_id

logger = logging.getLogger(__name__)

NO_ANSWER = -2  # errcode recorded when a complete request got no answer


@dataclass(frozen=True)
class Outcome:
    sent: bool
    errcode: int = 0
    errmsg: str = ""
    unreachable: bool = False  # nothing left this process: safe to try again


@dataclass
class Prepared:
    client: Optional[BaseClient] = None
    token: str = ""
    bodies: List[Dict[str, Any]] = field(default_factory=list)  # one per message part
    held: Optional[HeldPost] = None
    outcome: Optional[Outcome] = None  # decided already (no channel, API unreachable)
    path: str = ""


class ChannelSender:
    def __init__(self, redis: Any, http: Optional[HttpJson] = None) -> None:
        self.redis = redis
        self.http = http or HttpJson(timeout_s=10.0)
        self.connections = Connections()
        self._mp: Optional[MPClient] = None
        self._kf: Optional[KFClient] = None

    def mp(self) -> MPClient:
        if self._mp is None:
            self._mp = MPClient(wechat_api_base(), self.redis, env_str("WECHAT_MP_APPID"), env_str("WECHAT_MP_SECRET"),
                                http=self.http)
        return self._mp

    def kf(self) -> KFClient:
        if self._kf is None:
            self._kf = KFClient(wecom_api_base(), self.redis, env_str("WECOM_CORP_ID"), env_str("WECOM_KF_SECRET"),
                                http=self.http)
        return self._kf

    async def prepare(self, facts: Facts, text: str) -> Prepared:
        channel, user = sender.split(facts.sender_id)
        parts = split_text(text)
        if channel == sender.WECHAT_MP:
            client: BaseClient = self.mp()
            bodies = [MPClient.text_body(user, part) for part in parts]
        elif channel == sender.WECOM_KF:
            client = self.kf()
            bodies = [KFClient.text_body(user, facts.open_kfid, part) for part in parts]
        else:
            return Prepared(outcome=Outcome(False, -1, f"no proactive channel for {channel}"))
        return await self._hold(client, client.SEND_TEXT, bodies, user)

    async def prepare_template(self, facts: Facts, template_id: str, data: Dict[str, Any], client_msg_id: str) -> Prepared:
        """A 公众号 模板消息 outside the 48-hour window (its client_msg_id: the delivery id)."""
        channel, user = sender.split(facts.sender_id)
        if channel != sender.WECHAT_MP:
            return Prepared(outcome=Outcome(False, -1, f"no template messages on {channel}"))
        return await self._hold(self.mp(), MPClient.SEND_TEMPLATE,
                                [MPClient.template_body(user, template_id, data, client_msg_id)], user)

    async def _hold(self, client: BaseClient, path: str, bodies: List[Dict[str, Any]], user: str) -> Prepared:
        try:
            token = await client.tokens.get()
            held = await HeldPost.start(self.connections, client.base_url + path, {"access_token": token}, bodies[0])
        except ApiError as error:  # no token: nothing was sent
            return Prepared(outcome=Outcome(False, error.errcode, error.errmsg, unreachable=True))
        except (HeldPostError, OSError) as error:
            logger.warning("Outbound: API unreachable for %s (%s).", mask_id(user), error)
            return Prepared(outcome=Outcome(False, -1, "api unreachable", unreachable=True))
        return Prepared(client, token, bodies, held, path=path)

    def abort(self, prepared: Prepared) -> None:
        if prepared.held is not None:
            prepared.held.abort()

    async def complete(self, prepared: Prepared) -> Outcome:
        if prepared.outcome is not None:
            return prepared.outcome
        client = prepared.client
        try:
            answer = await prepared.held.commit()
        except Exception as error:  # complete request, no answer: WeChat may have shown it
            logger.warning("Outbound: no answer from %s (%s); in doubt, not repeated.", prepared.path,
                           type(error).__name__)
            return Outcome(False, NO_ANSWER, f"no answer ({type(error).__name__})")
        errcode = int(answer.get("errcode") or 0)
        try:
            if errcode in TOKEN_ERRORS:  # refused before anything was shown: again with a new token
                await client.tokens.invalidate(prepared.token)
                await client.call(prepared.path, prepared.bodies[0])
            elif errcode:
                return Outcome(False, errcode, str(answer.get("errmsg", "")))
            for body in prepared.bodies[1:]:
                await client.call(prepared.path, body)
        except ApiError as error:
            logger.info("Outbound: %s refused (errcode %s).", error.path, error.errcode)
            return Outcome(False, error.errcode, error.errmsg)
        except Exception as error:
            logger.warning("Outbound: a later part got no answer (%s).", type(error).__name__)
            return Outcome(False, NO_ANSWER, f"no answer ({type(error).__name__})")
        return Outcome(True)

    async def close(self) -> None:
        self.connections.close()
        await self.http.close()
