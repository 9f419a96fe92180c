"""包裹卡 / 一物一码: "兑换 <code>" or a scan of the card's QR (common/chat_commands.py).

The code pays once (actions/services/codes.py): the customer who redeems it hears what
they got; anyone else, and a retry, an honest answer. Rewards need a WeChat identity,
like every prize: a web session cannot redeem (the code stays unused).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Context, CustomerAction
from actions.services import codes

ANSWERS = {"mine": "utter_code_redeemed_before", "used": "utter_code_used", "expired": "utter_code_expired",
           "unknown": "utter_code_unknown"}


def entity(tracker: Tracker, name: str) -> Optional[str]:
    """An entity the channel put into the intent message (never typed by a consumer)."""
    for found in tracker.latest_message.get("entities") or []:
        if found.get("entity") == name and found.get("value"):
            return str(found["value"])
    return None


class ActionRedeemCode(CustomerAction):
    def name(self) -> Text:
        return "action_redeem_code"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, ctx: Context) -> List[Dict[Text, Any]]:
        code = entity(tracker, "code")
        if not code:
            dispatcher.utter_message(response="utter_code_ask")
            return []
        if not ctx.wechat:
            dispatcher.utter_message(response="utter_code_wechat_only")
            return []
        redeemed = await codes.redeem(ctx.redis, ctx.catalog, ctx.cid, code, ctx.now)
        if redeemed.result != "redeemed":
            dispatcher.utter_message(response=ANSWERS.get(redeemed.result, "utter_code_unknown"))
            return []
        dispatcher.utter_message(response="utter_code_redeemed", reward=reward_lines(ctx, redeemed))
        return []


def reward_lines(ctx: Context, redeemed: codes.Redemption) -> str:
    fmt, batch, lines = ctx.catalog.formats, redeemed.batch, []
    if batch.coupon:
        coupon = ctx.catalog.coupons[batch.coupon]
        key = "code_reward_coupon" if redeemed.coupon_code else "code_reward_coupon_pending"
        lines.append(fmt[key].format(name=coupon.name, benefit=coupon.benefit, code=redeemed.coupon_code))
    if batch.draws:
        campaign = ctx.catalog.lottery(batch.campaign)
        lines.append(fmt["code_reward_draws"].format(campaign=campaign.name if campaign else batch.campaign,
                                                     draws=batch.draws))
    return "\n".join(lines)
