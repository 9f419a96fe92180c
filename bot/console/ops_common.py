"""What every ops-console blueprint shares: roles, the JSON body, error answers,
running blocking work off the event loop, and recording a data change as a git
commit by the ops account (issue 13, item 6)."""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.staff import API_HEADERS, Account, Refusal, Session
from common.redis_settings import UNAVAILABLE

OPS_ROLES = ("ops", "admin")
ADMIN_ROLES = ("admin",)
# Every change of a data file and its commit, one at a time in the console process (it
# runs one worker): a second save in between would land in the first one's commit.
WRITE_LOCK = threading.RLock()


def holding_write_lock(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run a blocking save-and-commit under WRITE_LOCK."""
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with WRITE_LOCK:
            return method(*args, **kwargs)
    return locked


def json_body(request: Request) -> Dict[str, Any]:
    """The request's JSON object, or Refusal 400 (malformed JSON, or not an object)."""
    try:
        body = json.loads((request.body or b"{}").decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        raise Refusal(400, "请求内容不是合法的 JSON")
    if not isinstance(body, dict):
        raise Refusal(400, "请求内容必须是一个 JSON 对象")
    return body


def api_errors(bp: Blueprint, label: str, storage: str = "storage unavailable") -> None:
    """Answer a Refusal with its status and a Redis outage with 503, each with a log line."""
    logger = logging.getLogger(f"bot.console.{bp.name}")

    @bp.exception(Refusal)
    async def refused(request: Request, error: Refusal) -> HTTPResponse:
        logger.warning("%s: %s %s refused (%d): %s", label, request.method, request.path, error.status, error.reason)
        return response.json({"error": error.reason}, status=error.status, headers=API_HEADERS, ensure_ascii=False)

    @bp.exception(*UNAVAILABLE)
    async def redis_down(request: Request, error: Exception) -> HTTPResponse:
        logger.error("%s: Redis unavailable (%s)", label, type(error).__name__)
        return response.json({"error": storage}, status=503, headers=API_HEADERS)


def reply(body: Dict[str, Any], status: int = 200) -> HTTPResponse:
    return response.json(body, status=status, headers=API_HEADERS, ensure_ascii=False)


async def blocking(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """git, YAML parsing and model work run in a thread: never on the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args, **kwargs))


def author_of(account: Account) -> Tuple[str, str]:
    return account.display or account.username, f"{account.username}@console.local"


def data_root(history: Optional[Any]) -> Path:
    """Where the console reads and writes data: the history's worktree, else the checkout."""
    from bot.model_files import ROOT
    return Path(history.data_root) if history is not None else ROOT


def record_change(history: Optional[Any], who: Session, paths: Sequence[str], message: str) -> Optional[str]:
    """Commit exactly `paths` as the signed-in account; the sha, or None (no history, or nothing changed).
    Blocking: call through `blocking`."""
    if history is None or not paths:
        return None
    name, email = author_of(who.account)
    return history.commit(list(paths), f"{message}（{who.account.username}，运营后台）", name, email)
