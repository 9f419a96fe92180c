"""Background tasks of the action server (the effects helper adds the outbox sweeper here).

`actions/server.py` awaits `start(app)` after the server started and
`stop(app)` before it stops, in every worker process.
"""
from __future__ import annotations

from typing import Any


async def start(app: Any) -> None:
    """Start the background tasks of this worker (none yet)."""


async def stop(app: Any) -> None:
    """Stop what `start` started (nothing yet)."""
