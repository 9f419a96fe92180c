"""Time in one place so tests can inject a clock; days are natural days in the
campaign time zone (midnight in Shanghai, not UTC)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def day_number(now: datetime, tz: str) -> int:
    """Ordinal of the local calendar day; consecutive days differ by exactly 1."""
    return now.astimezone(ZoneInfo(tz)).date().toordinal()


def day_of(number: int) -> date:
    return date.fromordinal(number)


def iso(now: datetime) -> str:
    return now.astimezone(timezone.utc).isoformat(timespec="seconds")
