"""Daily check-in and its status.

Open to web sessions (daily points: trying the bot), while streak rewards go only
to WeChat identities (`milestones_require_wechat` in campaigns.yml). A retried
call for the same message returns the first result (idempotency key).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction, idempotency_key
from actions.services import checkin, tags
from actions.services.checkin import Granted


def _milestones_for(ctx: Context) -> bool:
    return ctx.wechat or not ctx.catalog.checkin.milestones_require_wechat


class ActionCheckin(CustomerAction):
    def name(self) -> Text:
        return "action_checkin"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        with_milestones = _milestones_for(ctx)
        result = await checkin.check_in(ctx.redis, ctx.catalog, ctx.cid, ctx.now,
                                        idem_key=idempotency_key(tracker, ctx, "checkin"),
                                        with_milestones=with_milestones)
        if result.status in ("already", "refused"):  # refused: server clock went backwards; nothing wrong happened
            dispatcher.utter_message(response="utter_checkin_already", streak=result.streak, total=result.total)
            return []
        if not result.replayed:  # a retried call must not count the event twice
            await tags.on_event(ctx.redis, ctx.catalog, ctx.cid, "checkin", ctx.now, streak=result.streak)
        dispatcher.utter_message(response="utter_checkin_done", streak=result.streak, total=result.total,
                                 points=ctx.catalog.checkin.points_per_day)
        for granted in result.granted:
            _tell_reward(dispatcher, granted)
        if not with_milestones:
            dispatcher.utter_message(response="utter_checkin_web_note")
        elif not result.granted:
            status = await checkin.status(ctx.redis, ctx.catalog, ctx.cid, ctx.now)
            if status.next_milestone:
                dispatcher.utter_message(response="utter_checkin_next_reward", days_left=status.days_to_next,
                                         reward=status.next_milestone.reward.name)
        return []


def _tell_reward(dispatcher: CollectingDispatcher, granted: Granted) -> None:
    reward, days = granted.milestone.reward, granted.milestone.days
    if reward.kind == "coupon":
        if granted.code:
            dispatcher.utter_message(response="utter_checkin_reward_coupon", days=days, reward=reward.name,
                                     code=granted.code)
            return
        dispatcher.utter_message(response="utter_checkin_reward_coupon_no_code", days=days, reward=reward.name)
        later = "utter_coupon_codes_out" if granted.delivery == "empty" else "utter_coupon_pending"
        dispatcher.utter_message(response=later, reward=reward.name)
    elif reward.kind == "points":
        dispatcher.utter_message(response="utter_checkin_reward_points", days=days, reward=reward.name)
    else:
        dispatcher.utter_message(response="utter_checkin_reward_parcel", days=days, reward=reward.name)


class ActionCheckinStatus(CustomerAction):
    def name(self) -> Text:
        return "action_checkin_status"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        status = await checkin.status(ctx.redis, ctx.catalog, ctx.cid, ctx.now)
        if status.total == 0:
            dispatcher.utter_message(response="utter_checkin_status_none")
            return []
        response = "utter_checkin_status_today" if status.checked_today else "utter_checkin_status_not_today"
        dispatcher.utter_message(response=response, streak=status.streak, total=status.total)
        if not _milestones_for(ctx):
            dispatcher.utter_message(response="utter_checkin_web_note")
        elif status.next_milestone:
            dispatcher.utter_message(response="utter_checkin_next_reward", days_left=status.days_to_next,
                                     reward=status.next_milestone.reward.name)
        else:
            dispatcher.utter_message(response="utter_checkin_all_rewards")
        return []
