"""Daily check-in and its status."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction
from actions.services import checkin, tags


class ActionCheckin(CustomerAction):
    def name(self) -> Text:
        return "action_checkin"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        result = await checkin.check_in(ctx.redis, ctx.catalog, ctx.cid, ctx.now)
        if result.status == "already":
            dispatcher.utter_message(response="utter_checkin_already", streak=result.streak, total=result.total)
            return []
        if result.status == "refused":  # server clock went backwards: say nothing wrong happened
            dispatcher.utter_message(response="utter_checkin_already", streak=result.streak, total=result.total)
            return []
        await tags.on_event(ctx.redis, ctx.catalog, ctx.cid, "checkin", ctx.now, streak=result.streak)
        dispatcher.utter_message(response="utter_checkin_done", streak=result.streak, total=result.total,
                                 points=ctx.catalog.checkin.points_per_day)
        for granted in result.granted:
            reward = granted.milestone.reward
            if reward.kind == "coupon":
                dispatcher.utter_message(response="utter_checkin_reward_coupon", days=granted.milestone.days,
                                         reward=reward.name, code=granted.code)
            elif reward.kind == "points":
                dispatcher.utter_message(response="utter_checkin_reward_points", days=granted.milestone.days,
                                         reward=reward.name)
            else:
                dispatcher.utter_message(response="utter_checkin_reward_parcel", days=granted.milestone.days,
                                         reward=reward.name)
        if not result.granted:
            status = await checkin.status(ctx.redis, ctx.catalog, ctx.cid, ctx.now)
            if status.next_milestone:
                dispatcher.utter_message(response="utter_checkin_next_reward", days_left=status.days_to_next,
                                         reward=status.next_milestone.reward.name)
        return []


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
        if status.next_milestone:
            dispatcher.utter_message(response="utter_checkin_next_reward", days_left=status.days_to_next,
                                     reward=status.next_milestone.reward.name)
        else:
            dispatcher.utter_message(response="utter_checkin_all_rewards")
        return []
