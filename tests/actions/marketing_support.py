"""Helpers of the customer/marketing action tests (a module with its own name:
several test folders have a conftest.py, so `from conftest import` is ambiguous)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


class FakeClock:
    """Injected time: tests set local Shanghai wall-clock times."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 10, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, text: str) -> datetime:
        from zoneinfo import ZoneInfo
        self.now = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        return self.now


def make_tracker(
    sender_id: str = "openid-alice",
    intent: str = "greet",
    text: str = "",
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    channel: str = "wechat_mp",
    metadata: Optional[Dict[str, Any]] = None,
    active_loop: Optional[str] = None,
    extra_events: Optional[List[Dict[str, Any]]] = None,
) -> Tracker:
    parse = {"intent": {"name": intent, "confidence": 0.99}, "entities": entities or [], "text": text,
             "intent_ranking": [{"name": intent, "confidence": 0.99}]}
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse, "input_channel": channel, "metadata": metadata or {}},
    ] + (extra_events or [])
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=parse,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def responses(dispatcher: CollectingDispatcher) -> List[str]:
    return [m["response"] for m in dispatcher.messages]


def kwargs_of(dispatcher: CollectingDispatcher, response: str) -> Dict[str, Any]:
    return next(m for m in dispatcher.messages if m["response"] == response)
