"""一客一码: 我的邀请 (the customer's code, link and progress) and a friend's code typed in chat.

A friend arriving through a QR scene or 微信客服 link (`ref_<code>`) is counted by
actions/base.py on their first contact; "邀请码 <code>" typed by a new customer counts the
same way. The rules (new customers only, once per person, never oneself, a daily cap)
are in actions/services/referrals.py.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction
from actions.codes import entity
from actions.services import referrals

ANSWERS = {"counted": "utter_invite_counted", "capped": "utter_invite_counted", "self": "utter_invite_self",
           "duplicate": "utter_invite_not_new", "not_new": "utter_invite_not_new",
           "unknown_code": "utter_invite_unknown"}


class ActionMyInvites(CustomerAction):
    def name(self) -> Text:
        return "action_my_invites"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        if not ctx.wechat:
            dispatcher.utter_message(response="utter_invite_wechat_only")
            return []
        progress = await referrals.progress(ctx.redis, ctx.catalog, ctx.cid)
        fmt = ctx.catalog.formats
        following = (fmt["invite_next"].format(left=progress.to_next, reward=progress.next_reward.name)
                     if progress.next_reward else fmt["invite_all_done"])
        dispatcher.utter_message(response="utter_my_invites", code=progress.code, invited=progress.invited,
                                 next=following)
        link = referrals.share_link(progress.code)
        if link:
            dispatcher.utter_message(response="utter_my_invites_link", link=link)
        return []


class ActionUseInvite(CustomerAction):
    def name(self) -> Text:
        return "action_use_invite"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        code = entity(tracker, "code")
        if not code:
            dispatcher.utter_message(response="utter_invite_unknown")
            return []
        if not ctx.wechat:
            dispatcher.utter_message(response="utter_invite_wechat_only")
            return []
        found = await referrals.arrived(ctx.redis, ctx.catalog, ctx.cid, code, ctx.now)
        dispatcher.utter_message(response=ANSWERS.get(found.result, "utter_invite_unknown"))
        return []
