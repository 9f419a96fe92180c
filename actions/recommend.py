"""Product recommendation by the customer's 肤质/人群 tags; asks for the skin
type once when it is unknown and keeps the answer as a tag."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction, latest_intent
from actions.services import recommend, tags


# Words of a request that is about the price ("预算300左右买什么好"): the tag rule
# for purchase intent counts these as price questions.
PRICE_WORDS = ("多少钱", "价格", "价位", "预算", "贵不贵", "便宜", "平价", "优惠")


def skin_from_message(tracker: Tracker) -> Optional[str]:
    for value in tracker.get_latest_entity_values("skin_type"):
        skin = recommend.normalise_skin(value)
        if skin:
            return skin
    # the reply to "what is your skin type" may come without an entity
    if latest_intent(tracker) == "inform_skin_type":
        return recommend.normalise_skin(tracker.latest_message.get("text"))
    return None


class ActionRecommendProduct(CustomerAction):
    def name(self) -> Text:
        return "action_recommend_product"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        if latest_intent(tracker) == "recommend_product":
            text = tracker.latest_message.get("text") or ""
            event = "asked_price" if any(w in text for w in PRICE_WORDS) else "asked_recommendation"
            await tags.on_event(ctx.redis, ctx.catalog, ctx.cid, event, ctx.now)
        said = skin_from_message(tracker)
        if said:
            await tags.change(ctx.redis, ctx.catalog, ctx.cid, add=[f"skin:{said}"], by="customer",
                              reason="said in chat", now=ctx.now)
        customer_tags = await tags.tags_of(ctx.redis, ctx.cid)
        skin_tag = tags.first_in_group(ctx.catalog, customer_tags, "skin")
        if not skin_tag:
            dispatcher.utter_message(response="utter_ask_skin_type")
            return []
        skin = skin_tag.split(":", 1)[1]
        audiences = {t.split(":", 1)[1] for t in customer_tags if t.startswith("audience:")}
        text = self._request_text(tracker)
        picks = recommend.pick(ctx.catalog, skin, audiences, text)
        line = ctx.catalog.formats["product_line"]
        products = "\n".join(line.format(name=p.name, price=p.price, pitch=p.pitch) for p in picks)
        dispatcher.utter_message(response="utter_recommend_products", skin=ctx.catalog.formats["skin_names"][skin],
                                 products=products)
        return []

    @staticmethod
    def _request_text(tracker: Tracker) -> str:
        """The last recommend_product request (the skin-type reply has no product words)."""
        for event in reversed(tracker.events):
            if event.get("event") == "user" and (event.get("parse_data") or {}).get("intent", {}).get("name") == "recommend_product":
                return event.get("text") or ""
        return tracker.latest_message.get("text") or ""
