"""Authenticate WeChat/WeCom callbacks: replay window, signatures, AES.

Every failure raises `Forbidden` (the channel answers 403 and nothing reaches
Rasa). Crypto itself is wechatpy's; this module decides what to check, in
which order, and turns wechatpy's many exception types into one.
"""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from wechatpy.crypto import WeChatCrypto as MPCrypto
from wechatpy.utils import WeChatSigner
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from bot.wechat.settings import replay_window_s


class Forbidden(Exception):
    """Signature, key, replay window or receiver id did not check out."""


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def sign(*values: str) -> str:
    """WeChat's signature: sha1 over the sorted, concatenated values."""
    signer = WeChatSigner()
    signer.add_data(*values)
    return signer.signature


def check_timestamp(timestamp: Optional[str], window_s: Optional[float] = None, now: Optional[float] = None) -> None:
    window = replay_window_s() if window_s is None else window_s
    try:
        stamp = int(str(timestamp))
    except (TypeError, ValueError):
        raise Forbidden("missing or non-numeric timestamp")
    if window > 0 and abs((now or time.time()) - stamp) > window:
        raise Forbidden(f"timestamp {stamp} outside the {window:.0f}s replay window")


def check_plain_signature(token: str, params: Mapping[str, str]) -> None:
    """公众号 `signature` = sha1(sorted(token, timestamp, nonce))."""
    expected = sign(token, params.get("timestamp", ""), params.get("nonce", ""))
    if not _same(expected, params.get("signature", "")):
        raise Forbidden("bad signature")


def _check_msg_signature(token: str, params: Mapping[str, str], encrypted: str) -> None:
    expected = sign(token, params.get("timestamp", ""), params.get("nonce", ""), encrypted)
    if not _same(expected, params.get("msg_signature", "")):
        raise Forbidden("bad msg_signature")


@dataclass(frozen=True)
class AesEnvelope:
    """Token + EncodingAESKey + receiver id (公众号 appid or WeCom corp id)."""

    token: str
    aes_key: str
    receiver_id: str
    enterprise: bool

    def _crypto(self) -> Any:
        try:
            cls = WeComCrypto if self.enterprise else MPCrypto
            return cls(self.token, self.aes_key, self.receiver_id)
        except Exception as error:  # bad key length / base64: a config error
            raise Forbidden(f"unusable EncodingAESKey ({type(error).__name__})")

    def decrypt(self, params: Mapping[str, str], encrypted: str) -> str:
        """Check msg_signature over the ciphertext, then decrypt and check the receiver id."""
        _check_msg_signature(self.token, params, encrypted)
        crypto = self._crypto()
        try:
            # A wrong key yields garbage padding/lengths; any failure is a refusal.
            return crypto._decrypt_message(
                {"Encrypt": encrypted}, params.get("msg_signature", ""),
                params.get("timestamp", ""), params.get("nonce", ""),
                _prp_class(self.enterprise),
            )
        except Exception as error:
            raise Forbidden(f"decryption failed ({type(error).__name__})")

    def encrypt(self, xml: str, nonce: str, timestamp: Optional[str] = None) -> str:
        return self._crypto().encrypt_message(xml, nonce, timestamp)


def _prp_class(enterprise: bool) -> Any:
    if enterprise:
        from wechatpy.enterprise.crypto import PrpCrypto
    else:
        from wechatpy.crypto import PrpCrypto
    return PrpCrypto


def query_params(args: Mapping[str, Any]) -> Dict[str, str]:
    """Sanic's request.args holds lists; keep the first value of each."""
    out: Dict[str, str] = {}
    for key in args:
        value = args.get(key)
        out[key] = value if isinstance(value, str) else (value[0] if value else "")
    return out
