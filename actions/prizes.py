"""My prizes, and the address form for parcels (name, phone, address).

The form can be left ("先不填了") and finished later from "我的奖品": filled
slots are kept until the address is saved. Phone and address reach Redis only
through the submit action, and logs only in masked form.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import Context, CustomerAction, latest_user_event
from actions.services import address, claim_vault, prizes
from common.privacy import mask_address, mask_name, mask_phone

logger = logging.getLogger(__name__)

FORM = "prize_address_form"
ADDRESS_SLOTS = list(prizes.ADDRESS_FIELDS)


class ActionMyPrizes(CustomerAction):
    def name(self) -> Text:
        return "action_my_prizes"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        claims = await prizes.of_customer(ctx.redis, ctx.cid)
        if not claims:
            dispatcher.utter_message(response="utter_my_prizes_none")
            return [SlotSet("prize_pending", False)]
        fmt = ctx.catalog.formats
        lines = "\n".join(fmt["prize_line"].format(name=c.prize_name(ctx.catalog), status=_status_text(fmt, c))
                           for c in claims)
        dispatcher.utter_message(response="utter_my_prizes_list", count=len(claims), prizes=lines)
        waiting = [c for c in claims if c.status == prizes.AWAITING_ADDRESS]
        if not waiting:
            return [SlotSet("prize_pending", False)]
        dispatcher.utter_message(response="utter_my_prizes_need_address", prize=waiting[0].prize_name(ctx.catalog))
        return [SlotSet("prize_pending", True), SlotSet("claim_id", waiting[0].id)]


def _status_text(fmt: Dict[str, Any], claim: prizes.Claim) -> str:
    if claim.status == prizes.SHIPPED and claim.shipping.get("tracking"):
        return fmt["prize_status_shipped"].format(carrier=claim.shipping.get("carrier", ""),
                                                  tracking=claim.shipping["tracking"])
    return fmt["prize_status"].get(claim.status, claim.status)


# privacy: the base class keeps each accepted value in the claim record (the
# tracker store masks the slots), see actions/services/claim_vault.py
class ValidatePrizeAddressForm(claim_vault.VaultedFormValidation):
    """Each check re-asks with the reason (a response per reason) by returning None.

    Messages that interrupt the form (questions, chitchat, check-in, handoff) never
    reach these checks: their intents fill no slot (domain.yml `not_intent`). What
    does reach them is free text, so a question the NLU was unsure of ("运费多少")
    is refused here as a name, and a whole address typed at the province or city
    question fills the later slots too.
    """

    def name(self) -> Text:
        return f"validate_{FORM}"

    async def validate_recipient_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> Dict[Text, Any]:
        name, problem = address.check_name(value)
        if problem:
            dispatcher.utter_message(response=f"utter_invalid_name_{problem}")
            return {"recipient_name": None}
        return {"recipient_name": name}

    async def validate_recipient_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> Dict[Text, Any]:
        phone, problem = address.check_phone(value)
        if problem:
            dispatcher.utter_message(response=f"utter_invalid_phone_{problem}", digits=len(phone))
            return {"recipient_phone": None}
        return {"recipient_phone": phone}

    async def validate_address_province(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> Dict[Text, Any]:
        place, problem = address.read_province(value)
        if problem or place is None:
            dispatcher.utter_message(response="utter_invalid_province")
            return {"address_province": None}
        return _slots_of(place)

    async def validate_address_city(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        province = tracker.get_slot("address_province")
        place, problem = address.read_city(value, province)
        if problem == "city_province" and place is not None:
            dispatcher.utter_message(response="utter_invalid_city_province", province=province, city=place.city)
            return {"address_city": None}
        if problem or place is None:
            dispatcher.utter_message(response="utter_invalid_city")
            return {"address_city": None}
        return _slots_of(place)

    async def validate_address_detail(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> Dict[Text, Any]:
        province = str(tracker.get_slot("address_province") or "")
        city = str(tracker.get_slot("address_city") or "")
        place, problem = address.read_detail(value, province, city, tracker.get_slot("address_district"))
        if problem:
            dispatcher.utter_message(response=f"utter_invalid_{'detail_district' if problem == 'district' else 'detail'}")
            return {"address_detail": None}
        return {"address_detail": place.detail, "address_district": place.district}


def _slots_of(place: address.Place) -> Dict[Text, Any]:
    """The slots an address answer fills: as far as it goes, and the street part
    only when it could be posted as it is."""
    slots: Dict[Text, Any] = {"address_province": place.province, "address_district": place.district}
    if place.city:
        slots["address_city"] = place.city
        if address.detail_problem(place) is None:
            slots["address_detail"] = place.detail
    return slots


def _submit_key(tracker: Tracker) -> Text:
    """The user message that completed the form: a retried submit carries the same one."""
    return str(latest_user_event(tracker).get("message_id") or "")


class ActionSubmitPrizeAddress(CustomerAction):
    """Saves the address once; a retry of the same submit (a time-out, a redelivered
    message) answers with the same confirmation instead of failing."""

    def name(self) -> Text:
        return "action_submit_prize_address"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        fields = {slot: str(tracker.get_slot(slot) or "") for slot in ADDRESS_SLOTS}
        claim_id = str(tracker.get_slot("claim_id") or "")
        key = _submit_key(tracker)
        # privacy: slots arrive masked after a turn; the raw values are the claim's drafts
        raw = await claim_vault.raw_fields(ctx.redis, claim_id, fields) if claim_id else None
        if raw is not None:
            result = await prizes.save_address(ctx.redis, ctx.cid, claim_id, raw, ctx.now, key=key)
        else:  # drafts gone: fine only for a retry of the submit that saved (and cleared) them
            result = await prizes.saved_by(ctx.redis, ctx.cid, claim_id, key)
        claim = await prizes.get(ctx.redis, claim_id) if claim_id else None
        if result not in (prizes.SAVED, prizes.REPEAT, prizes.FILLED) or claim is None:
            # stale, foreign or incomplete: never write someone else's prize
            logger.warning("Address for claim %s refused for customer %s (%s)", claim_id, ctx.cid, result)
            dispatcher.utter_message(response="utter_prize_address_failed")
            return _reset()
        await claim_vault.clear(ctx.redis, claim_id)  # privacy: drafts served their turn
        stored = claim.fields  # what the claim holds: this submit's address, or the earlier one
        shown_address = mask_address(stored.get("address_province", "") + stored.get("address_city", "")
                                     + stored.get("address_detail", ""))
        shown = {"prize": claim.prize_name(ctx.catalog), "name": mask_name(stored.get("recipient_name", "")),
                 "phone": mask_phone(stored.get("recipient_phone", "")), "address": shown_address}
        if result == prizes.FILLED:
            logger.info("Claim %s already has an address: the new one was not saved", claim_id)
            dispatcher.utter_message(response="utter_prize_address_already", **shown)
        else:
            logger.info("Claim %s address %s: %s %s", claim_id, result, shown["phone"], shown_address)
            dispatcher.utter_message(response="utter_prize_address_saved", **shown)
        waiting = [c for c in await prizes.of_customer(ctx.redis, ctx.cid) if c.status == prizes.AWAITING_ADDRESS]
        if waiting:
            dispatcher.utter_message(response="utter_prize_more_waiting", count=len(waiting))
        return _reset()


def _reset() -> List[Dict[Text, Any]]:
    return ([SlotSet(slot, None) for slot in ADDRESS_SLOTS]
            + [SlotSet("address_district", None), SlotSet("claim_id", None), SlotSet("prize_pending", False)])


class ActionPausePrizeForm(CustomerAction):
    """Leave the form; what was filled stays for "我的奖品" to finish later."""

    def name(self) -> Text:
        return "action_pause_prize_form"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_prize_form_paused")
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("prize_pending", False)]
