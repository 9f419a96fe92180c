"""Turn the next queued message of a conversation around in milliseconds.

Rasa's lock store serialises the messages of one conversation (tickets in
Redis) and a waiting message re-reads the lock once a second: a customer who
sends three messages quickly waits up to a second extra for each, and 20
queued messages of a flood take tens of seconds. `install()` makes the wait
between attempts LOCK_POLL_S (default 0.05 s); each attempt is one Redis GET.
"""
from __future__ import annotations

from rasa.core.lock_store import LockStore

from common.env import env_float

DEFAULT_POLL_S = 0.05


def poll_s() -> float:
    return max(0.005, env_float("LOCK_POLL_S", DEFAULT_POLL_S))


def install() -> None:
    if getattr(LockStore, "_fast_polling", False):
        return
    acquire = LockStore._acquire_lock
    interval = poll_s()

    async def acquire_soon(self: LockStore, conversation_id: str, ticket: int, wait_time_in_seconds: float):
        return await acquire(self, conversation_id, ticket, min(wait_time_in_seconds, interval))

    LockStore._acquire_lock = acquire_soon
    LockStore._fast_polling = True
