"""While a guide holds a conversation, the customer's messages go to the guide, not to Rasa.

Rasa is paused too (ConversationPaused), but a paused Rasa still runs NLU and slot
extraction, a new session after `session_expiration_time` un-pauses it, and a
`/restart` payload bypasses the pause; not handing it the message at all keeps
the bot silent and every action's effect out of a conversation a person runs.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from common import handoff_routing, handoff_session
from common.privacy import mask_id

logger = logging.getLogger(__name__)


async def relay_if_held(redis, sender_id: str, text: str) -> bool:
    """True when the message went to the guide holding the conversation (the bot says nothing)."""
    request_id = await handoff_session.held_request(redis, sender_id)
    if not request_id:
        return False
    appended = await handoff_session.append(redis, handoff_routing.current_roster(), request_id,
                                            handoff_session.CUSTOMER, text, datetime.now(timezone.utc))
    if not appended.ok:  # ended a moment ago: the bot answers again
        logger.info("Handoff %s of %s no longer held (%s); the bot answers.", request_id, mask_id(sender_id),
                    appended.refused)
        return False
    return True
