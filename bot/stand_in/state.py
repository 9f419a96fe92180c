"""In-memory state of the API stand-in: tokens, forced errors, kf queues, the record."""
from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set

ERRMSG = {
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40014: "invalid access_token",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    95018: "send msg session status invalid",
    95000: "invalid cursor",
    40058: "invalid parameter",
}

_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def error(errcode: int) -> Dict[str, Any]:
    return {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")}


@dataclass
class StandInState:
    tokens: Dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch s)
    calls: List[Dict[str, Any]] = field(default_factory=list)
    forced: Dict[str, List[int]] = field(default_factory=dict)  # path -> errcodes to answer next
    kf_queues: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    service_states: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    kf_customers: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # external_userid -> profile
    kf_invalid: Set[str] = field(default_factory=set)
    mp_users: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # openid -> user/info overrides
    page_size: int = 1000
    latency_s: float = 0.0
    counter: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def issue_token(self, expires_in: int = 7200) -> str:
        token = "ACCESS_TOKEN_" + secrets.token_hex(12)
        self.tokens[token] = time.time() + expires_in
        return token

    def token_error(self, token: Optional[str]) -> Optional[int]:
        if not token or token not in self.tokens:
            return 40001
        if self.tokens[token] < time.time():
            return 42001
        return None

    def expire_tokens(self) -> None:
        for token in self.tokens:
            self.tokens[token] = 0.0

    def take_forced(self, path: str) -> Optional[int]:
        queue = self.forced.get(path)
        return queue.pop(0) if queue else None

    def mp_user_info(self, openid: str) -> Dict[str, Any]:
        """cgi-bin/user/info's answer: a subscribed user by default; `unionid` only when
        configured (bound to an open platform); `invalid` or a malformed openid → 40003."""
        user = self.mp_users.get(openid, {})
        if not _OPENID.fullmatch(openid or "") or user.get("invalid"):
            return error(40003)
        subscribe = int(user.get("subscribe", 1))
        info: Dict[str, Any] = {"subscribe": subscribe, "openid": openid}
        if subscribe:
            info.update({"language": "zh_CN", "subscribe_time": int(user.get("subscribe_time", 1700000000)),
                         "remark": "", "groupid": 0, "tagid_list": [], "subscribe_scene": "ADD_SCENE_QR_CODE",
                         "qr_scene": 0, "qr_scene_str": ""})
        if user.get("unionid"):
            info["unionid"] = str(user["unionid"])
        return info

    def new_msgid(self) -> str:
        return f"MSG{next(self.counter):010d}{secrets.token_hex(4)}"

    def kf_customer(self, external_userid: str) -> Dict[str, Any]:
        """batchget's shape; `unionid` only when set (WeCom sends it only with a bound developer ID)."""
        profile = {"external_userid": external_userid, "nickname": "微信用户", "avatar": "", "gender": 0}
        profile.update(self.kf_customers.get(external_userid, {}))
        return profile
