"""到货通知我: register the customer for the product they name (actions/services/restock.py)."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction
from actions.codes import entity
from actions.services import restock


class ActionRestockNotify(CustomerAction):
    def name(self) -> Text:
        return "action_restock_notify"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        words = entity(tracker, "query") or ""
        product = restock.find_product(ctx.catalog, words)
        if product is None:  # "到货通知我" alone: the product named in the customer's previous message
            product = restock.find_product(ctx.catalog, previous_user_text(tracker))
        if product is None or not ctx.wechat:
            dispatcher.utter_message(response="utter_restock_ask_product" if ctx.wechat else "utter_restock_wechat_only")
            return []
        await restock.subscribe(ctx.redis, ctx.cid, product)
        dispatcher.utter_message(response="utter_restock_registered", product=product.name)
        return []


def previous_user_text(tracker: Tracker) -> str:
    users = [e for e in tracker.events if e.get("event") == "user"]
    return str(users[-2].get("text") or "") if len(users) >= 2 else ""
