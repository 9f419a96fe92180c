"""Environment knobs shared by the WeChat channels (CONTRACTS §4)."""
from __future__ import annotations

from common.env import env_float, env_str  # noqa: F401 (the channels import them from here)

DEFAULT_WECHAT_API_BASE = "https://api.weixin.qq.com"
DEFAULT_WECOM_API_BASE = "https://qyapi.weixin.qq.com"


def wechat_api_base() -> str:
    return env_str("WECHAT_API_BASE", DEFAULT_WECHAT_API_BASE).rstrip("/")


def wecom_api_base() -> str:
    return env_str("WECOM_API_BASE", DEFAULT_WECOM_API_BASE).rstrip("/")


def replay_window_s() -> float:
    """0 disables the check (e.g. to replay WeCom's 2014 documentation vectors)."""
    return env_float("WECHAT_REPLAY_WINDOW_S", 300.0)


def passive_budget_s() -> float:
    # WeChat gives up after 5 s; 4 s leaves room for the network and encryption.
    return env_float("WECHAT_PASSIVE_BUDGET_S", 4.0)


def max_body_bytes() -> int:
    # Real callbacks are a few KB even for encrypted 2048-byte texts.
    return int(env_float("WECHAT_MAX_BODY_BYTES", 65536))


def dedup_ttl_s() -> int:
    # WeChat retries within ~15 s; an hour also covers slow duplicate deliveries.
    return int(env_float("WECHAT_DEDUP_TTL_S", 3600))


def kf_dedup_ttl_s() -> int:
    # sync_msg can return up to 3 days of history if a cursor is ever lost.
    return int(env_float("WECOM_KF_DEDUP_TTL_S", 3 * 24 * 3600))


def redis_url() -> str:
    return env_str("REDIS_URL", "redis://127.0.0.1:6379/0")


def recovery_interval_s() -> float:
    """WECHAT_RECOVERY_INTERVAL_S: how often each process looks for acknowledged
    callbacks a dead worker left unanswered (bot/wechat/acked.py; 0 = never)."""
    return max(0.0, env_float("WECHAT_RECOVERY_INTERVAL_S", 2.0))
