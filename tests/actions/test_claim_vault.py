"""The prize form's raw values live in the claim record, not the tracker:
validators keep them, a resumed form gets them back, the submit saves them."""
from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import customer_context
from actions.prizes import ActionSubmitPrizeAddress, ValidatePrizeAddressForm
from actions.services import claim_vault, prizes
from common.privacy import mask_slot
from marketing_support import make_tracker, responses
from common.key_tags import MARKETING as TAG

pytestmark = pytest.mark.asyncio

FORM = "prize_address_form"
DOMAIN = {"forms": {FORM: {"required_slots": list(prizes.ADDRESS_FIELDS)}}, "slots": {}}
RAW = {"recipient_name": "王小明", "recipient_phone": "13800138000", "address_province": "浙江省",
       "address_city": "杭州市", "address_detail": "西湖区文三路100号"}
MASKED = {k: mask_slot(k, v) for k, v in RAW.items()}


async def _claim(redis, fake_clock, sender="openid-alice"):
    ctx = await customer_context(make_tracker(sender_id=sender))
    return await prizes.create(redis, ctx.cid, "spring_wheel", "mask_sample", "physical", fake_clock())


def _typed(requested, value, filled, sender="openid-alice"):
    slots = {**filled, requested: value, "requested_slot": requested}
    return make_tracker(sender_id=sender, intent="nlu_fallback", text=value, slots=slots, active_loop=FORM,
                        extra_events=[{"event": "slot", "name": requested, "value": value}])


async def test_each_validated_value_is_kept_raw_in_the_claim(redis, fake_clock):
    claim_id = await _claim(redis, fake_clock)
    await ValidatePrizeAddressForm().run(CollectingDispatcher(), _typed("recipient_phone", "138 0013 8000",
                                                                        {"claim_id": claim_id}), DOMAIN)
    await ValidatePrizeAddressForm().run(CollectingDispatcher(), _typed(
        "address_province", "浙江省杭州市西湖区文三路100号", {"claim_id": claim_id}), DOMAIN)
    stored = await redis.hgetall(f"{TAG}claim:{claim_id}")
    assert stored["draft:recipient_phone"] == "13800138000"
    assert stored["draft:address_detail"] == "西湖区文三路100号"
    assert stored["status"] == prizes.AWAITING_ADDRESS  # a draft is not an address yet


async def test_a_resumed_form_gets_its_masked_values_back_and_accepts_them(redis, fake_clock):
    claim_id = await _claim(redis, fake_clock)
    await redis.hset(f"{TAG}claim:{claim_id}", mapping={f"draft:{k}": v for k, v in RAW.items()})
    # what Rasa sends when the form re-activates with the (masked) stored slots
    tracker = make_tracker(intent="my_prizes", slots={**MASKED, "claim_id": claim_id}, active_loop=FORM,
                           extra_events=[{"event": "slot", "name": k, "value": v} for k, v in MASKED.items()])
    dispatcher = CollectingDispatcher()
    events = await ValidatePrizeAddressForm().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []  # no "invalid phone" for 138****8000
    assert SlotSet("recipient_phone", "13800138000") in events
    assert SlotSet("address_detail", "西湖区文三路100号") in events


async def test_submit_saves_the_raw_values_when_the_slots_are_masked(redis, fake_clock):
    claim_id = await _claim(redis, fake_clock)
    await redis.hset(f"{TAG}claim:{claim_id}", mapping={f"draft:{k}": v for k, v in RAW.items()})
    dispatcher = CollectingDispatcher()
    await ActionSubmitPrizeAddress().run(dispatcher, make_tracker(slots={**MASKED, "claim_id": claim_id}), {})
    assert responses(dispatcher)[0] == "utter_prize_address_saved"
    assert dispatcher.messages[0]["name"] == "王**"  # the confirmation (kept in the tracker) is masked
    stored = await redis.hgetall(f"{TAG}claim:{claim_id}")
    assert stored["recipient_phone"] == "13800138000" and stored["address_detail"] == "西湖区文三路100号"
    assert stored["status"] == prizes.ADDRESS_FILLED
    assert not [k for k in stored if k.startswith("draft:")]


async def test_a_mask_is_never_saved_as_an_address(redis, fake_clock):
    claim_id = await _claim(redis, fake_clock)  # no drafts: e.g. Redis lost them
    dispatcher = CollectingDispatcher()
    await ActionSubmitPrizeAddress().run(dispatcher, make_tracker(slots={**MASKED, "claim_id": claim_id}), {})
    assert responses(dispatcher) == ["utter_prize_address_failed"]
    stored = await redis.hgetall(f"{TAG}claim:{claim_id}")
    assert "recipient_phone" not in stored and stored["status"] == prizes.AWAITING_ADDRESS


async def test_values_are_not_kept_in_someone_elses_claim(redis, fake_clock):
    claim_id = await _claim(redis, fake_clock, sender="openid-alice")
    await ValidatePrizeAddressForm().run(CollectingDispatcher(), _typed(
        "recipient_phone", "13900139000", {"claim_id": claim_id}, sender="openid-mallory"), DOMAIN)
    assert await claim_vault.drafts(redis, claim_id) == {}
