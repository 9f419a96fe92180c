"""The CLICK-key and event → intent map kept in bot/wechat/menu.yml."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional

import yaml

MENU_FILE = Path(__file__).with_name("menu.yml")


@lru_cache(maxsize=None)
def _load(path: str) -> Dict[str, Dict[str, str]]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {section: {str(k): str(v) for k, v in (raw.get(section) or {}).items()} for section in ("click", "events")}


def _menu() -> Dict[str, Dict[str, str]]:
    return _load(os.environ.get("WECHAT_MENU_FILE") or str(MENU_FILE))


def intent_for_click(event_key: str) -> Optional[str]:
    return _menu()["click"].get(event_key)


def intent_for_event(event: str) -> str:
    return _menu()["events"].get(event, "/greet")
