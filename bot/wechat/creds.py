"""Read channel credentials from credentials.yml, falling back to the env.

credentials.yml holds `${ENV}` values (CONTRACTS §4); an empty value there
falls back to the same variable, so a channel also works when listed bare.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from bot.wechat.settings import env_str


def pick(credentials: Optional[Mapping[str, Any]], key: str, env: str, default: str = "") -> str:
    value = (credentials or {}).get(key)
    if value is not None and str(value).strip():
        return str(value).strip()
    return env_str(env, default)


def missing(values: Dict[str, str]) -> List[str]:
    return [name for name, value in values.items() if not value]
