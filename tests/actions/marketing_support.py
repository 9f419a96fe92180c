"""Helpers of the customer/marketing action tests (a module with its own name:
several test folders have a conftest.py, so `from conftest import` is ambiguous)."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

# TEST_REDIS_CLUSTER=1 (scripts/test.sh's second run): the suite runs on a local Redis Cluster
ON_CLUSTER = os.environ.get("TEST_REDIS_CLUSTER") == "1"


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


WECHAT_ALICE = "wechat_mp:openid-alice"  # a 公众号 customer: may draw and get the welcome coupon


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
    message_id: Optional[str] = None,
) -> Tracker:
    """A tracker as Rasa sends it; identity comes from the sender id's namespace
    (the default has none: a web identity), `channel` is only what Rasa would report. Without a
    `message_id` each tracker gets a fresh one, like each new user message."""
    import uuid
    parse = {"intent": {"name": intent, "confidence": 0.99}, "entities": entities or [], "text": text,
             "intent_ranking": [{"name": intent, "confidence": 0.99}]}
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse, "input_channel": channel, "metadata": metadata or {},
         "message_id": message_id or uuid.uuid4().hex},
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
