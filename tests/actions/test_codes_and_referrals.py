"""包裹卡 codes, 一客一码 referrals and 到货通知, through the actions as Rasa calls them."""
from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.codes import ActionRedeemCode
from actions.lottery import ActionLottery
from actions.referrals import ActionMyInvites, ActionUseInvite
from actions.restock import ActionRestockNotify
from actions.services import codes, coupons, lottery, referrals, restock, tags
from common import notices
from marketing_support import kwargs_of, make_tracker, responses

pytestmark = pytest.mark.asyncio


async def batch_of(redis, catalog, fake_clock, count=3, **grants):
    spec = {"coupon": "welcome", "draws": 1, "campaign": "spring_wheel", "product": "green_serum", **grants}
    batch = codes.Batch("pkg2412", spec["coupon"], spec["draws"], spec["campaign"], spec["product"],
                        codes.expiry(fake_clock(), 30))
    assert codes.problems(catalog, batch) == []
    return await codes.create_batch(redis, batch, count, fake_clock())


async def redeem(sender: str, code: str):
    dispatcher = CollectingDispatcher()
    await ActionRedeemCode().run(dispatcher, make_tracker(sender_id=sender, intent="redeem_code",
                                                          entities=[{"entity": "code", "value": code}]), {})
    return dispatcher


async def test_a_card_pays_its_coupon_and_extra_draw_once_and_tags_the_buyer(redis, catalog, fake_clock):
    (code, *_) = await batch_of(redis, catalog, fake_clock)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)
    first = await redeem("wechat_mp:oBuyer", code)
    assert responses(first) == ["utter_code_redeemed"]
    reward = kwargs_of(first, "utter_code_redeemed")["reward"]
    cid = await redis.get("{brand}:cust:ident:wechat_mp:oBuyer")
    (held,) = await coupons.held(redis, catalog, cid)
    assert held.code in reward and "额外抽奖 1 次" in reward
    assert {"channel:package_card", "purchased:green_serum"} <= await tags.tags_of(redis, cid)
    again = await redeem("wechat_mp:oBuyer", code.lower())  # typed in lower case: the same code
    assert responses(again) == ["utter_code_redeemed_before"]
    assert len(await coupons.held(redis, catalog, cid)) == 1
    assert responses(await redeem("wecom_kf:wmSomeoneElse", code)) == ["utter_code_used"]
    assert responses(await redeem("wechat_mp:oBuyer", "ZZZZ2222")) == ["utter_code_unknown"]
    stats = await codes.batch_stats(redis, "pkg2412")
    assert (stats["scans"], stats["redeemed"], stats["used_again"], stats["codes"]) == (3, 1, 1, 3)  # the unknown code is no batch's


async def test_twenty_people_scanning_one_card_at_once_get_one_reward(redis, catalog, fake_clock):
    (code, *_) = await batch_of(redis, catalog, fake_clock, count=1)
    results = await asyncio.gather(*(redeem(f"wechat_mp:oRush{n:02d}", code) for n in range(20)))
    answers = [responses(d)[0] for d in results]
    assert answers.count("utter_code_redeemed") == 1 and answers.count("utter_code_used") == 19
    winner = answers.index("utter_code_redeemed")
    issued = [c for n in range(20) for c in await coupons.held(
        redis, catalog, await redis.get(f"{{brand}}:cust:ident:wechat_mp:oRush{n:02d}"))]
    assert len(issued) == 1
    bonus = await redis.hget(lottery.user_key("spring_wheel", await redis.get(
        f"{{brand}}:cust:ident:wechat_mp:oRush{winner:02d}")), "bonus")
    assert bonus == "1"


async def test_the_extra_draw_is_spent_only_after_the_daily_limit(redis, catalog, fake_clock):
    (code,) = await batch_of(redis, catalog, fake_clock, count=1, coupon="")
    await redeem("wechat_mp:oDrawer", code)
    said = []
    for _ in range(3):  # spring_wheel allows one draw a day: the second is the card's, the third refused
        dispatcher = CollectingDispatcher()
        await ActionLottery().run(dispatcher, make_tracker(sender_id="wechat_mp:oDrawer", intent="lottery"), {})
        said.append(responses(dispatcher)[0])
    assert said[2] == "utter_lottery_limit_daily" and "utter_lottery_limit_daily" not in said[:2]


async def test_an_expired_card_and_a_web_visitor_get_honest_answers(redis, catalog, fake_clock):
    (code,) = await batch_of(redis, catalog, fake_clock, count=1)
    assert responses(await redeem("web:visitor", code)) == ["utter_code_wechat_only"]
    fake_clock.now += timedelta(days=31)
    assert responses(await redeem("wechat_mp:oLate", code)) == ["utter_code_expired"]
    assert (await codes.batch_stats(redis, "pkg2412"))["redeemed"] == 0


async def test_a_batch_must_grant_something_real(catalog):
    assert codes.problems(catalog, codes.Batch("b1")) == ["a code must grant something: --coupon and/or --draws"]
    assert any("unknown coupon" in p for p in codes.problems(catalog, codes.Batch("b1", coupon="nope")))
    assert any("lottery campaign" in p for p in codes.problems(catalog, codes.Batch("b1", draws=1)))


async def invites(sender: str):
    dispatcher = CollectingDispatcher()
    await ActionMyInvites().run(dispatcher, make_tracker(sender_id=sender, intent="my_invites"), {})
    return dispatcher


async def arrive_with(sender: str, code: str, scene: bool = True):
    dispatcher = CollectingDispatcher()
    if scene:  # a scan of the friend's QR: any action of the first turn counts it
        tracker = make_tracker(sender_id=sender, intent="greet", metadata={"scene": f"ref_{code}"})
        await ActionMyInvites().run(dispatcher, tracker, {})
    else:
        await ActionUseInvite().run(dispatcher, make_tracker(sender_id=sender, intent="use_invite",
                                                             entities=[{"entity": "code", "value": code}]), {})
    return dispatcher


async def test_each_customer_has_one_invite_code_and_friends_count_once(redis, catalog, fake_clock):
    first = await invites("wechat_mp:oHost")
    code = kwargs_of(first, "utter_my_invites")["code"]
    assert kwargs_of(await invites("wechat_mp:oHost"), "utter_my_invites")["code"] == code  # never changes
    assert kwargs_of(first, "utter_my_invites")["invited"] == 0
    await arrive_with("wechat_mp:oFriend1", code)
    await arrive_with("wechat_mp:oFriend1", code)  # the same friend again
    typed = await arrive_with("wecom_kf:wmFriend2", code, scene=False)
    assert responses(typed) == ["utter_invite_counted"]
    assert responses(await arrive_with("wechat_mp:oHost", code, scene=False)) == ["utter_invite_self"]
    shown = kwargs_of(await invites("wechat_mp:oHost"), "utter_my_invites")
    assert shown["invited"] == 2 and "再邀请 1 位" in shown["next"]
    host = await redis.get("{brand}:cust:ident:wechat_mp:oHost")
    # the inviter is told by the outbound worker (a notice per counted friend)
    queued = [await redis.hgetall(notices.key(n)) for n in await redis.zrange(notices.OUTBOX, 0, -1)]
    assert [(n["cid"], n["kind"]) for n in queued] == [(host, "referral_joined")] * 2


async def test_a_known_customer_or_an_unknown_code_does_not_count(redis, catalog, fake_clock):
    code = kwargs_of(await invites("wechat_mp:oHost2"), "utter_my_invites")["code"]
    await invites("wechat_mp:oOldFriend")  # already a customer…
    fake_clock.now += timedelta(days=2)  # …for two days
    assert responses(await arrive_with("wechat_mp:oOldFriend", code, scene=False)) == ["utter_invite_not_new"]
    assert responses(await arrive_with("wechat_mp:oNew", "QQQQQQ", scene=False)) == ["utter_invite_unknown"]
    assert (await referrals.progress(redis, catalog, await redis.get("{brand}:cust:ident:wechat_mp:oHost2"))).invited == 0


async def test_the_third_friend_earns_the_reward_and_the_daily_cap_holds(redis, catalog, fake_clock, monkeypatch):
    code = kwargs_of(await invites("wechat_mp:oStar"), "utter_my_invites")["code"]
    star = await redis.get("{brand}:cust:ident:wechat_mp:oStar")
    capped = type(catalog.referrals)(daily_cap=3, new_within_s=86400, rewards=catalog.referrals.rewards)
    monkeypatch.setattr(catalog, "referrals", capped)
    monkeypatch.setattr("actions.base.catalog", lambda: catalog)
    for n in range(5):
        await arrive_with(f"wechat_mp:oFan{n}", code)
    progress = await referrals.progress(redis, catalog, star)
    assert progress.invited == 3  # two more arrived today, recorded but not counted
    grants = await redis.zrange("{brand}:outbox:grants", 0, -1)
    assert grants == [f"{{brand}}:grant:ref:{star}:3"]
    kinds = [(await redis.hgetall(notices.key(n)))["kind"] for n in await redis.zrange(notices.OUTBOX, 0, -1)]
    assert sorted(kinds) == ["referral_joined", "referral_joined", "referral_rewarded"]


async def test_restock_requests_name_the_product_and_ops_tell_everyone_once(redis, catalog, fake_clock):
    said = []
    for sender, words in (("wechat_mp:oWantA", "小绿瓶到货通知我"), ("wecom_kf:wmWantB", "小绿瓶修护精华有货了提醒我"),
                          ("wechat_mp:oWantA", "小绿瓶到货通知我"), ("wechat_mp:oVague", "到货通知我")):
        dispatcher = CollectingDispatcher()
        await ActionRestockNotify().run(dispatcher, make_tracker(sender_id=sender, intent="restock_notify",
                                                                 entities=[{"entity": "query", "value": words}]), {})
        said.append(responses(dispatcher)[0])
    assert said == ["utter_restock_registered"] * 3 + ["utter_restock_ask_product"]
    green = next(p for p in catalog.products if p.id == "green_serum")
    assert await restock.waiting(redis, "green_serum") == 2
    assert await restock.restocked(redis, catalog, green, fake_clock()) == 2
    assert await restock.restocked(redis, catalog, green, fake_clock()) == 0  # told once
    queued = [await redis.hgetall(notices.key(n)) for n in await redis.zrange(notices.OUTBOX, 0, -1)]
    assert sorted(n["kind"] for n in queued) == ["restock", "restock"] and "小绿瓶修护精华" in queued[0]["values"]
