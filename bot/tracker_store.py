"""A Redis tracker store that never persists a raw phone number, address or name.

Configured in endpoints.yml (`tracker_store: type: bot.tracker_store.RedactingRedisTrackerStore`);
Rasa passes it the same arguments as its own `redis` type (host from `url`,
port, db, password, key_prefix, record_exp).

Design (why the raw values still reach fulfilment):

* Rasa handles a message on an in-memory tracker: the user's text, the slots
  extracted from it and the form validation (action server) all see the raw
  value within that turn. Only at the end of the turn the tracker is saved.
* `save` redacts a copy before it is written (the in-memory tracker is left
  alone): every user text (and its parse data: text, entity values), every bot
  text and every text slot goes through `common.privacy.mask_text`; the prize
  form's personal slots (`common.privacy.PERSONAL_SLOTS`) are masked with
  `mask_slot`; a user message that answered a personal slot's question (the
  form's `requested_slot`) is masked as that slot, whatever it looks like
  (fails closed: "一三八…" as a phone is hidden whole); raw personal values seen
  anywhere in this tracker are replaced in every text too (a name echoed back).
* So from the next turn on the tracker, and the action server with it, sees
  masked slot values. The raw values live only in the claim record: the form's
  validator writes each validated value into the claim hash
  (`actions/services/claim_vault.py`, `draft:<slot>` fields), turns a masked
  slot value back into the raw one when the form resumes, and the submit
  action reads the raw values from there.
* `record_exp` (30 days, refreshed by every message) stays: with nothing raw
  in the tracker, keeping the conversation for context is harmless.

Masking is idempotent, so Rasa's merge of the stored tracker with the new one
(event by event) sees the stored events unchanged.
"""
from __future__ import annotations

import copy
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from common import redis_settings
from common.privacy import PERSONAL_SLOTS, mask_slot, mask_text

logger = logging.getLogger(__name__)

# Raw values of these slots are replaced wherever they appear in a text.
# (Province and city are regions, not personal: replacing "杭州" everywhere
# would only make FAQ questions unreadable.)
ECHOED_SLOTS = ("recipient_name", "recipient_phone", "address_detail")


class RedactingRedisTrackerStore(RedisTrackerStore):
    """Rasa's RedisTrackerStore, with redaction before every write and the
    project's Redis time-outs (Rasa's own client waits forever on a hung Redis)."""

    def __init__(self, domain, host: Text = "localhost", port: int = 6379, db: int = 0, **kwargs: Any) -> None:
        super().__init__(domain, host=host, port=int(port or 6379), db=int(db or 0), **kwargs)
        # connections are opened lazily, so the pool's options still apply to all of them
        self.red.connection_pool.connection_kwargs.update(
            socket_timeout=redis_settings.SOCKET_TIMEOUT_S,
            socket_connect_timeout=redis_settings.CONNECT_TIMEOUT_S,
            health_check_interval=redis_settings.HEALTH_CHECK_INTERVAL_S,
        )

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        await super().save(redacted_tracker(tracker, self.domain), timeout)


def redacted_tracker(tracker: DialogueStateTracker, domain) -> DialogueStateTracker:
    events = redact_events([event.as_dict() for event in tracker.events])
    return DialogueStateTracker.from_dict(
        tracker.sender_id, events, domain.slots, max_event_history=tracker._max_event_history,
    )


def redact_events(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Copies of serialised Rasa events with personal data masked (see module doc)."""
    answers = _personal_answers(events)
    echoed = _echoed_values(events, answers)
    redacted = []
    for index, event in enumerate(events):
        event = copy.deepcopy(event)
        kind = event.get("event")
        if kind == "user":
            _redact_user(event, answers.get(index), echoed)
        elif kind == "bot":
            if isinstance(event.get("text"), str):
                event["text"] = _mask(event["text"], echoed)
        elif kind == "slot":
            event["value"] = _mask_slot_value(event.get("name", ""), event.get("value"), echoed)
        elif kind == "action" and isinstance(event.get("action_text"), str):
            event["action_text"] = _mask(event["action_text"], echoed)
        redacted.append(event)
    return redacted


def _personal_answers(events: List[Dict[str, Any]]) -> Dict[int, str]:
    """Index of each user event that answered a personal slot's question -> that slot."""
    answers: Dict[int, str] = {}
    active_loop: Optional[str] = None
    requested: Optional[str] = None
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "active_loop":
            active_loop = event.get("name")
            if not active_loop:
                requested = None
        elif kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind in ("restart", "session_started"):
            active_loop, requested = None, None
        elif kind == "user" and active_loop and requested in PERSONAL_SLOTS:
            answers[index] = str(requested)
    return answers


def _echoed_values(events: List[Dict[str, Any]], answers: Dict[int, str]) -> Dict[str, str]:
    """Raw personal values in these events -> their masked form (longest first)."""
    found: Dict[str, str] = {}
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "slot" and event.get("name") in ECHOED_SLOTS and isinstance(event.get("value"), str):
            value = event["value"].strip()
            masked = mask_slot(event["name"], value)
            if len(value) >= 2 and masked != value:
                found[value] = masked
        elif kind == "user" and answers.get(index) in ECHOED_SLOTS:
            value = str(event.get("text") or "").strip()
            masked = mask_slot(answers[index], value)
            if len(value) >= 2 and masked != value:
                found[value] = masked
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def _mask(text: str, echoed: Dict[str, str]) -> str:
    for raw, masked in echoed.items():
        if raw in text:
            text = text.replace(raw, masked)
    return mask_text(text)


def _mask_slot_value(name: str, value: Any, echoed: Dict[str, str]) -> Any:
    if name in PERSONAL_SLOTS:
        return mask_slot(name, value)
    if isinstance(value, str):
        return _mask(value, echoed)
    if isinstance(value, list):
        return [_mask(v, echoed) if isinstance(v, str) else v for v in value]
    return value


def _redact_user(event: Dict[str, Any], answered: Optional[str], echoed: Dict[str, str]) -> None:
    def masked(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        return mask_slot(answered, text) if answered else _mask(text, echoed)

    event["text"] = masked(event.get("text"))
    parse = event.get("parse_data")
    if isinstance(parse, dict):
        if "text" in parse:
            parse["text"] = masked(parse["text"])
        for entity in parse.get("entities") or []:
            if isinstance(entity, dict):
                for field in ("value", "text"):
                    if field in entity:
                        entity[field] = masked(entity[field])
