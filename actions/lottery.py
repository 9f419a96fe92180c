"""Lottery draw; a parcel prize starts the address form (slot prize_pending).

Campaigns that require a WeChat identity (the default) are refused to web
sessions with an honest reply: no draw, no stock spent. A retried call for the
same message returns the first draw (idempotency key), never a second one.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction, idempotency_key
from actions.services import lottery, tags


class ActionLottery(CustomerAction):
    def name(self) -> Text:
        return "action_lottery"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        no_form = [SlotSet("prize_pending", False)]
        customer_tags = await tags.tags_of(ctx.redis, ctx.cid)
        campaign = lottery.pick_campaign(ctx.catalog, customer_tags, ctx.now, wechat=ctx.wechat)
        if not campaign:
            if not ctx.wechat and lottery.pick_campaign(ctx.catalog, customer_tags, ctx.now, wechat=True):
                dispatcher.utter_message(response="utter_lottery_wechat_only")
            else:
                dispatcher.utter_message(response="utter_lottery_none_running")
            return no_form
        draw = await lottery.draw(ctx.redis, ctx.catalog, campaign, ctx.cid, ctx.now,
                                  idem_key=idempotency_key(tracker, ctx, "lottery"))
        campaign = draw.campaign  # a retried call answers for the campaign first drawn
        if draw.outcome == "limit_total":
            dispatcher.utter_message(response="utter_lottery_limit_total", campaign=campaign.name,
                                     limit=campaign.total_limit)
            return no_form
        if draw.outcome == "limit_daily":
            dispatcher.utter_message(response="utter_lottery_limit_daily", campaign=campaign.name,
                                     limit=campaign.daily_limit)
            return no_form
        if not draw.replayed:  # a retried call must not count the events twice
            await tags.on_event(ctx.redis, ctx.catalog, ctx.cid, "lottery_draw", ctx.now, campaign=campaign.id)
        if draw.outcome == "none":
            dispatcher.utter_message(response="utter_lottery_no_prize", campaign=campaign.name,
                                     left=draw.draws_left_today)
            return no_form
        if not draw.replayed:
            await tags.on_event(ctx.redis, ctx.catalog, ctx.cid, "lottery_won", ctx.now, campaign=campaign.id)
        prize = draw.prize
        if prize.kind == "physical":
            dispatcher.utter_message(response="utter_lottery_won_parcel", campaign=campaign.name, prize=prize.name)
            return [SlotSet("prize_pending", True), SlotSet("claim_id", draw.claim_id)]
        if prize.kind == "coupon":
            if draw.coupon_code:
                dispatcher.utter_message(response="utter_lottery_won_coupon", campaign=campaign.name,
                                         prize=prize.name, code=draw.coupon_code)
            else:  # never "券码 ，": say what happens instead
                dispatcher.utter_message(response="utter_lottery_won_coupon_no_code", campaign=campaign.name,
                                         prize=prize.name)
                later = "utter_coupon_codes_out" if draw.coupon_delivery == "empty" else "utter_coupon_pending"
                dispatcher.utter_message(response=later, reward=prize.name)
        else:
            dispatcher.utter_message(response="utter_lottery_won_points", campaign=campaign.name, prize=prize.name)
        return no_form
