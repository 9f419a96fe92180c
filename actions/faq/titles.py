"""The question each FAQ key answers (titles.yml), for "猜你想问" options."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict

import yaml

TITLES_FILE = Path(__file__).resolve().parent / "titles.yml"


@lru_cache(maxsize=None)
def titles() -> Dict[str, str]:
    return {str(k): str(v) for k, v in (yaml.safe_load(TITLES_FILE.read_text(encoding="utf-8")) or {}).items()}


def title(key: str) -> str:
    return titles().get(key, key)
