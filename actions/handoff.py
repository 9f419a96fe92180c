"""Human handoff (转人工) and complaints (issue 12).

The customer's request is routed in one Lua step (common/handoff_routing.py): their
bound guide (锁客), else a guide of their store, else anyone on duty, else the FIFO
queue. What the persona says is what happened: the guide's name and how soon they
answer, or the place in the queue, or when guides are back. The guide is told by the
worker on the Rasa side (bot/handoff/worker.py) from the outbox entry the same step
wrote, so a crash between "assigned" and "told" loses nothing.

While a guide holds the conversation the bot is paused (`ConversationPaused` here,
and the channels hand the customer's messages to the guide instead of to Rasa).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction, latest_intent, latest_user_event, latest_user_metadata
from actions.services import customers, store, tags
from common import handoff_routing as routing
from common.lua_script import LuaScript

logger = logging.getLogger(__name__)

WEEKDAYS = "一二三四五六日"
ASKED, COMPLAINT, BOT_FAILED = "asked", "complaint", "bot_failed_twice"
COMPLAINTS = routing.COMPLAINTS
COMPLAINTS_MAX = 10_000

# KEYS: the message's marker, the complaints stream, the ops alerts stream.
# ARGV: marker TTL, max length, customer id, then field/value pairs.
# A retried action call (same message id) finds the marker and adds nothing. The alert is what
# makes "someone will follow up" true: `scripts/ops.py alerts` is ops' to-do list.
_RECORD_COMPLAINT = LuaScript("""
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'type', 'complaint', 'customer', ARGV[3], 'complaint', id)
return id
""")


FAILED_ANSWERS = {"utter_faq_no_match", "utter_out_of_scope", "utter_nlu_fallback"}


def failed_last_time(tracker: Tracker) -> bool:
    """The bot's answer to the previous message was "I don't know" (the second failure
    in a row hands the customer to a guide)."""
    users_seen = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            users_seen += 1
            if users_seen > 2:
                return False
        elif kind == "bot" and users_seen == 1:
            if (event.get("metadata") or {}).get("utter_action") in FAILED_ANSWERS:
                return True
    return False


def reason_of(tracker: Tracker) -> str:
    return COMPLAINT if latest_intent(tracker) == "complain" else ASKED


def next_opening(roster: routing.Roster, now: datetime) -> str:
    """When the first guide is next on duty, as the persona says it: 今天 18:00 / 明天 09:00 / 周一 09:00."""
    local = now.astimezone(ZoneInfo(roster.timezone))
    for offset in range(8):
        day = local + timedelta(days=offset)
        starts = sorted(span[0] for g in roster.guides for wd, span in g.hours.items()
                        if wd == day.weekday() and (offset or span[0] > local.time()))
        if starts:
            when = "今天" if offset == 0 else "明天" if offset == 1 else "周" + WEEKDAYS[day.weekday()]
            return f"{when} {starts[0].strftime('%H:%M')} 上班"
    return "上班时间另行通知"


async def guide_context(ctx: Context, tracker: Tracker) -> str:
    """What the guide's notification shows about the customer (rendered here: the catalogue
    lives here), and where to reach them (the 微信客服 account they wrote to)."""
    profile = await customers.profile(ctx.redis, ctx.cid)
    shown = sorted(tags.display(ctx.catalog, t) for t in await tags.tags_of(ctx.redis, ctx.cid))
    context = {"name": profile.get("name", ""), "level": profile.get("level", ""), "tags": shown}
    open_kfid = latest_user_metadata(tracker).get("open_kfid")
    if open_kfid:
        context["open_kfid"] = str(open_kfid)
    return json.dumps(context, ensure_ascii=False)


async def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context, reason: str) -> List[Dict[Text, Any]]:
    roster = routing.current_roster()
    if not roster.guides:
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return []
    profile = await customers.profile(ctx.redis, ctx.cid)
    bound = roster.guide(profile.get("guide", ""))
    group = bound.group if bound else profile.get("group", "")
    routed = await routing.request(
        ctx.redis, roster, ctx.cid, ctx.now, group=group, sender=tracker.sender_id,
        channel=tracker.get_latest_input_channel() or "", reason=reason, context=await guide_context(ctx, tracker))
    logger.info("Handoff %s for %s: %s %s (position %d).", routed.request_id, ctx.cid, routed.verdict,
                routed.guide or "-", routed.position)
    if routed.status == "assigned":
        guide = roster.guide(routed.guide)
        dispatcher.utter_message(response="utter_handoff_assigned", guide=guide.name if guide else "导购",
                                 minutes=str(max(1, round(roster.reply_timeout_min))))
        return [ConversationPaused()]
    if not roster.on_duty(ctx.now):
        dispatcher.utter_message(response="utter_handoff_after_hours", hours=next_opening(roster, ctx.now),
                                 position=str(routed.position))
    else:
        dispatcher.utter_message(response="utter_handoff_queued", position=str(routed.position),
                                 ahead=str(max(0, routed.position - 1)))
    return []


class ActionHumanHandoff(CustomerAction):
    def name(self) -> Text:
        return "action_human_handoff"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        return await hand_off(dispatcher, tracker, ctx, reason_of(tracker))


async def record_complaint(ctx: Context, tracker: Tracker) -> Optional[str]:
    """One stream entry per complaint message; returns its id (None when already recorded)."""
    event = latest_user_event(tracker)
    mid = str(event.get("message_id") or ctx.now.timestamp())
    fields = {"customer": ctx.cid, "text": str(event.get("text") or "")[:500], "at": ctx.now.isoformat(),
              "channel": tracker.get_latest_input_channel() or "", "message_id": mid}
    found = await _RECORD_COMPLAINT(ctx.redis, [f"{COMPLAINTS}:seen:{mid}", COMPLAINTS, store.ALERTS],
                                    [86400, COMPLAINTS_MAX, ctx.cid, *[v for pair in fields.items() for v in pair]])
    return found or None


class ActionComplain(CustomerAction):
    """A complaint is recorded for ops (scripts/ops.py complaints), not just acknowledged."""

    def name(self) -> Text:
        return "action_complain"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        await record_complaint(ctx, tracker)
        dispatcher.utter_message(response="utter_complaint_recorded")
        return []
