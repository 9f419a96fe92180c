"""锁客: a guide added the customer in WeCom (issue 12, item 2).

The wecom channel turns WeCom's `change_external_contact` / `add_external_contact`
callback into the internal intent `/contact_added` for the customer's sender id
(`wecom_kf:<ExternalUserID>`: the same id 微信客服 uses), with the event in the
message metadata. The customer is bound to that guide the first time, gets the
tags of the way they scanned, and the welcome this action says goes back to the
channel, which sends it with `externalcontact/send_welcome_msg` inside WeCom's
20-second window.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction, latest_user_metadata
from actions.services import acquisition
from common import handoff_routing as routing

logger = logging.getLogger(__name__)

CHANNEL = "wecom"  # only the WeCom app channel sends this intent (bot/channels/wecom.py)


class ActionContactAdded(CustomerAction):
    def name(self) -> Text:
        return "action_contact_added"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        event = latest_user_metadata(tracker).get("contact_event") or {}
        guide = str(event.get("guide") or "")
        if tracker.get_latest_input_channel() != CHANNEL or not guide:
            return []  # not the channel's event: nothing to bind, nothing to say
        arrival = await acquisition.contact_added(ctx.redis, ctx.catalog, ctx.cid, guide,
                                                  str(event.get("state") or ""), ctx.now)
        logger.info("锁客: %s added by a guide (bound now: %s, %d tags).", ctx.cid, arrival.bound_now,
                    len(arrival.tags_added))
        if arrival.welcome:
            dispatcher.utter_message(text=arrival.welcome)
        else:
            known = routing.current_roster().guide(guide)
            dispatcher.utter_message(response="utter_contact_welcome", guide=known.name if known else "你的专属导购")
        return []
