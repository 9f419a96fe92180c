"""The ops console's history of data changes (issue 13, item 6), and the page at /ops/.

    GET  /ops/                          the ops console page (a login form without a session)
    GET  /api/ops/history?limit=50      data commits (author = the ops account) + uncommitted files
    GET  /api/ops/history/<sha>         one commit's diff, parsed for the page
    POST /api/ops/history/<sha>/revert  ops, admin + CSRF: revert it as a new commit by this account

The data files in git are the source of truth (bot/console/data_history.py): the
console works on the main checkout or, with CONSOLE_DATA_BRANCH, on a worktree of
that branch, and refuses to start while the checkout has conflicts.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.data_history import UNCOMMITTED_WARNING, DataHistory, HistoryError
from bot.console.guide_api import PAGE_HEADERS, STATIC_DIR
from bot.console.ops_common import OPS_ROLES, api_errors, author_of, blocking, holding_write_lock
from bot.console.staff import API_HEADERS, Refusal, authorise
from bot.model_files import ROOT

logger = logging.getLogger(__name__)


def make_history() -> Optional[DataHistory]:
    """None outside a git checkout (e.g. an unpacked release): edits then have no history."""
    repo = Path(os.environ.get("CONSOLE_REPO", "").strip() or ROOT)
    if not (repo / ".git").exists():
        logger.warning("the console's data folder is not a git checkout: data changes are not recorded")
        return None
    return DataHistory(repo, branch=os.environ.get("CONSOLE_DATA_BRANCH") or None)


def history_blueprint(history: Optional[DataHistory]) -> Blueprint:
    bp = Blueprint("ops_history")

    api_errors(bp, "History API")

    @bp.exception(HistoryError)
    async def history_refused(request: Request, error: HistoryError) -> HTTPResponse:
        return response.json({"error": str(error), "paths": list(error.paths)}, status=409, headers=API_HEADERS)

    @bp.before_server_start
    async def refuse_conflicts(app, _loop) -> None:
        if history is not None:
            await blocking(history.check_startable)  # HistoryError stops the console: conflicts come first

    @bp.get("/ops/")
    async def page(_: Request) -> HTTPResponse:
        return response.html((STATIC_DIR / "ops.html").read_text(encoding="utf-8"), headers=PAGE_HEADERS)

    def need_history() -> DataHistory:
        if history is None:
            raise Refusal(503, "这个部署的数据目录不是 git 仓库，没有修改历史")
        return history

    @bp.get("/api/ops/history")
    async def log(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        repo = need_history()
        try:
            limit = max(1, min(200, int(request.args.get("limit", 50))))
        except ValueError:
            limit = 50
        commits = await blocking(repo.log, limit)
        dirty = await blocking(repo.uncommitted)
        return response.json({"commits": commits, "uncommitted": dirty,
                              "warning": UNCOMMITTED_WARNING if dirty else ""}, headers=API_HEADERS)

    @bp.get("/api/ops/history/<sha:str>")
    async def diff(request: Request, sha: str) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        return response.json(await blocking(need_history().diff, sha), headers=API_HEADERS)

    @bp.post("/api/ops/history/<sha:str>/revert")
    async def revert(request: Request, sha: str) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        name, email = author_of(who.account)
        new_sha = await blocking(holding_write_lock(need_history().revert), sha, name, email)
        logger.info("history: %s reverted %s as %s", who.account.username, sha, new_sha)
        return response.json({"reverted": sha, "commit": new_sha}, headers=API_HEADERS)

    return bp
