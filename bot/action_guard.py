"""Keep the persona talking when the action server is down or slow.

Out of the box Rasa logs the failed HTTP call to the action server and drops
the action's events, so the consumer gets silence. `install()` wraps
`RemoteAction.run` so a connection error, a 5xx or a time-out becomes the
persona's apology (`utter_service_unavailable`) instead. Every message tries the
action server again, so the bot recovers by itself as soon as it is back.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, List

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.shared.core.events import Event
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)

APOLOGY_RESPONSE = "utter_service_unavailable"
_installed = False


def action_timeout_s() -> float:
    return float(os.environ.get("ACTION_TIMEOUT_S", "8"))


def install() -> None:
    global _installed
    if _installed:
        return
    original_run = RemoteAction.run

    async def guarded_run(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
        try:
            return await asyncio.wait_for(
                original_run(self, output_channel, nlg, tracker, domain), timeout=action_timeout_s()
            )
        except ActionExecutionRejection:
            raise  # forms rely on rejections; not an outage
        except (RasaException, asyncio.TimeoutError) as error:
            logger.error(
                "Action server unavailable for '%s' (%s); sending the persona's apology.",
                self.name(),
                type(error).__name__,
            )
            message = await nlg.generate(APOLOGY_RESPONSE, tracker, output_channel.name())
            return [create_bot_utterance(message)] if message else []

    RemoteAction.run = guarded_run  # type: ignore[assignment]
    _installed = True
