"""Namespaced sender ids: the channel a conversation came from is part of its id.

    wechat_mp:<openid>   wecom_kf:<external_userid>   wecom:<userid>   web:<session>

Only the channel that authenticated a person creates an id in its namespace
(a WeChat signature, a WeCom AES envelope, the console's signed web session).
Trusted internal callers of the REST webhook (console, `make shell`, tests,
tools) may use `web:` or an id without a namespace (kept in `rest:`); the REST
webhook refuses ids in a WeChat namespace, so not even a leaked token writes
into a WeChat customer's conversation.
"""
from __future__ import annotations

from typing import Tuple

WECHAT_MP = "wechat_mp"
WECOM_KF = "wecom_kf"
WECOM = "wecom"
WEB = "web"
REST = "rest"
WECHAT_CHANNELS = (WECHAT_MP, WECOM_KF, WECOM)  # identities WeChat vouches for
NAMESPACES = WECHAT_CHANNELS + (WEB, REST)
SEPARATOR = ":"


def make(channel: str, user_id: str) -> str:
    if channel not in NAMESPACES:
        raise ValueError(f"unknown sender namespace {channel!r}")
    return f"{channel}{SEPARATOR}{user_id}"


def split(sender_id: str) -> Tuple[str, str]:
    """(namespace, user id). An id without a known namespace is a REST caller's."""
    head, sep, tail = str(sender_id).partition(SEPARATOR)
    if sep and head in NAMESPACES and tail:
        return head, tail
    return REST, str(sender_id)


def is_wechat(sender_id: str) -> bool:
    """True when WeChat/WeCom authenticated this person (prizes, coupons, unionid)."""
    return split(sender_id)[0] in WECHAT_CHANNELS


def for_rest(sender_id: str) -> str:
    """The id a trusted REST caller's message runs under; raises for WeChat namespaces."""
    raw = str(sender_id)
    namespace, _ = split(raw)
    if namespace in WECHAT_CHANNELS:
        raise PermissionError(f"sender ids in the {namespace} namespace come only from that channel")
    # already `web:<s>` / `rest:<id>`; anything else ("foo:bar", "WECHAT_MP:x") is the caller's own id
    return raw if raw.startswith(namespace + SEPARATOR) else make(REST, raw)
