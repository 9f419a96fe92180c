"""The race between a callback's passive reply and the active send API.

The callback handler waits at most the budget for the worker's answer; the
worker offers its answer to the handler only while the handler still waits.
Whoever loses the race leaves the job to the send API, so the answer goes out
exactly once. Sanic cancels the handler when WeChat hangs up, so the worker
runs as its own task and the slot closes in `finally`.
"""
from __future__ import annotations

import asyncio
from typing import Optional


class PassiveSlot:
    def __init__(self) -> None:
        self._future: "asyncio.Future[Optional[str]]" = asyncio.get_running_loop().create_future()
        self._open = True

    @classmethod
    def closed(cls) -> "PassiveSlot":
        """No handler waits (a recovered message): the worker answers through the send API."""
        slot = cls()
        slot._open = False
        return slot

    def offer(self, content: str) -> bool:
        """True if the handler will send `content` as the passive reply."""
        if self._open and not self._future.done():
            self._future.set_result(content)
            return True
        return False

    def decline(self) -> None:
        """The worker will use the send API: let the handler acknowledge now."""
        if not self._future.done():
            self._future.set_result(None)

    async def wait(self, budget_s: float) -> Optional[str]:
        try:
            await asyncio.wait_for(asyncio.shield(self._future), budget_s)
        except asyncio.TimeoutError:
            pass
        finally:
            self._open = False  # from here on, offer() fails: the worker sends actively
        return self._future.result() if self._future.done() else None
