"""Reading settings from the environment, the same way in both runtimes: an
unset or blank variable, or one that is not a number, gives the default."""
from __future__ import annotations

import os


def env_str(name: str, default: str = "") -> str:
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def env_float(name: str, default: float) -> float:
    try:
        return float(env_str(name, str(default)))
    except ValueError:
        return default


def set_defaults(defaults: dict) -> None:
    """Give each unset (or blank) variable its default, before the libraries that read it load."""
    for name, value in defaults.items():
        if not env_str(name):
            os.environ[name] = value
