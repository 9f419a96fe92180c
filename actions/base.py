"""Shared plumbing of the customer/marketing actions: who is talking (from the
sender id's namespace, see actions.services.customers), the idempotency key of
the message being answered, and a persona apology instead of a crash when Redis
is unreachable."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Text

import redis.asyncio as aioredis
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import background
from actions.services import acquisition, clock, customers, referrals, store, tags
from actions.services.catalog import Catalog, catalog
from common.chat_commands import PACKAGE_SCENE, REFERRAL_SCENE
from common.privacy import mask_id

logger = logging.getLogger(__name__)

UNAVAILABLE_RESPONSE = "utter_service_unavailable"


def latest_user_event(tracker: Tracker) -> Dict[Text, Any]:
    """The user message being answered, as the transcript keeps it ({} if none)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event
    return {}


def latest_user_metadata(tracker: Tracker) -> Dict[Text, Any]:
    return latest_user_event(tracker).get("metadata") or {}


def message_id(tracker: Tracker) -> Optional[Text]:
    """The id Rasa gave the user message being answered: the same on a retried call."""
    found = (tracker.latest_message or {}).get("message_id")
    if found:
        return str(found)
    event = latest_user_event(tracker)
    return str(event["message_id"]) if event.get("message_id") else None


def idempotency_key(tracker: Tracker, ctx: "Context", action: Text) -> Optional[Text]:
    """`{brand}:idem:<cid>:<action>:<message id>`: where the first result of a non-idempotent
    action is kept (inside its Lua step) so a retried call returns it instead of acting
    again. None when the message has no id (nothing to deduplicate by)."""
    mid = message_id(tracker)
    return f"{store.TAG}idem:{ctx.cid}:{action}:{mid}" if mid else None


def latest_intent(tracker: Tracker) -> Optional[Text]:
    # latest_message["intent"] is what the policies saw; intent_ranking may be absent
    # (e.g. messages injected by a channel), so rasa-sdk's helper is not used.
    return (tracker.latest_message.get("intent") or {}).get("name")


@dataclass
class Context:
    """What an action needs: Redis, the catalogue, the clock and the customer."""
    redis: aioredis.Redis
    catalog: Catalog
    now: datetime
    customer: customers.Customer
    identity: customers.Identity

    @property
    def cid(self) -> str:
        return self.customer.id

    @property
    def wechat(self) -> bool:
        """WeChat authenticated this person (campaigns may require it)."""
        return self.identity.wechat


async def customer_context(tracker: Tracker) -> Context:
    client = store.get_client()
    cat = catalog()
    now = clock_now()
    ident = customers.identity_from(tracker.sender_id, latest_user_metadata(tracker))
    customer = await customers.resolve(client, ident, now)
    if customer.created:
        await tags.on_event(client, cat, customer.id, "first_seen", now, channel=ident.channel)
    if ident.wechat:  # a QR scene / 微信客服 scene_param: the way's tags and guide (锁客), once per state
        metadata = latest_user_metadata(tracker)
        state = str(metadata.get("scene_param") or metadata.get("scene") or "")
        if state.startswith(REFERRAL_SCENE):  # a friend's 一客一码 (counted once, new customers only)
            await referrals.arrived(client, cat, customer.id, state[len(REFERRAL_SCENE):], now)
        elif state and not state.startswith(PACKAGE_SCENE):  # 包裹卡 scans redeem (actions/codes.py)
            await acquisition.arrived_with_state(client, cat, customer.id, state, now)
    return Context(client, cat, now, customer, ident)


def clock_now() -> datetime:
    # Looked up at call time so tests can monkeypatch actions.services.clock.utc_now.
    return clock.utc_now()


class CustomerAction(Action, ABC):
    """Resolves the customer, runs `act`, and turns a Redis outage into the apology.
    Abstract, so rasa-sdk registers only the concrete actions."""

    @abstractmethod
    def name(self) -> Text: ...

    @abstractmethod
    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        messages_before = len(dispatcher.messages)
        background.ensure_sweeper()
        try:
            ctx = await customer_context(tracker)
            return await self.act(dispatcher, tracker, ctx)
        except store.UNAVAILABLE as error:
            logger.error("%s: Redis unavailable for %s (%s)", self.name(), mask_id(tracker.sender_id), type(error).__name__)
            # half-sent answers would contradict the apology
            del dispatcher.messages[messages_before:]
            dispatcher.utter_message(response=UNAVAILABLE_RESPONSE)
            return []
