"""The parcel address form: validation with reasons, leaving it, finishing later."""
from __future__ import annotations

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import customer_context
from actions.prizes import ActionMyPrizes, ActionPausePrizeForm, ActionSubmitPrizeAddress, ValidatePrizeAddressForm
from actions.services import prizes
from marketing_support import make_tracker, responses

pytestmark = pytest.mark.asyncio

FORM = "prize_address_form"
DOMAIN = {"forms": {FORM: {"required_slots": ["recipient_name", "recipient_phone", "address_province",
                                               "address_city", "address_detail"]}},
          "slots": {}}


def form_tracker(requested: str, value: str, filled=None, sender="openid-alice"):
    """What Rasa sends after extracting `value` for the requested slot."""
    slots = {**(filled or {}), requested: value, "requested_slot": requested}
    return make_tracker(sender_id=sender, intent="nlu_fallback", text=value, slots=slots, active_loop=FORM,
                        extra_events=[{"event": "slot", "name": requested, "value": value}])


async def validate(requested: str, value: str, filled=None):
    dispatcher = CollectingDispatcher()
    events = await ValidatePrizeAddressForm().run(dispatcher, form_tracker(requested, value, filled), DOMAIN)
    return dispatcher, events


@pytest.mark.parametrize("typed, problem, digits", [
    ("1381234567", "utter_invalid_phone_length", 10),
    ("23812345678", "utter_invalid_phone_prefix", 11),
    ("138abc45678", "utter_invalid_phone_chars", 11),
])
async def test_a_wrong_phone_is_asked_again_with_the_reason(typed, problem, digits):
    dispatcher, events = await validate("recipient_phone", typed)
    assert SlotSet("recipient_phone", None) in events
    assert responses(dispatcher) == [problem]
    assert dispatcher.messages[0]["digits"] == digits


async def test_a_phone_with_country_code_and_dashes_is_accepted_as_eleven_digits():
    dispatcher, events = await validate("recipient_phone", "+86 138-0013-8000")
    assert SlotSet("recipient_phone", "13800138000") in events
    assert dispatcher.messages == []


async def test_a_whole_address_at_the_province_question_fills_city_and_detail_too():
    _, events = await validate("address_province", "浙江省杭州市西湖区文三路100号")
    assert SlotSet("address_province", "浙江省") in events
    assert SlotSet("address_city", "杭州市") in events
    assert SlotSet("address_detail", "西湖区文三路100号") in events


async def test_unknown_province_and_short_detail_are_refused():
    dispatcher, events = await validate("address_province", "火星")
    assert SlotSet("address_province", None) in events and responses(dispatcher) == ["utter_invalid_province"]
    dispatcher, events = await validate("address_detail", "3楼")
    assert SlotSet("address_detail", None) in events and responses(dispatcher) == ["utter_invalid_detail"]


async def test_a_name_with_digits_is_refused():
    dispatcher, events = await validate("recipient_name", "王小明123")
    assert SlotSet("recipient_name", None) in events and responses(dispatcher) == ["utter_invalid_name_digits"]


async def _won_parcel(redis, fake_clock, sender="openid-alice"):
    ctx = await customer_context(make_tracker(sender_id=sender))
    claim_id = await prizes.create(redis, ctx.cid, "spring_wheel", "mask_sample", "physical", fake_clock())
    return ctx, claim_id


async def test_leaving_the_form_keeps_what_was_filled_and_my_prizes_resumes_it(redis, fake_clock):
    ctx, claim_id = await _won_parcel(redis, fake_clock)
    paused = CollectingDispatcher()
    events = await ActionPausePrizeForm().run(paused, make_tracker(intent="stop_form", active_loop=FORM,
                                                                   slots={"recipient_name": "王小明"}), {})
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("prize_pending", False)]
    assert responses(paused) == ["utter_prize_form_paused"]  # nothing clears recipient_name
    later = CollectingDispatcher()
    events = await ActionMyPrizes().run(later, make_tracker(intent="my_prizes"), {})
    assert responses(later) == ["utter_my_prizes_list", "utter_my_prizes_need_address"]
    assert "舒缓修护面膜体验装：待填收货地址" in later.messages[0]["prizes"]
    assert events == [SlotSet("prize_pending", True), SlotSet("claim_id", claim_id)]


async def test_submit_stores_the_address_for_fulfilment_and_clears_the_slots(redis, fake_clock):
    ctx, claim_id = await _won_parcel(redis, fake_clock)
    filled = {"claim_id": claim_id, "recipient_name": "王小明", "recipient_phone": "13800138000",
              "address_province": "上海市", "address_city": "上海市", "address_detail": "浦东新区张江路88号3楼"}
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitPrizeAddress().run(dispatcher, make_tracker(slots=filled), {})
    assert responses(dispatcher) == ["utter_prize_address_saved"]
    shown = dispatcher.messages[0]
    assert shown["phone"] == "138****8000" and shown["address"] == "上海市上海市浦东新区***"
    claim = await prizes.get(redis, claim_id)
    assert claim.status == prizes.ADDRESS_FILLED
    assert claim.fields["recipient_phone"] == "13800138000"
    assert claim.fields["address_detail"] == "浦东新区张江路88号3楼"
    assert SlotSet("recipient_phone", None) in events and SlotSet("claim_id", None) in events
    after = CollectingDispatcher()
    assert await ActionMyPrizes().run(after, make_tracker(intent="my_prizes"), {}) == [SlotSet("prize_pending", False)]
    assert "地址已登记" in after.messages[0]["prizes"]


async def test_nobody_can_fill_the_address_of_someone_elses_prize(redis, fake_clock):
    _, claim_id = await _won_parcel(redis, fake_clock, sender="openid-alice")
    filled = {"claim_id": claim_id, "recipient_name": "李四", "recipient_phone": "13900139000",
              "address_province": "北京市", "address_city": "北京市", "address_detail": "朝阳区建国路1号"}
    dispatcher = CollectingDispatcher()
    await ActionSubmitPrizeAddress().run(dispatcher, make_tracker(sender_id="openid-mallory", slots=filled), {})
    assert responses(dispatcher) == ["utter_prize_address_failed"]
    assert (await prizes.get(redis, claim_id)).status == prizes.AWAITING_ADDRESS


async def test_no_prizes_yet(redis, fake_clock):
    dispatcher = CollectingDispatcher()
    events = await ActionMyPrizes().run(dispatcher, make_tracker(intent="my_prizes"), {})
    assert responses(dispatcher) == ["utter_my_prizes_none"] and events == [SlotSet("prize_pending", False)]
