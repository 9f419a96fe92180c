"""The parcel address form: validation with reasons, leaving it, finishing later,
and a claim's address saved once (a filled claim is never overwritten, a retried
submit answers like the first)."""
from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import customer_context
from actions.prizes import ActionMyPrizes, ActionPausePrizeForm, ActionSubmitPrizeAddress, ValidatePrizeAddressForm
from actions.services import address, claim_vault, prizes, shipping
from common import notices
from common.privacy import mask_slot
from marketing_support import make_tracker, responses

pytestmark = pytest.mark.asyncio

FORM = "prize_address_form"
DOMAIN = {"forms": {FORM: {"required_slots": ["recipient_name", "recipient_phone", "address_province",
                                               "address_city", "address_detail"]}},
          "slots": {}}


def form_tracker(requested: str, value: str, filled=None, sender="openid-alice", intent="nlu_fallback"):
    """What Rasa sends after extracting `value` for the requested slot."""
    slots = {**(filled or {}), requested: value, "requested_slot": requested}
    tracker = make_tracker(sender_id=sender, intent=intent, text=value, slots=slots, active_loop=FORM,
                           extra_events=[{"event": "slot", "name": requested, "value": value}])
    return tracker


async def validate(requested: str, value: str, filled=None, **kwargs):
    dispatcher = CollectingDispatcher()
    events = await ValidatePrizeAddressForm().run(dispatcher, form_tracker(requested, value, filled, **kwargs), DOMAIN)
    return dispatcher, events


async def test_the_division_table_covers_every_mainland_province():
    assert set(address._divisions()) == set(address.PROVINCES)
    assert "临平区" in address._divisions()["浙江省"]["杭州市"]  # 2021: the table is current
    assert not address.city_has_districts("广东省", "东莞市") and address.city_has_districts("上海市", "上海市")


# --- names ---------------------------------------------------------------------------

@pytest.mark.parametrize("typed, problem", [
    ("运费多少", "utter_invalid_name_question"),
    ("运费多少钱？", "utter_invalid_name_question"),
    ("包邮吗", "utter_invalid_name_question"),
    ("什么时候发货", "utter_invalid_name_question"),
    ("王小明123", "utter_invalid_name_digits"),
    ("13812345678", "utter_invalid_name_digits"),
    ("王", "utter_invalid_name_length"),
    ("王小明😀", "utter_invalid_name_chars"),
    ("<script>", "utter_invalid_name_chars"),
])
async def test_what_is_not_a_name_is_refused_and_the_name_asked_again(typed, problem):
    dispatcher, events = await validate("recipient_name", typed)
    assert SlotSet("recipient_name", None) in events
    assert responses(dispatcher) == [problem]


@pytest.mark.parametrize("typed", ["好的", "谢谢", "你好", "嗯嗯", "不知道", "哈哈哈"])
async def test_a_reply_that_is_not_a_name_is_refused(typed):
    # the NLU's intent is no guide here: real names read as affirm or out_of_scope
    dispatcher, events = await validate("recipient_name", typed, intent="affirm")
    assert SlotSet("recipient_name", None) in events
    assert responses(dispatcher) == ["utter_invalid_name_not_a_name"]


@pytest.mark.parametrize("typed, stored", [
    ("王小明", "王小明"), ("王芳", "王芳"), ("周杰伦", "周杰伦"), ("  欧阳 娜娜 ", "欧阳 娜娜"), ("阿卜杜·艾力", "阿卜杜·艾力"),
    ("阿卜杜•艾力", "阿卜杜·艾力"), ("Anna Müller", None), ("Tom Smith", "Tom Smith"),
])
async def test_real_names_pass(typed, stored):
    dispatcher, events = await validate("recipient_name", typed)
    if stored is None:  # letters outside Chinese and basic Latin are refused, with the reason
        assert responses(dispatcher) == ["utter_invalid_name_chars"]
        return
    assert SlotSet("recipient_name", stored) in events and dispatcher.messages == []


# --- phones --------------------------------------------------------------------------


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


@pytest.mark.parametrize("typed", ["+86 138-0013-8000", "138 0013 8000", "8613800138000", "(138)00138000"])
async def test_a_mobile_with_country_code_spaces_or_dashes_is_accepted_as_eleven_digits(typed):
    dispatcher, events = await validate("recipient_phone", typed)
    assert SlotSet("recipient_phone", "13800138000") in events
    assert dispatcher.messages == []


@pytest.mark.parametrize("typed", ["0571-88888888", "010 12345678", "88888888", "400-820-8820"])
async def test_a_landline_is_refused_with_a_clear_reason(typed):
    dispatcher, events = await validate("recipient_phone", typed)
    assert SlotSet("recipient_phone", None) in events
    assert responses(dispatcher) == ["utter_invalid_phone_landline"]


async def test_a_question_at_the_phone_question_is_not_a_number():
    dispatcher, events = await validate("recipient_phone", "运费多少")
    assert SlotSet("recipient_phone", None) in events and responses(dispatcher) == ["utter_invalid_phone_chars"]


# --- addresses -----------------------------------------------------------------------

@pytest.mark.parametrize("typed, province, city, detail", [
    ("浙江省杭州市西湖区文三路90号5楼", "浙江省", "杭州市", "西湖区文三路90号5楼"),
    ("浙江省杭州市西湖区文三路100号", "浙江省", "杭州市", "西湖区文三路100号"),
    ("杭州西湖区文三路90号", "浙江省", "杭州市", "西湖区文三路90号"),  # the province filled in
    ("上海浦东新区张江路88号3楼", "上海市", "上海市", "浦东新区张江路88号3楼"),
    ("北京市朝阳区望京SOHO塔3-1502", "北京市", "北京市", "朝阳区望京SOHO塔3-1502"),
    ("广东东莞市长安镇振安路1号", "广东省", "东莞市", "长安镇振安路1号"),  # a city without districts
    ("湖北恩施市舞阳大道8号", "湖北省", "恩施土家族苗族自治州", "恩施市舞阳大道8号"),
    ("江苏省苏州市工业园区星湖街328号", "江苏省", "苏州市", "工业园区星湖街328号"),  # a zone couriers know
    ("辽宁朝阳市双塔区1号楼", "辽宁省", "朝阳市", "双塔区1号楼"),
    ("北京朝阳区望京SOHO塔3-1502", "北京市", "北京市", "朝阳区望京SOHO塔3-1502"),  # 朝阳区 is not 朝阳市
])
async def test_a_one_line_address_at_the_province_question_fills_city_and_detail_too(typed, province, city, detail):
    dispatcher, events = await validate("address_province", typed)
    assert SlotSet("address_province", province) in events
    assert SlotSet("address_city", city) in events
    assert SlotSet("address_detail", detail) in events
    assert dispatcher.messages == []


async def test_province_city_and_district_are_read_apart():
    place = address.parse("浙江省杭州市西湖区文三路90号5楼")
    assert (place.province, place.city, place.district, place.rest) == ("浙江省", "杭州市", "西湖区", "文三路90号5楼")


async def test_a_province_alone_asks_for_the_city_next():
    _, events = await validate("address_province", "浙江")
    assert SlotSet("address_province", "浙江省") in events
    assert not [e for e in events if e["name"] in ("address_city", "address_detail")]


@pytest.mark.parametrize("typed", ["火星", "运费多少", "香港九龙弥敦道1号", "随便"])
async def test_no_mainland_province_is_refused(typed):
    dispatcher, events = await validate("address_province", typed)
    assert SlotSet("address_province", None) in events and responses(dispatcher) == ["utter_invalid_province"]


async def test_a_city_of_the_province_passes_and_a_district_given_with_it_is_kept_for_the_detail():
    dispatcher, events = await validate("address_city", "杭州西湖区", filled={"address_province": "浙江省"})
    assert SlotSet("address_city", "杭州市") in events and SlotSet("address_district", "西湖区") in events
    assert not [e for e in events if e["name"] == "address_detail"] and dispatcher.messages == []
    dispatcher, events = await validate("address_detail", "文三路90号5楼", filled={
        "address_province": "浙江省", "address_city": "杭州市", "address_district": "西湖区"})
    assert SlotSet("address_detail", "西湖区文三路90号5楼") in events and dispatcher.messages == []


async def test_a_city_of_another_province_is_refused_with_both_names():
    dispatcher, events = await validate("address_city", "广州", filled={"address_province": "浙江省"})
    assert SlotSet("address_city", None) in events
    assert responses(dispatcher) == ["utter_invalid_city_province"]
    assert dispatcher.messages[0]["province"] == "浙江省" and dispatcher.messages[0]["city"] == "广州市"


async def test_a_whole_address_at_the_city_question_corrects_the_province():
    _, events = await validate("address_city", "广东省广州市天河区体育西路1号", filled={"address_province": "浙江省"})
    assert SlotSet("address_province", "广东省") in events and SlotSet("address_city", "广州市") in events
    assert SlotSet("address_detail", "天河区体育西路1号") in events


async def test_an_unknown_city_is_refused():
    dispatcher, events = await validate("address_city", "运费多少", filled={"address_province": "浙江省"})
    assert SlotSet("address_city", None) in events and responses(dispatcher) == ["utter_invalid_city"]


@pytest.mark.parametrize("typed, problem", [
    ("3楼", "utter_invalid_detail"),
    ("西湖区", "utter_invalid_detail"),
    ("文三路90号5楼", "utter_invalid_detail_district"),  # 杭州 has districts: which one?
])
async def test_a_detail_without_street_or_district_is_refused(typed, problem):
    dispatcher, events = await validate("address_detail", typed,
                                        filled={"address_province": "浙江省", "address_city": "杭州市"})
    assert SlotSet("address_detail", None) in events and responses(dispatcher) == [problem]


async def test_a_detail_with_its_district_passes():
    dispatcher, events = await validate("address_detail", "西湖区文三路90号5楼",
                                        filled={"address_province": "浙江省", "address_city": "杭州市"})
    assert SlotSet("address_detail", "西湖区文三路90号5楼") in events and dispatcher.messages == []


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


FILLED = {"recipient_name": "王小明", "recipient_phone": "13800138000", "address_province": "浙江省",
          "address_city": "杭州市", "address_detail": "西湖区文三路90号5楼"}


def submit_tracker(claim_id: str, message_id: str, fields=None, sender="openid-alice"):
    tracker = make_tracker(sender_id=sender, slots={"claim_id": claim_id, **(fields or FILLED)})
    tracker.events[1]["message_id"] = message_id  # the user message that completed the form
    return tracker


async def test_a_filled_claim_is_never_overwritten(redis, fake_clock):
    ctx, claim_id = await _won_parcel(redis, fake_clock)
    assert await prizes.save_address(redis, ctx.cid, claim_id, FILLED, fake_clock(), key="m1") == prizes.SAVED
    other = {**FILLED, "recipient_name": "李四", "address_detail": "滨江区江南大道1号"}
    assert await prizes.save_address(redis, ctx.cid, claim_id, other, fake_clock(), key="m2") == prizes.FILLED
    claim = await prizes.get(redis, claim_id)
    assert claim.status == prizes.ADDRESS_FILLED and claim.fields == FILLED


async def test_only_a_claim_awaiting_its_address_is_written(redis, fake_clock):
    ctx, claim_id = await _won_parcel(redis, fake_clock)
    await redis.hset(f"{prizes.CLAIM_PREFIX}{claim_id}", "status", "shipped")
    assert await prizes.save_address(redis, ctx.cid, claim_id, FILLED, fake_clock(), key="m1") == prizes.FILLED
    assert "recipient_phone" not in (await prizes.get(redis, claim_id)).fields
    coupon = await prizes.create(redis, ctx.cid, "spring_wheel", "coupon_20", "coupon", fake_clock())
    assert await prizes.save_address(redis, ctx.cid, coupon, FILLED, fake_clock()) == prizes.NOT_PARCEL
    assert await prizes.save_address(redis, ctx.cid, "999", FILLED, fake_clock()) == prizes.MISSING
    assert await prizes.save_address(redis, ctx.cid, claim_id, {**FILLED, "address_city": ""},
                                     fake_clock()) == prizes.INCOMPLETE


async def test_racing_submits_write_once(redis, fake_clock):
    ctx, claim_id = await _won_parcel(redis, fake_clock)
    others = [{**FILLED, "recipient_name": name} for name in ("王小明", "李四", "张三", "赵六")]
    results = await asyncio.gather(*(prizes.save_address(redis, ctx.cid, claim_id, f, fake_clock(), key=f"m{i}")
                                     for i, f in enumerate(others)))
    assert sorted(results) == sorted([prizes.SAVED] + [prizes.FILLED] * 3)
    assert (await prizes.get(redis, claim_id)).fields == others[results.index(prizes.SAVED)]


async def test_a_retried_submit_gets_the_same_confirmation(redis, fake_clock):
    _, claim_id = await _won_parcel(redis, fake_clock)
    first, again = CollectingDispatcher(), CollectingDispatcher()
    events = await ActionSubmitPrizeAddress().run(first, submit_tracker(claim_id, "msg-1"), {})
    retried = await ActionSubmitPrizeAddress().run(again, submit_tracker(claim_id, "msg-1"), {})
    assert responses(first) == responses(again) == ["utter_prize_address_saved"]
    assert first.messages == again.messages and events == retried
    assert first.messages[0]["phone"] == "138****8000"
    assert (await prizes.get(redis, claim_id)).fields == FILLED


async def test_a_retried_submit_after_the_drafts_moved_into_the_claim_gets_the_same_confirmation(redis, fake_clock):
    # in production the slots reach the submit masked (tracker store) and the raw
    # values come from the claim's drafts, which the first submit clears
    ctx, claim_id = await _won_parcel(redis, fake_clock)
    assert await claim_vault.stash(redis, ctx.cid, claim_id, FILLED)
    masked = {slot: mask_slot(slot, value) for slot, value in FILLED.items()}
    first, again, other = CollectingDispatcher(), CollectingDispatcher(), CollectingDispatcher()
    await ActionSubmitPrizeAddress().run(first, submit_tracker(claim_id, "msg-1", fields=masked), {})
    await ActionSubmitPrizeAddress().run(again, submit_tracker(claim_id, "msg-1", fields=masked), {})
    assert responses(first) == responses(again) == ["utter_prize_address_saved"]
    assert first.messages == again.messages
    assert (await prizes.get(redis, claim_id)).fields == FILLED
    # another submit for the filled claim is told it is filled; a mask is never saved
    await ActionSubmitPrizeAddress().run(other, submit_tracker(claim_id, "msg-9", fields=masked), {})
    assert responses(other) == ["utter_prize_address_already"]
    assert (await prizes.get(redis, claim_id)).fields == FILLED
    _, fresh = await _won_parcel(redis, fake_clock)
    refused = CollectingDispatcher()
    await ActionSubmitPrizeAddress().run(refused, submit_tracker(fresh, "msg-1", fields=masked), {})
    assert responses(refused) == ["utter_prize_address_failed"]
    assert (await prizes.get(redis, fresh)).status == prizes.AWAITING_ADDRESS


async def test_a_second_different_address_for_a_filled_claim_is_refused_honestly(redis, fake_clock):
    _, claim_id = await _won_parcel(redis, fake_clock)
    await ActionSubmitPrizeAddress().run(CollectingDispatcher(), submit_tracker(claim_id, "msg-1"), {})
    other = {**FILLED, "recipient_name": "李四", "recipient_phone": "13900139000"}
    dispatcher = CollectingDispatcher()
    await ActionSubmitPrizeAddress().run(dispatcher, submit_tracker(claim_id, "msg-2", fields=other), {})
    assert responses(dispatcher) == ["utter_prize_address_already"]
    assert dispatcher.messages[0]["name"] == "王**" and dispatcher.messages[0]["phone"] == "138****8000"
    assert (await prizes.get(redis, claim_id)).fields == FILLED


async def test_no_prizes_yet(redis, fake_clock):
    dispatcher = CollectingDispatcher()
    events = await ActionMyPrizes().run(dispatcher, make_tracker(intent="my_prizes"), {})
    assert responses(dispatcher) == ["utter_my_prizes_none"] and events == [SlotSet("prize_pending", False)]


async def test_once_ops_mark_it_shipped_my_prizes_shows_the_carrier_and_tracking_number(redis, fake_clock, catalog):
    ctx, claim_id = await _won_parcel(redis, fake_clock)
    filled = {"claim_id": claim_id, "recipient_name": "王小明", "recipient_phone": "13800138000",
              "address_province": "上海市", "address_city": "上海市", "address_detail": "浦东新区张江路88号3楼"}
    await ActionSubmitPrizeAddress().run(CollectingDispatcher(), make_tracker(slots=filled), {})
    assert await shipping.mark_shipped(redis, catalog, claim_id, "顺丰", "SF1234567890", fake_clock(), "ops") == \
        shipping.SHIPPED
    shown = CollectingDispatcher()
    await ActionMyPrizes().run(shown, make_tracker(intent="my_prizes"), {})
    assert "舒缓修护面膜体验装：已发货，顺丰单号 SF1234567890" in shown.messages[0]["prizes"]
    # the winner's notice is queued in the same step (the outbound worker sends it)
    assert await redis.zscore(notices.OUTBOX, shipping.notice_id(claim_id)) is not None
