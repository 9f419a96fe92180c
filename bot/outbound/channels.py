"""Send one proactive text on the customer's channel: 公众号 客服消息 or 微信客服 send_msg.

Returns what happened instead of raising, in three kinds: sent, refused by the API
(errcode: the caller records it as undeliverable), or not sent at all because the API
could not be reached (the delivery may be tried again).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import aiohttp

from bot.outbound.policy import Facts
from bot.wechat.api import ApiError, HttpJson, KFClient, MPClient
from bot.wechat.settings import env_str, wechat_api_base, wecom_api_base
from bot.wechat.split import split_text
from common import sender
from common.privacy import mask_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    sent: bool
    errcode: int = 0
    errmsg: str = ""
    unreachable: bool = False  # nothing left this process: safe to try again


class ChannelSender:
    def __init__(self, redis: Any, http: Optional[HttpJson] = None) -> None:
        self.redis = redis
        self.http = http or HttpJson(timeout_s=10.0)
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

    async def send(self, facts: Facts, text: str) -> Outcome:
        channel, user = sender.split(facts.sender_id)
        parts = split_text(text)
        try:
            for index, part in enumerate(parts):
                try:
                    if channel == sender.WECHAT_MP:
                        await self.mp().send_text(user, part)
                    elif channel == sender.WECOM_KF:
                        await self.kf().send_text(user, facts.open_kfid, part)
                    else:
                        return Outcome(False, -1, f"no proactive channel for {channel}")
                except aiohttp.ClientConnectorError as error:
                    if index == 0:  # the first part never left: the whole message may be tried again
                        logger.warning("Outbound: API unreachable for %s (%s).", mask_id(user), error)
                        return Outcome(False, -1, "api unreachable", unreachable=True)
                    raise
        except ApiError as error:
            logger.info("Outbound: %s refused for %s (errcode %s).", error.path, mask_id(user), error.errcode)
            return Outcome(False, error.errcode, error.errmsg)
        except Exception as error:  # a time-out: WeChat may have shown it; never send it twice
            logger.warning("Outbound: send to %s ended without an answer (%s).", mask_id(user), type(error).__name__)
            return Outcome(False, -2, f"no answer ({type(error).__name__})")
        return Outcome(True)
