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

Turn log (issue 13, common/traffic_log.py): after the write, each user message
not recorded before goes, masked as stored, into the ops console's turn stream
and day counters, in one pipelined round trip (none when nothing is new). A
tracker remembers the last event already recorded (`retrieve` marks it, each
save moves the mark), so a re-save records nothing; a failing turn log is
logged and never fails the save.
"""
from __future__ import annotations

import copy
import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, get_trackers_for_conversation_sessions

from bot.redis_conn import cluster_twin
from common import redis_settings, traffic_log
from common.privacy import PERSONAL_SLOTS, mask_slot, mask_text

logger = logging.getLogger(__name__)

# Raw values of these slots are replaced wherever they appear in a text.
# (Province and city are regions, not personal: replacing "杭州" everywhere
# would only make FAQ questions unreadable.)
ECHOED_SLOTS = ("recipient_name", "recipient_phone", "address_detail")


# A bounded tracker (issue 11): every turn Rasa reads, replays, redacts and
# writes the whole tracker, and sends it to the action server, so an unbounded
# one makes turn 200 several times slower than turn 1. Past MAX_EVENTS the oldest
# turns are dropped and replaced by a snapshot of the state they left (slots, an
# active form, a paused conversation). Dropped turns are not kept anywhere: the
# FAQ inbox keeps what the bot did not understand, claim records keep prizes.
MAX_EVENTS = 100
KEEP_EVENTS = 40
# set by `retrieve` on a tracker that holds every stored event (a single session)
COMPLETE = "_store_holds_nothing_else"
# (last event, its timestamp) of a tracker whose user events are all in the turn log
# (common/traffic_log.py): set by `retrieve` and after each save, so a re-save records nothing
RECORDED = "_turn_log_has_up_to"


class RedactingRedisTrackerStore(RedisTrackerStore):
    """Rasa's RedisTrackerStore, with redaction before every write, a bounded
    tracker and the project's Redis time-outs (Rasa's own client waits forever on
    a hung Redis)."""

    def __init__(self, domain, host: Text = "localhost", port: int = 6379, db: int = 0,
                 max_events: int = MAX_EVENTS, keep_events: int = KEEP_EVENTS, **kwargs: Any) -> None:
        self.max_events = int(max_events or MAX_EVENTS)
        self.keep_events = min(int(keep_events or KEEP_EVENTS), self.max_events)
        super().__init__(domain, host=host, port=int(port or 6379), db=int(db or 0), **kwargs)
        # connections are opened lazily, so the pool's options still apply to all of them
        self.red.connection_pool.connection_kwargs.update(
            socket_timeout=redis_settings.SOCKET_TIMEOUT_S,
            socket_connect_timeout=redis_settings.CONNECT_TIMEOUT_S,
            health_check_interval=redis_settings.HEALTH_CHECK_INTERVAL_S,
        )
        self.red = cluster_twin(self.red)  # REDIS_CLUSTER=1: a cluster client, same options

    async def keys(self) -> Iterable[Text]:
        """Rasa's answer (full keys), by SCAN: KEYS asks only one node of a Redis Cluster
        (and blocks a large standalone Redis while it runs)."""
        return list(self.red.scan_iter(match=self.key_prefix + "*", count=1000))

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Rasa's retrieve (the latest session only), remembering on the tracker
        when that is the whole stored conversation: saving it then needs no
        second read and merge of the stored tracker."""
        tracker = await self.retrieve_full_tracker(sender_id)
        if tracker is None:
            return None
        sessions = get_trackers_for_conversation_sessions(tracker)
        if len(sessions) > 1:
            return _mark_recorded(sessions[-1])
        setattr(tracker, COMPLETE, True)
        return _mark_recorded(tracker)

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        """Rasa's save (merge with the stored sessions, write with the expiry),
        writing the redacted, bounded events."""
        await self.stream_events(tracker)
        given = tracker
        key = self.key_prefix + tracker.sender_id
        stored = None if getattr(tracker, COMPLETE, False) else self.red.get(key)
        prior = None
        if stored is not None:
            prior = self.deserialise_tracker(tracker.sender_id, stored)
            tracker = self._merge_trackers(prior, tracker)
        fresh = unrecorded_user_events(given, prior)
        redacted = redact_events([event.as_dict() for event in tracker.events])
        events = bounded_events(redacted, self.domain, self.max_events, self.keep_events)
        self.red.set(key, json.dumps({"events": events, "name": tracker.sender_id}),
                     ex=timeout or self.record_exp)
        if fresh:
            self._record_turns(tracker.sender_id, redacted, fresh)
        _mark_recorded(given)

    def _record_turns(self, sender_id: str, redacted: List[Dict[str, Any]], fresh: List[UserUttered]) -> None:
        """The new user messages into the turn log (masked texts: the redacted events), one
        pipelined round trip; a failure is logged and never fails the save."""
        try:
            traffic_log.record_sync(self.red, turn_records(sender_id, redacted, {e.timestamp for e in fresh}))
        except Exception as error:  # noqa: BLE001 - the turn log must never cost a conversation
            logger.warning("Turn log: %d turn(s) not recorded (%s: %s)", len(fresh), type(error).__name__, error)


def _mark_recorded(tracker: DialogueStateTracker) -> DialogueStateTracker:
    last = tracker.events[-1] if tracker.events else None
    setattr(tracker, RECORDED, (last, last.timestamp if last is not None else float("-inf")))
    return tracker


def unrecorded_user_events(tracker: DialogueStateTracker,
                           prior: Optional[DialogueStateTracker]) -> List[UserUttered]:
    """User events of `tracker` not yet in the turn log: after the event marked by `retrieve`
    or the last save (Rasa only appends events); for a tracker that came from elsewhere,
    those newer than everything stored (`prior`), or all of them when nothing is stored."""
    events = list(tracker.events)
    seen = getattr(tracker, RECORDED, None)
    if seen is not None:
        last, last_ts = seen
        new = None
        if last is not None:
            for index in range(len(events) - 1, -1, -1):
                if events[index] is last:
                    new = events[index + 1:]
                    break
        if new is None:  # the marked event is gone (a bounded deque): go by time
            new = [e for e in events if (e.timestamp or 0) > last_ts]
    elif prior is not None and prior.events:
        newest = max(e.timestamp or 0 for e in prior.events)
        new = [e for e in events if (e.timestamp or 0) > newest]
    else:
        new = events
    return [e for e in new if isinstance(e, UserUttered)]


def turn_records(sender_id: str, redacted: List[Dict[str, Any]], fresh: "set[float]") -> List[Dict[str, str]]:
    """Turn-log entries of the redacted user events whose timestamps are in `fresh`, each
    with the actions the bot ran after it (until it listened again)."""
    records = []
    for index, event in enumerate(redacted):
        if event.get("event") != "user" or event.get("timestamp") not in fresh:
            continue
        actions = []
        for later in redacted[index + 1:]:
            kind = later.get("event")
            if kind == "user" or (kind == "action" and later.get("name") == "action_listen"):
                break
            if kind == "action" and later.get("name"):
                actions.append(later["name"])
        record = traffic_log.turn(sender_id, event, actions)
        if record is not None:
            records.append(record)
    return records


def bounded_events(events: List[Dict[str, Any]], domain, max_events: int, keep_events: int) -> List[Dict[str, Any]]:
    """`events` unchanged when there are at most `max_events`; else a snapshot of
    the state before the last `keep_events` or fewer, then those events, cut
    where the bot was listening (just before a user message)."""
    if len(events) <= max_events:
        return events
    cut = _listening_cut(events, len(events) - keep_events)
    if cut is None:
        return events
    return _snapshot(events[:cut], events[cut].get("timestamp"), domain) + events[cut:]


def _listening_cut(events: List[Dict[str, Any]], earliest: int) -> Optional[int]:
    for index in range(max(earliest, 1), len(events)):
        previous = events[index - 1]
        if events[index].get("event") == "user" and previous.get("event") == "action" \
                and previous.get("name") == "action_listen":
            return index
    return None


def _snapshot(dropped: List[Dict[str, Any]], timestamp: Optional[float], domain) -> List[Dict[str, Any]]:
    """Events that recreate the state `dropped` left, as Rasa replays them."""
    state = DialogueStateTracker.from_dict("snapshot", dropped, domain.slots)
    at = (timestamp or 0.0) - 0.001  # before the kept events: Rasa's merge compares by time
    initial = {slot.name: slot.initial_value for slot in domain.slots}
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_session_start", "timestamp": at},
        {"event": "session_started", "timestamp": at},
    ]
    for name, value in state.current_slot_values().items():
        if value != initial.get(name):
            events.append({"event": "slot", "name": name, "value": value, "timestamp": at})
    if state.active_loop_name:
        events.append({"event": "active_loop", "name": state.active_loop_name, "timestamp": at})
    if state.is_paused():
        events.append({"event": "pause", "timestamp": at})
    events.append({"event": "action", "name": "action_listen", "timestamp": at})
    return events


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
