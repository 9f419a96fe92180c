"""Keep the persona talking, truthfully, when the action server is down or slow.

Out of the box Rasa logs the failed HTTP call to the action server and drops
the action's events, so the consumer gets silence. `install()` wraps
`RemoteAction.run`:
- a connection error or a 5xx becomes the persona's apology
  (`utter_service_unavailable`); every message tries the action server again, so
  the bot recovers by itself as soon as it is back;
- a time-out (ACTION_TIMEOUT_S) does not abandon the call: it is shielded and
  completes in the background, because the action may well succeed (a lottery
  win, a check-in). The customer hears `utter_action_slow` (no claim of failure);
  the late result's bot messages are kept in Redis (`late:<sender_id>`, a day)
  and told first on the customer's next turn (`deliver_late_results`, called by
  bot.channels.common). Slots the late call set never reach the tracker, so a
  parcel prize's text tells the customer to reply 「我的奖品」 to fill the address.
- form validation (`validate_*`) is not wrapped: a slow validation must not turn
  into an apology in the middle of a form. Rasa's own actions (action_listen,
  action_session_start, forms' own loop) are not RemoteActions: never wrapped.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, List, Optional, Set

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.shared.core.events import BotUttered, Event, SlotSet
from rasa.shared.exceptions import RasaException

from bot.persona import system_text
from bot.redis_conn import get_redis
from common.lua_script import LuaScript
from common.privacy import mask_id

logger = logging.getLogger(__name__)

APOLOGY_RESPONSE = "utter_service_unavailable"
SLOW_RESPONSE = "utter_action_slow"
UNGUARDED_PREFIXES = ("validate_",)  # form validation: the form must get the real answer
LATE_PREFIX = "late:"
LATE_TTL_S = 86400
_installed = False
_background: Set["asyncio.Task[None]"] = set()  # strong references until the late calls finish


def action_timeout_s() -> float:
    return float(os.environ.get("ACTION_TIMEOUT_S", "8"))


def is_guarded(action_name: str) -> bool:
    return not action_name.startswith(UNGUARDED_PREFIXES)


def late_key(sender_id: str) -> str:
    return f"{LATE_PREFIX}{sender_id}"


def install() -> None:
    global _installed
    if _installed:
        return
    original_run = RemoteAction.run

    async def guarded_run(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
        if not is_guarded(self.name()):
            return await original_run(self, output_channel, nlg, tracker, domain)
        call = asyncio.ensure_future(original_run(self, output_channel, nlg, tracker, domain))
        try:
            # shield: the time-out stops the wait, not the call
            return await asyncio.wait_for(asyncio.shield(call), timeout=action_timeout_s())
        except ActionExecutionRejection:
            raise  # forms rely on rejections; not an outage
        except asyncio.TimeoutError:
            logger.error("Action '%s' for %s outlived %.1fs; it finishes in the background and its result "
                         "is told next turn.", self.name(), mask_id(tracker.sender_id), action_timeout_s())
            finish_in_background(call, tracker.sender_id, self.name())
            return await _utter(nlg, SLOW_RESPONSE, tracker, output_channel)
        except RasaException as error:
            logger.error(
                "Action server unavailable for '%s' (%s); sending the persona's apology.",
                self.name(),
                type(error).__name__,
            )
            return await _utter(nlg, APOLOGY_RESPONSE, tracker, output_channel)

    RemoteAction.run = guarded_run  # type: ignore[assignment]
    _installed = True


async def _utter(nlg: Any, response: str, tracker: Any, output_channel: Any) -> List[Event]:
    message = await nlg.generate(response, tracker, output_channel.name())
    return [create_bot_utterance(message)] if message else []


def finish_in_background(call: "asyncio.Future[List[Event]]", sender_id: str, action_name: str) -> None:
    async def record() -> None:
        try:
            events = await call
        except Exception as error:  # failed after all, or Rasa's own HTTP time-out
            logger.error("Action '%s' for %s failed after its time-out (%s).", action_name, mask_id(sender_id),
                         type(error).__name__)
            texts = [system_text("late_failed")]
        else:
            texts = late_texts(events)
        if not texts:
            return
        try:
            await store_late(get_redis(), sender_id, texts)
        except Exception as error:
            logger.error("Late result of '%s' for %s could not be kept (%s).", action_name, mask_id(sender_id),
                         type(error).__name__)

    task = asyncio.ensure_future(record())
    _background.add(task)
    task.add_done_callback(_background.discard)


def late_texts(events: List[Event]) -> List[str]:
    """What the customer should hear from a late result: its bot messages, and the way
    to the address form when a parcel was won (the form's slots never arrived)."""
    texts = [e.text for e in events if isinstance(e, BotUttered) and e.text]
    if any(isinstance(e, SlotSet) and e.key == "prize_pending" and e.value for e in events):
        texts.append(system_text("late_prize_form_hint"))
    return texts


# One step each (Lua, so also on Redis Cluster, where redis-py has no MULTI).
_STORE_LATE = LuaScript("redis.call('RPUSH', KEYS[1], unpack(ARGV, 2)) "
                        "return redis.call('EXPIRE', KEYS[1], ARGV[1])")
# Read and remove together: each late text is told once.
_POP_LATE = LuaScript("local texts = redis.call('LRANGE', KEYS[1], 0, -1) "
                      "redis.call('DEL', KEYS[1]) return texts")


async def store_late(redis: Any, sender_id: str, texts: List[str]) -> None:
    await _STORE_LATE(redis, [late_key(sender_id)], [LATE_TTL_S, *[json.dumps(t, ensure_ascii=False) for t in texts]])


async def pop_late(redis: Any, sender_id: str) -> List[str]:
    return [json.loads(r) for r in await _POP_LATE(redis, [late_key(sender_id)])]


async def deliver_late_results(output_channel: Any, sender_id: str, redis: Optional[Any] = None) -> bool:
    """Before a turn: send what a timed-out action said after all, with a short intro.
    A Redis hiccup must never cost the customer's message, so it is logged and skipped."""
    try:
        texts = await pop_late(redis or get_redis(), sender_id)
    except Exception as error:
        logger.warning("Could not read late results for %s (%s).", mask_id(sender_id), type(error).__name__)
        return False
    if not texts:
        return False
    await output_channel.send_text_message(sender_id, "\n".join([system_text("late_result_intro")] + texts))
    return True
