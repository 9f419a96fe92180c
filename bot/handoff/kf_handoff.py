"""微信客服 specifics of a handoff (issue 12, item 6): hand the WeCom session to the
guide (`kf/service_state/trans`) and back to the bot. Being built; until then the
worker relays 微信客服 conversations like the others (the session stays with the bot)."""
from __future__ import annotations

from typing import Any, Dict


async def to_guide(redis: Any, messengers: Any, details: Dict[str, str]) -> None:
    """After a guide was assigned (outbox `notify:`)."""
    return None


async def to_bot(redis: Any, messengers: Any, details: Dict[str, str]) -> None:
    """After the conversation ended (outbox `resume:` / `takeback:`)."""
    return None
