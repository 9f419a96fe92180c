"""报名焕肤营: enrol the customer in the open camp and give day 1's tip and the rewards."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction
from actions.services import camps


class ActionJoinCamp(CustomerAction):
    def name(self) -> Text:
        return "action_join_camp"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        camp = camps.open_camp(ctx.catalog, ctx.now)
        if camp is None:
            dispatcher.utter_message(response="utter_camp_closed")
            return []
        if not ctx.wechat:
            dispatcher.utter_message(response="utter_camp_wechat_only")
            return []
        new, day = await camps.enrol(ctx.redis, ctx.catalog, camp, ctx.cid, ctx.now)
        if not new:
            dispatcher.utter_message(response="utter_camp_already", camp=camp.name, day=day)
            return []
        line = ctx.catalog.formats["camp_reward_line"]
        rewards = "\n".join(line.format(days=m.days, reward=m.reward.name) for m in ctx.catalog.checkin.milestones)
        dispatcher.utter_message(response="utter_camp_joined", camp=camp.name, days=camp.days, rewards=rewards,
                                 tip=camp.tip(1))
        return []
