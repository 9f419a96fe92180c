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

from actions.base import Context, CustomerAction
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
        lines = "\n".join(
            fmt["prize_line"].format(name=c.prize_name(ctx.catalog), status=fmt["prize_status"].get(c.status, c.status))
            for c in claims
        )
        dispatcher.utter_message(response="utter_my_prizes_list", count=len(claims), prizes=lines)
        waiting = [c for c in claims if c.status == prizes.AWAITING_ADDRESS]
        if not waiting:
            return [SlotSet("prize_pending", False)]
        dispatcher.utter_message(response="utter_my_prizes_need_address", prize=waiting[0].prize_name(ctx.catalog))
        return [SlotSet("prize_pending", True), SlotSet("claim_id", waiting[0].id)]


# privacy: the base class keeps each accepted value in the claim record (the
# tracker store masks the slots), see actions/services/claim_vault.py
class ValidatePrizeAddressForm(claim_vault.VaultedFormValidation):
    """Each check re-asks with the reason (a response per reason) by returning None."""

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
        province, city, detail = address.split_address(value)
        if not province:
            dispatcher.utter_message(response="utter_invalid_province")
            return {"address_province": None}
        slots: Dict[Text, Any] = {"address_province": province}
        # a whole address typed at once fills the later questions too
        if city and not tracker.get_slot("address_city"):
            slots["address_city"] = city
        if city and detail and len(detail) >= 5 and not tracker.get_slot("address_detail"):
            slots["address_detail"] = detail
        return slots

    async def validate_address_city(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        city, problem = address.check_city(value, tracker.get_slot("address_province"))
        if problem:
            dispatcher.utter_message(response="utter_invalid_city")
            return {"address_city": None}
        return {"address_city": city}

    async def validate_address_detail(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> Dict[Text, Any]:
        detail, problem = address.check_detail(value)
        if problem:
            dispatcher.utter_message(response="utter_invalid_detail")
            return {"address_detail": None}
        return {"address_detail": detail}


class ActionSubmitPrizeAddress(CustomerAction):
    def name(self) -> Text:
        return "action_submit_prize_address"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        fields = {slot: str(tracker.get_slot(slot) or "") for slot in ADDRESS_SLOTS}
        claim_id = str(tracker.get_slot("claim_id") or "")
        # privacy: slots arrive masked after a turn; the raw values are the claim's drafts
        fields = await claim_vault.raw_fields(ctx.redis, claim_id, fields)
        saved = fields is not None and await prizes.save_address(ctx.redis, ctx.cid, claim_id, fields, ctx.now)
        if not saved:  # stale or foreign claim id: never write someone else's prize
            logger.warning("Address for claim %s refused for customer %s", claim_id, ctx.cid)
            dispatcher.utter_message(response="utter_prize_address_failed")
            return _reset()
        await claim_vault.clear(ctx.redis, claim_id)  # privacy: drafts served their turn
        shown_address = mask_address(fields["address_province"] + fields["address_city"] + fields["address_detail"])
        logger.info("Claim %s address saved: %s %s", claim_id, mask_phone(fields["recipient_phone"]), shown_address)
        claim = await prizes.get(ctx.redis, claim_id)
        dispatcher.utter_message(response="utter_prize_address_saved", prize=claim.prize_name(ctx.catalog),
                                 name=mask_name(fields["recipient_name"]), phone=mask_phone(fields["recipient_phone"]),
                                 address=shown_address)
        waiting = [c for c in await prizes.of_customer(ctx.redis, ctx.cid) if c.status == prizes.AWAITING_ADDRESS]
        if waiting:
            dispatcher.utter_message(response="utter_prize_more_waiting", count=len(waiting))
        return _reset()


def _reset() -> List[Dict[Text, Any]]:
    return [SlotSet(slot, None) for slot in ADDRESS_SLOTS] + [SlotSet("claim_id", None), SlotSet("prize_pending", False)]


class ActionPausePrizeForm(CustomerAction):
    """Leave the form; what was filled stays for "我的奖品" to finish later."""

    def name(self) -> Text:
        return "action_pause_prize_form"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_prize_form_paused")
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("prize_pending", False)]
