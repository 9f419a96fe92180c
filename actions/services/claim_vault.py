"""The prize form's raw personal values, kept only in the claim record.

The Rasa tracker store (bot/tracker_store.py) masks the form's personal slots
before a tracker is saved, so from the turn after a value was typed the action
server sees "138****8000", not the number. This module keeps the raw value
where it belongs, in the claim being filled:

* `VaultedFormValidation` (base class of the form's validation action): before
  validating, a slot value that is the masked form of the value stashed for
  this claim is turned back into the raw one (a resumed form re-validates its
  prefilled slots); after validating, every accepted personal value is written
  to the claim hash as `draft:<slot>` (only the claim's own customer, only while
  it awaits an address).
* `raw_fields` (submit): the slots' values with masked ones replaced by the
  drafts; None when a masked value has no draft (never save a mask as an address).
* `clear` (after the address is saved): the drafts go.

Keys: `claim:<id>` hash fields `draft:recipient_name`, `draft:recipient_phone`,
`draft:address_province`, `draft:address_city`, `draft:address_detail`.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

import redis.asyncio as aioredis
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.base import customer_context
from actions.services import prizes, store
from common.privacy import PERSONAL_SLOTS, mask_id, mask_slot

logger = logging.getLogger(__name__)

DRAFT = "draft:"
UNAVAILABLE_RESPONSE = "utter_service_unavailable"


def claim_key(claim_id: str) -> str:
    return f"{prizes.CLAIM_PREFIX}{claim_id}"


async def _own_waiting_claim(client: aioredis.Redis, cid: str, claim_id: str) -> bool:
    if not claim_id:
        return False
    owner, kind, status = await client.hmget(claim_key(claim_id), "customer", "kind", "status")
    return owner == cid and kind == "physical" and status == prizes.AWAITING_ADDRESS


async def drafts(client: aioredis.Redis, claim_id: str) -> Dict[str, str]:
    if not claim_id:
        return {}
    values = await client.hmget(claim_key(claim_id), *[DRAFT + s for s in PERSONAL_SLOTS])
    return {slot: value for slot, value in zip(PERSONAL_SLOTS, values) if value is not None}


async def stash(client: aioredis.Redis, cid: str, claim_id: str, values: Dict[str, Any]) -> bool:
    """Write accepted raw values into the customer's waiting claim; False if it is not theirs."""
    values = {DRAFT + k: str(v) for k, v in values.items() if k in PERSONAL_SLOTS and v not in (None, "")}
    if not values:
        return True
    if not await _own_waiting_claim(client, cid, claim_id):
        return False
    await client.hset(claim_key(claim_id), mapping=values)
    return True


def _unmasked(slot: str, value: Any, saved: Dict[str, str]) -> Any:
    raw = saved.get(slot)
    if raw is not None and isinstance(value, str) and value != raw and mask_slot(slot, raw) == value:
        return raw
    return value


async def raw_fields(client: aioredis.Redis, claim_id: str, fields: Dict[str, str]) -> Optional[Dict[str, str]]:
    """Slot values with masked ones replaced by the claim's drafts; None if a masked value has no draft."""
    saved = await drafts(client, claim_id)
    result = {}
    for slot, value in fields.items():
        raw = _unmasked(slot, value, saved)
        if slot in PERSONAL_SLOTS and "*" in str(raw or ""):
            logger.warning("Claim %s: slot %s is masked and has no stored value.", claim_id, slot)
            return None
        result[slot] = raw
    return result


async def clear(client: aioredis.Redis, claim_id: str) -> None:
    await client.hdel(claim_key(claim_id), *[DRAFT + s for s in PERSONAL_SLOTS])


class VaultedFormValidation(FormValidationAction, ABC):
    """A form validation whose personal slots round-trip through the claim record."""

    @abstractmethod
    def name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        claim_id = str(tracker.get_slot("claim_id") or "")
        candidates = [s for s in tracker.slots_to_validate() if s in PERSONAL_SLOTS]
        ctx = None
        try:
            if claim_id and _looks_masked(tracker):  # a resumed form re-validates what it had
                ctx = await customer_context(tracker)
                if await _own_waiting_claim(ctx.redis, ctx.cid, claim_id):
                    _restore(tracker, await drafts(ctx.redis, claim_id))
        except store.UNAVAILABLE as error:
            return _unavailable(dispatcher, tracker, candidates, error)
        events = await super().run(dispatcher, tracker, domain)
        accepted = {e["name"]: e["value"] for e in events
                    if e.get("event") == "slot" and e.get("name") in PERSONAL_SLOTS and e.get("value") not in (None, "")}
        if not (claim_id and accepted):
            return events  # nothing to keep (no claim: the submit refuses anyway)
        try:
            ctx = ctx or await customer_context(tracker)
            if not await stash(ctx.redis, ctx.cid, claim_id, accepted):
                logger.warning("Form values for claim %s of %s not kept: not their waiting claim.",
                               claim_id, mask_id(tracker.sender_id))
        except store.UNAVAILABLE as error:
            return _unavailable(dispatcher, tracker, list(accepted), error)
        return events


def _looks_masked(tracker: Tracker) -> bool:
    values = [tracker.slots.get(s) for s in PERSONAL_SLOTS]
    values += [e.get("value") for e in tracker.events if e.get("event") == "slot" and e.get("name") in PERSONAL_SLOTS]
    return any(isinstance(v, str) and "*" in v for v in values)


def _restore(tracker: Tracker, saved: Dict[str, str]) -> None:
    """Masked personal values in the tracker -> the raw ones of this claim (in place)."""
    if not saved:
        return
    for slot in PERSONAL_SLOTS:
        if slot in tracker.slots:
            tracker.slots[slot] = _unmasked(slot, tracker.slots[slot], saved)
    for event in tracker.events:
        if event.get("event") == "slot" and event.get("name") in PERSONAL_SLOTS:
            event["value"] = _unmasked(event["name"], event.get("value"), saved)


def _unavailable(dispatcher: CollectingDispatcher, tracker: Tracker, slots: List[str], error: Exception) -> List[Dict[Text, Any]]:
    # A value that cannot be kept in the claim must not be accepted: the tracker
    # keeps only its mask, so the form asks again once Redis is back.
    logger.error("Form validation: Redis unavailable for %s (%s)", mask_id(tracker.sender_id), type(error).__name__)
    dispatcher.utter_message(response=UNAVAILABLE_RESPONSE)
    return [SlotSet(slot, None) for slot in slots]
