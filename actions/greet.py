"""Greeting by member level, and a one-time welcome offer for new people.

The welcome coupon is one per customer and, by default (`requires_wechat` in
coupons.yml), only for WeChat identities: a web session is greeted without it.
A retried call for the same message repeats the first offer (idempotency key).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction, idempotency_key
from actions.services import coupons, customers, tags

WELCOME_COUPON = "welcome"
MEMBER_LEVELS = ("level:black", "level:gold", "level:silver")  # 普卡 gets the usual greeting


class ActionGreet(CustomerAction):
    def name(self) -> Text:
        return "action_greet"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        customer_tags = await tags.tags_of(ctx.redis, ctx.cid)
        level = next((t for t in MEMBER_LEVELS if t in customer_tags), None)
        if level:
            dispatcher.utter_message(response="utter_greet_member", level=ctx.catalog.tags[level].name)
            return []
        dispatcher.utter_message(response="utter_greet")
        welcome = ctx.catalog.coupons.get(WELCOME_COUPON)
        if not welcome or (welcome.requires_wechat and not ctx.wechat):
            return []
        idem_key = idempotency_key(tracker, ctx, "welcome")
        # a retry of the message that got the offer finds its first answer under the key
        retried = bool(idem_key) and bool(await ctx.redis.exists(idem_key))
        if retried or not await customers.has_history(ctx.redis, ctx.cid):
            issued = await coupons.issue(ctx.redis, ctx.catalog, ctx.cid, WELCOME_COUPON, ctx.now, idem_key=idem_key)
            if issued.status == "issued":
                dispatcher.utter_message(response="utter_welcome_offer", coupon=issued.coupon.name,
                                         benefit=issued.coupon.benefit, code=issued.code,
                                         days=issued.coupon.valid_days)
        return []
