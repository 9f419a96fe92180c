"""Who the handoff worker talks to: guides (WeCom app `message/send`) and customers
(the channel they wrote on: 公众号 客服消息, 微信客服 send_msg, or the web chat's
mailbox). Each send returns what happened instead of raising, so the worker can
tell the guide when the customer could not be reached (48-hour window…)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional

from common import web_mailbox
from bot.wechat.api import ApiError, HttpJson, KFClient, MPClient, WeComAppClient
from bot.wechat.settings import env_str, wechat_api_base, wecom_api_base
from bot.wechat.split import split_text
from bot.wechat.undeliverable import record_undeliverable
from common import sender
from common.privacy import mask_id

logger = logging.getLogger(__name__)

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

    async def to_customer(self, sender_id: str, text: str, details: Dict[str, str]) -> Sent:
        channel, native = sender.split(sender_id)
        try:
            if channel == "wechat_mp":
                client = MPClient(wechat_api_base(), self.redis, env_str("WECHAT_MP_APPID"),
                                  env_str("WECHAT_MP_SECRET"), http=self.http)
                for part in split_text(text):
                    await client.send_text(native, part)
            elif channel == "wecom_kf":
                open_kfid = json.loads(details.get("context") or "{}").get("open_kfid", "")
                client = KFClient(wecom_api_base(), self.redis, env_str("WECOM_CORP_ID"),
                                  env_str("WECOM_KF_SECRET"), http=self.http)
                for part in split_text(text):
                    await client.send_text(native, open_kfid, part)
            elif channel == "web":
                await web_mailbox.leave(self.redis, native, text)
            else:
                return Sent(False, -1, f"no way to reach a {channel or 'unknown'} customer")
        except ApiError as error:
            await record_undeliverable(self.redis, channel, native, text, error.errcode, error.errmsg, extra="handoff")
            return Sent(False, error.errcode, error.errmsg)
        return Sent(True)
