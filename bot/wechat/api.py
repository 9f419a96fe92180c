"""Async clients for the 公众号 and WeCom HTTP APIs (aiohttp: nothing blocks
Sanic's event loop). wechatpy 1.8.18 has no 微信客服 API, and its clients
are synchronous, so the few endpoints the channels need are called here.

Every call: cached token → POST → on 40001/42001/40014 drop the token,
fetch a new one and retry once → errcode != 0 raises ApiError.
"""
from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
import json
import logging
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
import redis.asyncio as aioredis

from bot.wechat.token_cache import AccessTokenCache

logger = logging.getLogger(__name__)

TOKEN_ERRORS = {40001, 40014, 42001}
OUT_OF_WINDOW = 45015  # 公众号: user silent for 48 h (or unsubscribed)
OUT_OF_QUOTA = 45047  # 公众号: too many 客服 messages since the user's last message
KF_SESSION_INVALID = 95018  # 微信客服: session not in a state the bot may send in
KF_SERVICER_UNAVAILABLE = 95014  # 微信客服: not a servicer of the account (or not activated / not 接待中)
KF_TRANSITION_REFUSED = 95016  # 微信客服: service_state/trans from this state to that one is not allowed


class ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str, path: str) -> None:
        super().__init__(f"{path}: errcode {errcode} ({errmsg})")
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path


class HttpJson:
    """One aiohttp session per event loop, created lazily inside the loop."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._sessions: Dict[int, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop_id = id(asyncio.get_running_loop())
        session = self._sessions.get(loop_id)
        if session is None or session.closed:
            session = aiohttp.ClientSession(timeout=self.timeout)
            self._sessions[loop_id] = session
        return session

    async def request(self, method: str, url: str, params: Dict[str, str], body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        data = None
        headers = {}
        if body is not None:
            # ensure_ascii=False: the 公众号 API shows \uXXXX escapes literally.
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        async with self._session().request(method, url, params=params, data=data, headers=headers) as response:
            text = await response.text()
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return {"errcode": -1, "errmsg": f"HTTP {response.status}: non-JSON answer"}

    async def close(self) -> None:
        loop_id = id(asyncio.get_running_loop())
        session = self._sessions.pop(loop_id, None)
        if session is not None:
            await session.close()


class BaseClient(ABC):
    token_path = ""

    def __init__(self, base_url: str, redis: aioredis.Redis, token_name: str, http: Optional[HttpJson] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or HttpJson()
        self.tokens = AccessTokenCache(redis, token_name, self._fetch_token)

    @abstractmethod
    def _token_params(self) -> Dict[str, str]:
        """Query parameters of the token endpoint (appid/secret or corpid/corpsecret)."""

    async def _fetch_token(self) -> Tuple[str, int]:
        answer = await self.http.request("GET", self.base_url + self.token_path, self._token_params())
        if answer.get("errcode") not in (None, 0) or not answer.get("access_token"):
            raise ApiError(int(answer.get("errcode") or -1), str(answer.get("errmsg", "")), self.token_path)
        return str(answer["access_token"]), int(answer.get("expires_in") or 7200)

    async def call(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        """POST a JSON body to an API path (the access token is added and refreshed once if refused)."""
        return await self._request("POST", path, {}, body)

    async def get(self, path: str, params: Dict[str, str]) -> Dict[str, Any]:
        """The GET endpoints (query parameters, no body), with the same token handling as `call`."""
        return await self._request("GET", path, params, None)

    async def _request(self, method: str, path: str, params: Dict[str, str],
                       body: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        for attempt in (1, 2):
            token = await self.tokens.get()
            answer = await self.http.request(method, self.base_url + path, {"access_token": token, **params}, body)
            errcode = int(answer.get("errcode") or 0)
            if errcode in TOKEN_ERRORS and attempt == 1:
                logger.info("%s: token refused (errcode %s); refreshing once.", path, errcode)
                await self.tokens.invalidate(token)
                continue
            if errcode != 0:
                raise ApiError(errcode, str(answer.get("errmsg", "")), path)
            return answer
        raise AssertionError("unreachable")


class MPClient(BaseClient):
    """公众号 (Official Account)."""

    token_path = "/cgi-bin/token"

    def __init__(self, base_url: str, redis: aioredis.Redis, appid: str, secret: str, http: Optional[HttpJson] = None) -> None:
        self.appid, self.secret = appid, secret
        super().__init__(base_url, redis, f"mp:{appid}", http)

    def _token_params(self) -> Dict[str, str]:
        return {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}

    SEND_TEXT = "/cgi-bin/message/custom/send"

    @staticmethod
    def text_body(openid: str, content: str) -> Dict[str, Any]:
        return {"touser": openid, "msgtype": "text", "text": {"content": content}}

    async def send_text(self, openid: str, content: str) -> Dict[str, Any]:
        return await self.call(self.SEND_TEXT, self.text_body(openid, content))

    SEND_TEMPLATE = "/cgi-bin/message/template/send"

    @staticmethod
    def template_body(openid: str, template_id: str, data: Dict[str, Any], client_msg_id: str) -> Dict[str, Any]:
        """模板消息; `client_msg_id`: WeChat sends one message per openid + id (10 minutes)."""
        return {"touser": openid, "template_id": template_id, "data": data, "client_msg_id": client_msg_id[:64]}

    async def user_info(self, openid: str) -> Dict[str, Any]:
        """cgi-bin/user/info: subscribe, openid, and unionid when the account is bound to an open platform."""
        return await self.get("/cgi-bin/user/info", {"openid": openid, "lang": "zh_CN"})


class WeComClient(BaseClient):
    """WeCom; which secret decides which APIs the token may call (kf vs app)."""

    token_path = "/cgi-bin/gettoken"

    def __init__(self, base_url: str, redis: aioredis.Redis, corp_id: str, secret: str, purpose: str,
                 http: Optional[HttpJson] = None) -> None:
        self.corp_id, self.secret = corp_id, secret
        super().__init__(base_url, redis, f"wecom:{corp_id}:{purpose}", http)

    def _token_params(self) -> Dict[str, str]:
        return {"corpid": self.corp_id, "corpsecret": self.secret}


class KFClient(WeComClient):
    """微信客服 (WeChat Customer Service) through the WeCom API."""

    def __init__(self, base_url: str, redis: aioredis.Redis, corp_id: str, secret: str, http: Optional[HttpJson] = None) -> None:
        super().__init__(base_url, redis, corp_id, secret, "kf", http)

    async def sync_msg(self, open_kfid: str, cursor: str = "", token: str = "", limit: int = 1000) -> Dict[str, Any]:
        body: Dict[str, Any] = {"open_kfid": open_kfid, "limit": limit, "voice_format": 0}
        if cursor:
            body["cursor"] = cursor
        if token:
            body["token"] = token
        return await self.call("/cgi-bin/kf/sync_msg", body)

    SEND_TEXT = "/cgi-bin/kf/send_msg"

    @staticmethod
    def text_body(touser: str, open_kfid: str, content: str) -> Dict[str, Any]:
        return {"touser": touser, "open_kfid": open_kfid, "msgtype": "text", "text": {"content": content}}

    async def send_text(self, touser: str, open_kfid: str, content: str) -> Dict[str, Any]:
        return await self.call(self.SEND_TEXT, self.text_body(touser, open_kfid, content))

    async def send_menu(self, touser: str, open_kfid: str, head: str, items: List[Tuple[str, str]], tail: str = "") -> Dict[str, Any]:
        menu: Dict[str, Any] = {"head_content": head,
                                "list": [{"type": "click", "click": {"id": i, "content": c}} for i, c in items]}
        if tail:
            menu["tail_content"] = tail
        return await self.call("/cgi-bin/kf/send_msg",
                               {"touser": touser, "open_kfid": open_kfid, "msgtype": "msgmenu", "msgmenu": menu})

    async def send_text_on_event(self, code: str, content: str) -> Dict[str, Any]:
        return await self.call("/cgi-bin/kf/send_msg_on_event",
                               {"code": code, "msgtype": "text", "text": {"content": content}})

    async def batchget_customers(self, external_userids: List[str]) -> Dict[str, Any]:
        """Customer profiles (nickname, avatar, gender, unionid when the corp has a bound developer ID)."""
        return await self.call("/cgi-bin/kf/customer/batchget",
                               {"external_userid_list": list(external_userids), "need_enter_session_context": 0})

    async def servicer_list(self, open_kfid: str) -> Dict[str, Any]:
        """kf/servicer/list: `servicer_list` of {userid, status (0 接待中, 1 停止接待)} or {department_id}."""
        return await self.get("/cgi-bin/kf/servicer/list", {"open_kfid": open_kfid})

    async def service_state_get(self, open_kfid: str, external_userid: str) -> Dict[str, Any]:
        """Who serves the user now: 0 未处理, 1 智能助手, 2 待接入池, 3 人工接待, 4 已结束."""
        return await self.call("/cgi-bin/kf/service_state/get",
                               {"open_kfid": open_kfid, "external_userid": external_userid})

    async def service_state_trans(self, open_kfid: str, external_userid: str, service_state: int,
                                  servicer_userid: str = "") -> Dict[str, Any]:
        """Hand the session over (2 = the pool, 3 = a given servicer, 4 = end it); the answer's
        `msg_code` (first change to 2/3, and to 4) allows one kf/send_msg_on_event message."""
        body: Dict[str, Any] = {"open_kfid": open_kfid, "external_userid": external_userid, "service_state": service_state}
        if servicer_userid:
            body["servicer_userid"] = servicer_userid
        return await self.call("/cgi-bin/kf/service_state/trans", body)


class WeComAppClient(WeComClient):
    """A WeCom self-built app (企业微信自建应用) talking to the brand's guides."""

    def __init__(self, base_url: str, redis: aioredis.Redis, corp_id: str, secret: str, agent_id: str,
                 http: Optional[HttpJson] = None) -> None:
        self.agent_id = agent_id
        super().__init__(base_url, redis, corp_id, secret, f"agent{agent_id}", http)

    async def send_text(self, touser: str, content: str) -> Dict[str, Any]:
        agent: Any = int(self.agent_id) if str(self.agent_id).isdigit() else self.agent_id
        return await self.call("/cgi-bin/message/send",
                               {"touser": touser, "msgtype": "text", "agentid": agent, "text": {"content": content}, "safe": 0})

    async def send_welcome(self, welcome_code: str, content: str) -> Dict[str, Any]:
        """externalcontact/send_welcome_msg: once, within 20 s of the add event that carried the code
        (the app must be one of 客户联系's 可调用应用)."""
        return await self.call("/cgi-bin/externalcontact/send_welcome_msg",
                               {"welcome_code": welcome_code, "text": {"content": content}})

    async def add_contact_way(self, userids: List[str], state: str, remark: str = "") -> Dict[str, Any]:
        """externalcontact/add_contact_way: a 联系我 QR code for one guide (type 1) or several (type 2);
        WeCom's admin does not list ways made by API, so the caller keeps the config_id."""
        body: Dict[str, Any] = {"type": 1 if len(userids) == 1 else 2, "scene": 2, "state": state,
                                "user": list(userids), "skip_verify": True}
        if remark:
            body["remark"] = remark[:30]
        return await self.call("/cgi-bin/externalcontact/add_contact_way", body)

    async def add_msg_template(self, sender: str, external_userids: List[str], content: str) -> Dict[str, Any]:
        """externalcontact/add_msg_template (企业群发): a task the guide `sender` confirms in the
        WeCom client before anything reaches the customers; `fail_list` names ids that are not
        the guide's contacts. One task per guide, up to 10,000 customers."""
        return await self.call("/cgi-bin/externalcontact/add_msg_template",
                               {"chat_type": "single", "external_userid": list(external_userids), "sender": sender,
                                "text": {"content": content}})

    async def del_contact_way(self, config_id: str) -> Dict[str, Any]:
        return await self.call("/cgi-bin/externalcontact/del_contact_way", {"config_id": config_id})
