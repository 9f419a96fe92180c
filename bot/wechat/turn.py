"""One consumer turn on a WeChat channel: Rasa → Reply.

Text goes through bot.channels.common.handle_user_text (option selection,
input guard, persona apology on failure) with a collecting output channel;
the caller delivers the reply.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.common import flood_gate, handle_user_text, held_by_guide
from bot.wechat.outgoing import Reply, build_reply

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


async def run_turn(
    on_new_message: OnNewMessage, channel: str, sender_id: str,
    text: Optional[str], metadata: Dict[str, Any], menu_id: Optional[str] = None,
    message_id: Optional[str] = None,
) -> Reply:
    collector = CollectingOutputChannel()
    await handle_user_text(on_new_message, collector, text, sender_id, channel, metadata, menu_id, message_id)
    return build_reply(collector.messages)


NOT_TEXT = "[顾客发了一条非文字消息（图片、语音等），这里暂时看不到内容]"


async def direct_reply(channel: str, sender_id: str, text: str) -> Reply:
    """A fixed persona text (image, location… acks) that does not go to Rasa but
    still counts against the sender's flood limit; while a guide holds the
    conversation the guide is told instead and the persona says nothing."""
    collector = CollectingOutputChannel()
    if await flood_gate(collector, sender_id, channel):
        if await held_by_guide(sender_id, NOT_TEXT):
            return Reply()
        return Reply(text)
    return build_reply(collector.messages)
