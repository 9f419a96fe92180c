"""Constants and small helpers shared by the channel tests."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any, Callable, Dict, List, Optional

import redis as redis_sync
import requests


def aes_key(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()[:-1]


MP_APPID = "wx1234567890abcdef"
MP_TOKEN = "mptoken123"
MP_AES = aes_key("mp")
CORP_ID = "ww0123456789abcdef"
KF_TOKEN = "kftoken456"
KF_AES = aes_key("kf")
WECOM_TOKEN = "wecomtoken789"
WECOM_AES = aes_key("wecom")
AGENT_ID = "1000002"
OPEN_KFID = "wkSTANDIN0000001"

# WeCom's documented WXBizMsgCrypt sample (企业微信 加解密 sample code).
VEC_TOKEN = "QDG6eK"
VEC_AES = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
VEC_CORP_ID = "wx5823bf96d3bd56c7"
VEC_VERIFY = {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
              "nonce": "263014780",
              "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="}
VEC_ECHO_PLAIN = "1616140317555161061"
VEC_POST_PARAMS = {"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813",
                   "nonce": "1372623149"}
VEC_POST_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo"
    "+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGL"
    "YL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun"
    "1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0"
    "MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]>"
    "</Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)


def wait_for(predicate: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
    """Poll until predicate() is truthy (arrival, not speed, is what is asserted)."""
    deadline = time.monotonic() + timeout_s
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = predicate()
    return value


class StandIn:
    def __init__(self, url: str) -> None:
        self.url = url

    def sent(self, path: Optional[str] = None) -> List[Dict[str, Any]]:
        items = requests.get(f"{self.url}/_stand_in/sent", timeout=5).json()["sent"]
        return [s["body"] for s in items if path is None or s["path"] == path]

    def calls(self, path: str) -> List[Dict[str, Any]]:
        return requests.get(f"{self.url}/_stand_in/record", params={"path": path}, timeout=5).json()["calls"]

    def fail(self, path: str, errcode: int, times: int = 1) -> None:
        requests.post(f"{self.url}/_stand_in/fail", json={"path": path, "errcode": errcode, "times": times}, timeout=5)

    def post(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        return requests.post(f"{self.url}{path}", json=body, timeout=5).json()

    def enqueue_kf_text(self, open_kfid: str, external_userid: str, text: str) -> None:
        """A customer's 微信客服 text message, waiting for sync_msg."""
        self.post("/_stand_in/kf/enqueue", {
            "open_kfid": open_kfid, "messages": [{"external_userid": external_userid, "text": {"content": text}}],
        })

    def kf_sent_to(self, external_userid: str) -> List[Dict[str, Any]]:
        """What the bot sent this 微信客服 customer (kf/send_msg bodies), in order."""
        return [body for body in self.sent("/cgi-bin/kf/send_msg") if body.get("touser") == external_userid]


class Received:
    """What reached "Rasa" (the test app's on_new_message)."""

    def __init__(self, redis_url: str) -> None:
        self.redis = redis_sync.Redis.from_url(redis_url, decode_responses=True)

    def all(self) -> List[Dict[str, Any]]:
        return [json.loads(x) for x in self.redis.lrange("test:received", 0, -1)]

    def texts(self) -> List[str]:
        return [m["text"] for m in self.all()]
