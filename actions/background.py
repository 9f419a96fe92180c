"""Background work of the action server: the grant outbox sweeper.

`actions/server.py` awaits `start(app)` after the server started and
`stop(app)` before it stops, in every worker process. `ensure_sweeper()` starts the same task
lazily from the first action on a loop, so a server started any other way
(`python -m rasa_sdk`) sweeps too. Several processes may sweep at once:
delivering a grant is idempotent by grant id.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Dict, Optional

from actions import outbox
from actions.services import clock, store
from actions.services.catalog import catalog

logger = logging.getLogger(__name__)

_tasks: Dict[int, "asyncio.Task[None]"] = {}  # one sweeper per event loop


def sweep_interval_s() -> float:
    """Seconds between sweeps; 0 turns the sweeper off in this process (e.g. unit tests)."""
    return float(os.environ.get("GRANT_SWEEP_INTERVAL_S", "5"))


async def sweep_forever(interval_s: Optional[float] = None) -> None:
    interval = sweep_interval_s() if interval_s is None else interval_s
    while True:
        try:
            await outbox.sweep_once(store.get_client(), catalog(), clock.utc_now())
        except asyncio.CancelledError:
            raise
        except Exception as error:  # Redis down: try again next round
            logger.warning("Grant sweep failed (%s); retrying in %.0fs.", type(error).__name__, interval)
        await asyncio.sleep(interval)


def ensure_sweeper(interval_s: Optional[float] = None) -> "Optional[asyncio.Task[None]]":
    interval = sweep_interval_s() if interval_s is None else interval_s
    if interval <= 0:
        return None
    loop = asyncio.get_running_loop()
    task = _tasks.get(id(loop))
    # id() of a new loop can repeat a closed one's (tests make a loop per test): a task of
    # another loop is not this loop's sweeper
    if task is None or task.done() or task.get_loop() is not loop:
        task = loop.create_task(sweep_forever(interval), name="grant-sweeper")
        _tasks[id(loop)] = task
    return task


async def start(app: Any = None) -> None:
    ensure_sweeper()
    logger.info("Grant sweeper started (every %.0fs).", sweep_interval_s())


async def stop(app: Any = None) -> None:
    task = _tasks.pop(id(asyncio.get_running_loop()), None)
    if task is not None and task.get_loop() is asyncio.get_running_loop():  # awaiting another loop's task hangs
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
