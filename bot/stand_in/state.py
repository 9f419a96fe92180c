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
    95001: "send msg count limit",
    95014: "invalid servicer userid: not a servicer of this kf account or not receiving",
    95016: "invalid service state transition",
    95017: "api forbidden: the kf account is not managed by this app",
    95018: "send msg session status invalid",
    95000: "invalid cursor",
    40058: "invalid parameter",
    40029: "invalid code",
    41051: "externaluser has started chatting",
    41044: "invalid config_id",
    40097: "invalid args: state too long",
}

# kf/service_state/trans: the changes WeCom's table allows (0 未处理, 1 智能助手, 2 待接入池,
# 3 人工接待, 4 已结束); 4 changes only when the customer writes again (→ 0).
KF_TRANSITIONS = {0: {1, 2, 3}, 1: {2, 3}, 2: {3}, 3: {3, 4}, 4: set()}
KF_SENDABLE = (0, 1)  # kf/send_msg works only while nobody (or the bot) serves the customer
KF_BOT_STATE = {"service_state": 1, "servicer_userid": ""}  # a customer the stand-in has not seen

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
    kf_servicers: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)  # open_kfid -> servicer_list
    oauth_userid: str = ""  # who is "signed in to WeCom" when a page asks the authorize endpoint
    oauth_codes: Dict[str, str] = field(default_factory=dict)  # code -> userid, each usable once
    welcome_codes: Dict[str, float] = field(default_factory=dict)  # WelcomeCode -> expiry (epoch s), usable once
    contact_ways: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # config_id -> add_contact_way body
    template_ids: Dict[str, int] = field(default_factory=dict)  # "<openid>:<client_msg_id>" -> msgid
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

    def kf_state(self, open_kfid: str, external_userid: str) -> Dict[str, Any]:
        return dict(self.service_states.get(f"{open_kfid}:{external_userid}", KF_BOT_STATE))

    def set_kf_state(self, open_kfid: str, external_userid: str, state: int, servicer: str = "") -> None:
        self.service_states[f"{open_kfid}:{external_userid}"] = {
            "service_state": state, "servicer_userid": servicer if state == 3 else ""}

    def trans_error(self, open_kfid: str, external_userid: str, target: int, servicer: str) -> Optional[int]:
        """Why service_state/trans is refused (None = allowed). Servicers are checked only for
        accounts whose servicer_list a test configured (any userid is accepted otherwise)."""
        current = int(self.kf_state(open_kfid, external_userid)["service_state"])
        if target not in KF_TRANSITIONS.get(current, set()):
            return 95016
        if target == 3:
            if not servicer:
                return 40058
            listed = self.kf_servicers.get(open_kfid)
            if listed is not None and not any(s.get("userid") == servicer and int(s.get("status", 0)) == 0
                                              for s in listed):
                return 95014
        return None

    def kf_event_effect(self, open_kfid: str, message: Dict[str, Any]) -> None:
        """What a queued message does to the session, as in WeCom: a customer writing to an
        ended session reopens it (0); session_status_change events move it (3 ends it)."""
        user = str(message.get("external_userid") or "")
        if message.get("origin") == 3 and user:
            if self.kf_state(open_kfid, user)["service_state"] == 4:
                self.set_kf_state(open_kfid, user, 0)
            return
        event = message.get("event") or {}
        if event.get("event_type") != "session_status_change":
            return
        user = str(event.get("external_userid") or "")
        change = int(event.get("change_type") or 0)
        if change == 3:
            self.set_kf_state(open_kfid, user, 4)
        elif change in (1, 2, 4):
            self.set_kf_state(open_kfid, user, 3, str(event.get("new_servicer_userid") or ""))
