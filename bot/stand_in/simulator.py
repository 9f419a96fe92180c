"""A stand-in for WeChat's own server: signs, encrypts and delivers callbacks.

Like WeChat it waits at most 5 s for an answer and tries up to 3 times;
replies are decrypted and checked the way WeChat checks them. Modes:
`plain` / `compat` / `safe` (公众号) and `wecom` (WeCom app and 微信客服).

    python -m bot.stand_in.simulator --url http://127.0.0.1:5005/webhooks/wechat_mp/webhook \\
        --token TOKEN --aes-key KEY --receiver-id APPID --mode safe text 你好
"""
from __future__ import annotations

import argparse
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import requests
from wechatpy.crypto import WeChatCrypto as MPCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from bot.wechat.callback_auth import sign as _get_signature
from bot.wechat.xmlmsg import cdata, parse_xml

MODES = ("plain", "compat", "safe", "wecom")


@dataclass
class Attempt:
    status: Optional[int]
    body: str
    error: str = ""
    elapsed_s: float = 0.0


@dataclass
class Delivery:
    attempts: List[Attempt] = field(default_factory=list)
    reply: Optional[Dict[str, Any]] = None  # the passive reply WeChat would show, decrypted

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]

    @property
    def acknowledged(self) -> bool:
        return self.last.status == 200


def _xml(fields: Dict[str, Any]) -> str:
    inner = "".join(f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}>{cdata(str(v))}</{k}>" for k, v in fields.items())
    return f"<xml>{inner}</xml>"


class WeChatSimulator:
    def __init__(self, url: str, token: str, aes_key: str = "", receiver_id: str = "", mode: str = "plain",
                 timeout_s: float = 5.0, attempts: int = 3, to_user: str = "gh_standin0001") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.url, self.token, self.mode = url, token, mode
        self.aes_key, self.receiver_id = aes_key, receiver_id
        self.timeout_s, self.max_attempts, self.to_user = timeout_s, attempts, to_user
        self.crypto: Any = None
        if mode == "wecom":
            self.crypto = WeComCrypto(token, aes_key, receiver_id)
        elif mode in ("compat", "safe"):
            self.crypto = MPCrypto(token, aes_key, receiver_id)
        self._ids = int(time.time() * 1000)

    # --- messages ------------------------------------------------------------
    def next_msg_id(self) -> int:
        self._ids += 1
        return self._ids

    def text(self, openid: str, content: str, msg_id: Optional[int] = None) -> str:
        return _xml({"ToUserName": self.to_user, "FromUserName": openid, "CreateTime": int(time.time()),
                     "MsgType": "text", "Content": content, "MsgId": msg_id or self.next_msg_id()})

    def message(self, openid: str, msg_type: str, **fields: Any) -> str:
        return _xml({"ToUserName": self.to_user, "FromUserName": openid, "CreateTime": int(time.time()),
                     "MsgType": msg_type, **fields, "MsgId": fields.pop("MsgId", None) or self.next_msg_id()})

    def event(self, openid: str, event: str, key: str = "", create_time: Optional[int] = None, **fields: Any) -> str:
        data: Dict[str, Any] = {"ToUserName": self.to_user, "FromUserName": openid,
                                "CreateTime": create_time or int(time.time()), "MsgType": "event", "Event": event}
        if key:
            data["EventKey"] = key
        data.update(fields)
        return _xml(data)

    def kf_notify(self, open_kfid: str, sync_token: str = "") -> str:
        return _xml({"ToUserName": self.receiver_id, "CreateTime": int(time.time()), "MsgType": "event",
                     "Event": "kf_msg_or_event", "Token": sync_token or "ENC" + secrets.token_hex(16),
                     "OpenKfId": open_kfid})

    def wecom_text(self, userid: str, content: str, agent_id: str, msg_id: Optional[int] = None) -> str:
        return _xml({"ToUserName": self.receiver_id, "FromUserName": userid, "CreateTime": int(time.time()),
                     "MsgType": "text", "Content": content, "MsgId": msg_id or self.next_msg_id(), "AgentID": agent_id})

    # --- signing -------------------------------------------------------------
    def build(self, xml: str, timestamp: Optional[int] = None, nonce: Optional[str] = None) -> Tuple[Dict[str, str], bytes]:
        """Query parameters and body exactly as WeChat sends them for this mode."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or str(secrets.randbelow(10 ** 10))
        params = {"timestamp": ts, "nonce": nonce}
        if self.mode != "wecom":
            params["signature"] = _get_signature(self.token, ts, nonce)
        if self.mode == "plain":
            params["openid"] = _openid(xml)
            return params, xml.encode("utf-8")
        sealed = parse_xml(self.crypto.encrypt_message(xml, nonce, ts))
        encrypted = str(sealed["Encrypt"])
        params["msg_signature"] = str(sealed["MsgSignature"])
        if self.mode == "wecom":
            body = _xml({"ToUserName": self.receiver_id, "Encrypt": encrypted})
        else:
            params["encrypt_type"] = "aes"
            params["openid"] = _openid(xml)
            if self.mode == "compat":  # plaintext fields plus <Encrypt>
                body = xml.replace("</xml>", f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>")
            else:
                body = _xml({"ToUserName": self.to_user, "Encrypt": encrypted})
        return params, body.encode("utf-8")

    def verification_params(self, echostr: str = "") -> Dict[str, str]:
        ts, nonce = str(int(time.time())), str(secrets.randbelow(10 ** 10))
        echostr = echostr or str(secrets.randbelow(10 ** 18))
        if self.mode == "wecom":
            sealed = parse_xml(self.crypto.encrypt_message(echostr, nonce, ts))
            return {"msg_signature": str(sealed["MsgSignature"]), "timestamp": ts, "nonce": nonce,
                    "echostr": str(sealed["Encrypt"])}
        return {"signature": _get_signature(self.token, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": echostr}

    def open_reply(self, body: str) -> Optional[Dict[str, Any]]:
        """What the user would see from a callback answer: None for success/empty."""
        if body.strip() in ("", "success"):
            return None
        outer = parse_xml(body)
        if "Encrypt" not in outer:
            return outer
        inner = self.crypto.decrypt_message(body, str(outer["MsgSignature"]), str(outer["TimeStamp"]), str(outer["Nonce"]))
        return parse_xml(inner)

    # --- delivery ------------------------------------------------------------
    def verify_url(self, echostr: str = "") -> requests.Response:
        return requests.get(self.url, params=self.verification_params(echostr), timeout=self.timeout_s)

    def deliver(self, xml: str, timestamp: Optional[int] = None) -> Delivery:
        """POST like WeChat: same signed payload, up to 3 tries, 5 s each."""
        params, body = self.build(xml, timestamp)
        result = Delivery()
        for _ in range(self.max_attempts):
            started = time.monotonic()
            try:
                answer = requests.post(self.url, params=params, data=body, timeout=self.timeout_s,
                                       headers={"Content-Type": "text/xml"})
            except requests.RequestException as error:
                result.attempts.append(Attempt(None, "", type(error).__name__, time.monotonic() - started))
                continue
            result.attempts.append(Attempt(answer.status_code, answer.text, "", time.monotonic() - started))
            if answer.status_code < 500:
                if answer.status_code == 200:
                    result.reply = self.open_reply(answer.text)
                break
        return result


def _openid(xml: str) -> str:
    return str(parse_xml(xml).get("FromUserName") or "")


def main() -> None:
    parser = argparse.ArgumentParser(description="Deliver a WeChat callback to a channel, like WeChat does.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--aes-key", default="")
    parser.add_argument("--receiver-id", default="", help="公众号 appid, or WeCom corp id")
    parser.add_argument("--mode", choices=MODES, default="plain")
    parser.add_argument("--user", default="oSIMULATEDuser000000000000001")
    parser.add_argument("--agent-id", default="1000002")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("verify")
    text = sub.add_parser("text")
    text.add_argument("content")
    event = sub.add_parser("event")
    event.add_argument("event")
    event.add_argument("--key", default="")
    kf = sub.add_parser("kf-notify")
    kf.add_argument("open_kfid")
    args = parser.parse_args()
    sim = WeChatSimulator(args.url, args.token, args.aes_key, args.receiver_id, args.mode)
    if args.command == "verify":
        answer = sim.verify_url()
        print(answer.status_code, answer.text)
        return
    if args.command == "text":
        xml = sim.wecom_text(args.user, args.content, args.agent_id) if args.mode == "wecom" else sim.text(args.user, args.content)
    elif args.command == "event":
        xml = sim.event(args.user, args.event, args.key)
    else:
        xml = sim.kf_notify(args.open_kfid)
    delivery = sim.deliver(xml)
    print(json.dumps({"attempts": [a.__dict__ for a in delivery.attempts], "reply": delivery.reply},
                     ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
