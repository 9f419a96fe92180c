"""The customer's coupons: every code held, several of one type when they came from
different grants (two lottery wins of the same coupon prize are two codes)."""
from __future__ import annotations

from typing import Any, Dict, List, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction
from actions.services import coupons


class ActionMyCoupons(CustomerAction):
    def name(self) -> Text:
        return "action_my_coupons"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        held = [c for c in await coupons.held(ctx.redis, ctx.catalog, ctx.cid) if not c.expired(ctx.now)]
        if not held:
            dispatcher.utter_message(response="utter_my_coupons_none")
            return []
        tz = ZoneInfo(ctx.catalog.timezone)
        line = ctx.catalog.formats["coupon_line"]
        lines = "\n".join(
            line.format(name=c.coupon.name, benefit=c.coupon.benefit, code=c.code,
                        until=c.expires_at.astimezone(tz).strftime("%Y-%m-%d"))
            for c in held
        )
        dispatcher.utter_message(response="utter_my_coupons_list", count=len(held), coupons=lines)
        return []
