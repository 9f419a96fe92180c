"""Small HTTP-side helpers shared by the WeChat channel blueprints."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine, Set

from sanic import response
from sanic.response import HTTPResponse

logger = logging.getLogger("bot.wechat")

_background: Set["asyncio.Task[Any]"] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
    """Run work that must outlive the callback (keep a reference: tasks are weakly held)."""
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: "asyncio.Task[Any]") -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("Background WeChat task failed.", exc_info=task.exception())


async def drain_background(timeout_s: float = 10.0) -> None:
    """On shutdown, let replies in flight reach the send API."""
    if _background:
        await asyncio.wait(set(_background), timeout=timeout_s)


def success() -> HTTPResponse:
    # WeChat: "success" (or an empty body) = received, no passive reply.
    return response.text("success")


def forbidden(channel: str, reason: str) -> HTTPResponse:
    logger.warning("%s: callback refused (403): %s.", channel, reason)
    return response.text("forbidden", status=403)


def bad_request(channel: str, reason: str) -> HTTPResponse:
    logger.warning("%s: callback refused (400): %s.", channel, reason)
    return response.text("bad request", status=400)


def not_configured(channel: str, missing: str) -> HTTPResponse:
    logger.error("%s: callback received but the channel is not configured (missing %s).", channel, missing)
    return response.text("channel not configured", status=503)
