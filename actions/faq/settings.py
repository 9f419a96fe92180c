"""FAQ settings: actions/faq/settings.yml (or $FAQ_SETTINGS), env overrides."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping, Optional

import yaml

SETTINGS_FILE = Path(__file__).resolve().parent / "settings.yml"


@dataclass(frozen=True)
class FaqSettings:
    answer_threshold: float = 0.86
    answer_margin: float = 0.06
    suggest_threshold: float = 0.55
    suggestions: int = 3
    fusion_rrf_k: float = 2.0
    group_threshold: float = 0.8
    group_lexical_threshold: float = 0.6
    inbox_max_len: int = 10000
    max_open_groups: int = 2000
    samples_per_group: int = 20


def load_settings(env: Optional[Mapping[str, str]] = None) -> FaqSettings:
    env = os.environ if env is None else env
    path = Path(env.get("FAQ_SETTINGS") or SETTINGS_FILE)
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}
    values = {}
    for f in fields(FaqSettings):
        cast = int if f.type in (int, "int") else float
        value = env.get(f"FAQ_{f.name.upper()}", raw.get(f.name, f.default))
        values[f.name] = cast(value)
    return FaqSettings(**values)
