"""Capabilities whose issues have not landed yet answer "coming soon".

Each entry maps an action to its persona response; an issue that builds the
capability replaces its entry with a real module (one module per capability).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

COMING_SOON: Dict[Text, Text] = {
    "action_checkin": "utter_checkin_soon",
    "action_checkin_status": "utter_checkin_status_soon",
    "action_lottery": "utter_lottery_soon",
    "action_my_prizes": "utter_my_prizes_soon",
    "action_my_coupons": "utter_my_coupons_soon",
    "action_recommend_product": "utter_recommend_soon",
    "action_human_handoff": "utter_handoff_soon",
}


class ComingSoonAction(Action):
    action_name: Text = ""

    def name(self) -> Text:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response=COMING_SOON[self.action_name])
        return []


# rasa-sdk registers every Action subclass it finds; one class per action name.
for _action, _response in COMING_SOON.items():
    globals()[f"_{_action}"] = type(f"_{_action}", (ComingSoonAction,), {"action_name": _action})
