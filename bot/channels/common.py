"""What every input channel does with a consumer's message.

Resolve a reply to the options the bot offered last (number, title or
payload), otherwise guard the text; hand it to Rasa; remember the options of
the answer; and if Rasa fails (Redis down, a bug) send the persona's apology
instead of silence or a stack trace.
"""
from __future__ import annotations

import logging
import time
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage

from bot.action_guard import deliver_late_results
from bot.channels import options
from bot.flood import Verdict, sender_limiter
from bot.handoff.gate import relay_if_held
from bot.input_guard import guard
from bot.persona import system_text
from common.privacy import mask_id
from bot.redis_conn import get_redis
from common import chat_commands, contact_state, sender

logger = logging.getLogger(__name__)


def service_apology_text() -> str:
    return system_text("service_apology")


async def handle_user_text(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    output_channel: OutputChannel,
    text: Optional[str],
    sender_id: str,
    input_channel: str,
    metadata: Optional[Dict[str, Any]] = None,
    menu_id: Optional[str] = None,
    message_id: Optional[str] = None,
) -> bool:
    """Process one consumer message; returns False if the apology was sent instead.

    message_id: the channel's own id of the message (stable across WeChat
    retries and takeovers), so actions' idempotency keys repeat no effect."""
    if not await flood_gate(output_channel, sender_id, input_channel):
        return True
    command = await note_contact(sender_id, text, metadata or {})
    if await held_by_guide(sender_id, text or ""):
        return True
    if command:
        await output_channel.send_text_message(sender_id, system_text(f"contact_{command}"))
        return True
    metadata = dict(metadata or {})
    message_text = await _selected_option(input_channel, sender_id, text, menu_id)
    command = chat_commands.typed(text) if message_text is None else None
    if message_text is not None:
        metadata["selected_option"] = text or menu_id
    elif command is not None:  # a code or a fixed request: its entities come from us, not the guard
        message_text = command
    else:
        guarded = guard(text)
        message_text = guarded.text
        if guarded.reason:
            logger.info(
                "Input from %s on %s adjusted: %s (%d chars).",
                mask_id(sender_id), input_channel, guarded.reason, len(text or ""),
            )
    await deliver_late_results(output_channel, sender_id)  # what a timed-out action said after all
    try:
        await on_new_message(
            UserMessage(message_text, output_channel, sender_id, input_channel=input_channel,
                        message_id=message_id, metadata=metadata)
        )
    except CancelledError:
        raise
    except Exception:
        logger.exception("Handling a message from %s on %s failed.", mask_id(sender_id), input_channel)
        await output_channel.send_text_message(sender_id, service_apology_text())
        return False
    if isinstance(output_channel, CollectingOutputChannel):
        await _remember_options(input_channel, sender_id, output_channel.messages)
    return True


async def flood_gate(output_channel: OutputChannel, sender_id: str, input_channel: str) -> bool:
    """False when the sender is over the flood limit: the first such message gets
    one persona reply, later ones nothing; neither reaches NLU."""
    verdict = await sender_limiter().hit(get_redis(), sender_id)
    if verdict is Verdict.ALLOW:
        return True
    if verdict is Verdict.NOTICE:
        logger.warning("Flood limit: %s on %s throttled.", mask_id(sender_id), input_channel)
        await output_channel.send_text_message(sender_id, system_text("throttled"))
    return False


async def note_contact(sender_id: str, text: Optional[str], metadata: Dict[str, Any]) -> Optional[str]:
    """Start the customer's 48-hour window (common/contact_state) and apply 退订/订阅.
    Returns "optout"/"optin" when the message was one of those (it goes no further).
    Bookkeeping must never lose the message: a Redis failure only logs."""
    if not sender.is_wechat(sender_id) or sender.split(sender_id)[0] == sender.WECOM:
        return None  # guides (wecom:) and web visitors get no proactive messages
    command = contact_state.opt_command(text)
    try:
        redis = get_redis()
        await contact_state.record_inbound(redis, sender_id, time.time(), str(metadata.get("open_kfid") or ""))
        if command:
            await contact_state.set_opt_out(redis, sender_id, command == "optout")
            logger.info("Contact preference of %s: %s.", mask_id(sender_id), command)
    except Exception as error:
        logger.warning("Contact state of %s not updated (%s).", mask_id(sender_id), type(error).__name__)
    return command


async def held_by_guide(sender_id: str, text: str) -> bool:
    """True when a guide holds the conversation and got the message (bot.handoff.gate).
    If the check itself fails the message goes to Rasa: an answer beats silence."""
    try:
        return await relay_if_held(get_redis(), sender_id, text)
    except Exception as error:
        logger.warning("Handoff check for %s failed (%s); the bot answers.", mask_id(sender_id), type(error).__name__)
        return False


# Options are a convenience: a Redis hiccup must never lose the message.
async def _selected_option(channel: str, sender_id: str, text: Optional[str], menu_id: Optional[str]) -> Optional[str]:
    try:
        return await options.resolve(get_redis(), channel, sender_id, text, menu_id)
    except Exception as error:
        logger.warning("%s: could not read options for %s (%s).", channel, mask_id(sender_id), type(error).__name__)
        return None


async def _remember_options(channel: str, sender_id: str, messages: Any) -> None:
    try:
        await options.remember(get_redis(), channel, sender_id, options.last_options(messages))
    except Exception as error:
        logger.warning("%s: could not remember options for %s (%s).", channel, mask_id(sender_id), type(error).__name__)
