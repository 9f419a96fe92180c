"""What a guide types in the WeCom app about a conversation they hold.

`#12 内容` sends 内容 to the customer of handoff 12; `#12 结束` ends it and gives the
conversation back to the persona. Anything without `#<id>` is a question for the bot,
as before. Only the guide holding a conversation may speak in it.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Optional

from common import handoff_routing as routing
from common import handoff_session as session

COMMAND = re.compile(r"^\s*[#＃]\s*(\d+)\s*(.*)$", re.S)
END_WORDS = {"结束", "结束接待", "完成", "end", "END", "End"}


async def handle(redis: Any, userid: str, text: str, now: datetime) -> Optional[str]:
    """None when the text is not a handoff command; else what to tell the guide ('' = nothing)."""
    found = COMMAND.match(text or "")
    if not found:
        return None
    request_id, body = found.group(1), found.group(2).strip()
    roster = routing.current_roster()
    guide = roster.guide(userid)
    if guide is None:
        return "你还不在导购名单里，不能接待顾客。"
    if not body:
        return f"回复「#{request_id} 内容」发给顾客，「#{request_id} 结束」结束接待。"
    details = await session.details(redis, request_id)
    if details.get("guide") != userid or details.get("status") != "assigned":
        if details.get("status") == "ended":
            return f"#{request_id} 已经结束了。"
        return f"#{request_id} 不是你正在接待的对话。"
    if body in END_WORDS:
        await routing.free_and_offer(redis, roster, guide, now, freed_request=request_id, outcome="guide_ended")
        return ""  # the outbox confirms once the persona is back
    appended = await session.append(redis, roster, request_id, session.GUIDE, body, now, guide=userid)
    if appended.ok:
        return ""
    return {"ended": f"#{request_id} 已经结束了。", "full": f"#{request_id} 消息太多，请在控制台继续。"}.get(
        appended.refused, f"#{request_id} 不是你正在接待的对话。")
