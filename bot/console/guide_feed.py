"""One reader of the handoff change stream per console process, fanned out to every
open guide page (SSE): fifty guides cost one blocking XREAD, not fifty."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Dict, Optional, Set

from common.handoff_routing import CHANGES

logger = logging.getLogger(__name__)

BLOCK_MS = 1500  # under the clients' 2 s socket time-out; a new change still arrives at once
QUEUE_MAX = 200  # a page that stopped reading loses old changes, not the process's memory


class ChangeFeed:
    def __init__(self, redis_factory: Callable[[], Any]) -> None:
        self.redis_factory = redis_factory
        self.subscribers: Set[asyncio.Queue] = set()
        self._task: Optional[asyncio.Task] = None

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_MAX)
        self.subscribers.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._read_forever())
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.discard(queue)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _publish(self, change: Dict[str, str]) -> None:
        for queue in list(self.subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(change)

    async def _read_forever(self) -> None:
        last = "$"  # only what happens from now on: the page loads the current state itself
        while self.subscribers:
            try:
                found = await self.redis_factory().xread({CHANGES: last}, count=100, block=BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis away: pages keep their view and get changes once it is back
                logger.warning("Guide feed: change stream unreadable (%s); retrying.", type(error).__name__)
                await asyncio.sleep(1.0)
                continue
            for _, entries in found or []:
                for entry_id, fields in entries:
                    last = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    self._publish({(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                                   for k, v in fields.items()})
