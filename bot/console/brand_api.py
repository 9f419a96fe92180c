"""The ops console's brand facts and personas (issue 13): edited live, no retraining.

    GET    /api/ops/brand/facts                  the facts in file order, each with its usages
    PUT    /api/ops/brand/facts/<key>            {"value": v}: change a fact's value
    POST   /api/ops/brand/facts                  {"key", "value", "after"?}: add a fact (201)
    DELETE /api/ops/brand/facts/<key>            delete an unused fact (409 + usages while used)
    POST   /api/ops/brand/facts/<key>/rename     {"to": new_key}: rename an unused fact (409 + usages)
    GET    /api/ops/brand/personas               every persona (+ the active one, field labels)
    GET    /api/ops/brand/personas/<id>          one persona's profile as data
    PUT    /api/ops/brand/personas/<id>          {"persona": profile}: validated (400 lists every
                                                 problem, in Chinese; nothing is written)
    POST   /api/ops/brand/preview                {"persona", "facts"?, "persona_data"?, "sample"?}:
                                                 a sample of real responses rendered with the
                                                 unsaved values (bot NLG), before and after

Ops and admin only; writes need the session's CSRF token (bot.console.staff). Every
save that changes a file is one git commit authored by the account (`commit` in the
answer; bot.console.data_history). The files are bot.console.brand_data's, under the
console's data root; bot.persona re-reads them within a second in every process that
speaks, so nothing needs a restart or a new model.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import persona as persona_mod
from bot.console.brand_data import (FACTS_FILE, PERSONA_DIR, PERSONA_FIELDS, BrandData, BrandDataError,
                                    LossySave)
from bot.console.data_history import HistoryError
from bot.console.ops_common import (OPS_ROLES, WRITE_LOCK, api_errors, blocking, data_root, json_body,
                                    record_change, reply)
from bot.console.staff import Refusal, Session, authorise

logger = logging.getLogger(__name__)

PREFIX = "/api/ops/brand"
DEFAULT_SAMPLE = 8
MAX_SAMPLE = 30
_PERSONA_ID = re.compile(r"^[a-z0-9_-]{1,64}$")


class FactInUse(Exception):
    """409: the fact is still used; the answer lists where."""

    def __init__(self, key: str, verb: str, usages: List[Dict[str, str]]) -> None:
        self.message = f"不能{verb}「{key}」：还有 {len(usages)} 处在用它，请先改掉这些地方"
        super().__init__(self.message)
        self.usages = usages


class _Saver:
    """One save at a time, file write and commit together: two saves at once must not
    end up in one commit (the second would answer without its own commit)."""

    def __init__(self, brand: BrandData, history: Optional[Any]) -> None:
        self.brand, self.history = brand, history
        self._lock = WRITE_LOCK

    def save(self, who: Session, rel: str, change: Callable[[], List[str]], message: str) -> Tuple[List[str], Optional[str]]:
        """Run `change` (a BrandData mutation of the file `rel`) and commit what it wrote.
        Blocking. A commit that fails puts the file back: a save is never half done."""
        with self._lock:
            path = self.brand.root / rel
            before = path.read_bytes() if path.is_file() else None
            paths = change()
            try:
                sha = record_change(self.history, who, paths, message)
            except HistoryError:
                if paths and before is not None:
                    _restore(path, before)
                raise
            return paths, sha


def _restore(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.restore")
    tmp.write_bytes(content)
    os.replace(tmp, path)
    persona_mod.recheck(path)


def _fact_row(brand: BrandData, key: str) -> Optional[Dict[str, Any]]:
    """The facts table row of `key` with its usages, as GET /facts lists it."""
    for row in brand.facts():
        if row["key"] == key:
            return {**row, "usages": brand.fact_usages(key)}
    return None


def _facts_table(brand: BrandData) -> List[Dict[str, Any]]:
    usages = brand.all_fact_usages()
    return [{**row, "usages": usages.get(row["key"], [])} for row in brand.facts()]


def _text_field(body: Dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal(400, f"缺少 {name}（一段文字）")
    return value


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def brand_blueprint(history: Optional[Any] = None) -> Blueprint:
    bp = Blueprint("ops_brand")
    api_errors(bp, "Brand API")
    brand = BrandData(data_root(history))
    saver = _Saver(brand, history)
    active_persona = os.environ.get("PERSONA") or persona_mod.DEFAULT_PERSONA
    # Saves are spoken at once only where the bot reads its persona (not in a CONSOLE_DATA_BRANCH worktree).
    live = brand.root == persona_mod.DATA_ROOT.resolve()

    @bp.exception(BrandDataError)
    async def refused(request: Request, error: BrandDataError) -> HTTPResponse:
        status = 409 if isinstance(error, LossySave) else 400
        logger.warning("Brand API: %s %s refused (%d): %s", request.method, request.path, status,
                       error.message.splitlines()[0])
        return reply({"error": error.message, "problems": error.problems}, status=status)

    @bp.exception(HistoryError)
    async def not_recorded(request: Request, error: HistoryError) -> HTTPResponse:
        logger.warning("Brand API: %s %s not committed, nothing saved: %s", request.method, request.path, error)
        return reply({"error": f"没有保存：{error}", "paths": list(error.paths)}, status=409)

    async def known_fact(key: str) -> Dict[str, Any]:
        for row in await blocking(brand.facts):
            if row["key"] == key:
                return row
        raise Refusal(404, f"没有品牌信息「{key}」")

    def known_persona(persona_id: str) -> None:
        if not _PERSONA_ID.match(persona_id) or not (brand.root / PERSONA_DIR / f"{persona_id}.yml").is_file():
            raise Refusal(404, f"没有人设「{persona_id}」")

    async def refuse_if_used(key: str, verb: str) -> None:
        usages = await blocking(brand.fact_usages, key)
        if usages:
            raise FactInUse(key, verb, usages)

    @bp.exception(FactInUse)
    async def in_use(request: Request, error: FactInUse) -> HTTPResponse:
        logger.warning("Brand API: %s %s refused (409): %s", request.method, request.path, error.message)
        return reply({"error": error.message, "usages": error.usages}, status=409)

    def saved(who: Session, what: str, paths: List[str], sha: Optional[str]) -> None:
        logger.info("Brand API: %s %s (%s, commit %s)", who.account.username, what, ", ".join(paths) or "unchanged", sha)

    # ----- facts

    @bp.get(f"{PREFIX}/facts")
    async def list_facts(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        return reply({"facts": await blocking(_facts_table, brand), "file": FACTS_FILE})

    @bp.put(f"{PREFIX}/facts/<key:str>")
    async def set_fact(request: Request, key: str) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        if "value" not in body:
            raise Refusal(400, "缺少 value")
        old = (await known_fact(key))["value"]
        message = f"品牌信息 {key}：{_shown(old)} → {_shown(body['value'])}"
        paths, sha = await blocking(saver.save, who, FACTS_FILE, lambda: brand.set_fact(key, body["value"]), message)
        saved(who, f"set fact {key}", paths, sha)
        return reply({"fact": await blocking(_fact_row, brand, key), "changed": bool(paths), "commit": sha, "live": live})

    @bp.post(f"{PREFIX}/facts")
    async def add_fact(request: Request) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        key = _text_field(body, "key")
        if "value" not in body:
            raise Refusal(400, "缺少 value")
        after = body.get("after")
        if after is not None and not isinstance(after, str):
            raise Refusal(400, "after 应该是一个已有的键名")
        message = f"新增品牌信息 {key}：{_shown(body['value'])}"
        paths, sha = await blocking(saver.save, who, FACTS_FILE,
                                    lambda: brand.add_fact(key, body["value"], after or None), message)
        saved(who, f"added fact {key}", paths, sha)
        return reply({"fact": await blocking(_fact_row, brand, key), "commit": sha, "live": live}, status=201)

    @bp.delete(f"{PREFIX}/facts/<key:str>")
    async def delete_fact(request: Request, key: str) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        await known_fact(key)
        await refuse_if_used(key, "删除")
        paths, sha = await blocking(saver.save, who, FACTS_FILE, lambda: brand.delete_fact(key),
                                    f"删除品牌信息 {key}")
        saved(who, f"deleted fact {key}", paths, sha)
        return reply({"deleted": key, "commit": sha, "live": live})

    @bp.post(f"{PREFIX}/facts/<key:str>/rename")
    async def rename_fact(request: Request, key: str) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        new_key = _text_field(json_body(request), "to")
        await known_fact(key)
        await refuse_if_used(key, "改名")
        paths, sha = await blocking(saver.save, who, FACTS_FILE, lambda: brand.rename_fact(key, new_key),
                                    f"品牌信息改名 {key} → {new_key}")
        saved(who, f"renamed fact {key} to {new_key}", paths, sha)
        return reply({"renamed": key, "fact": await blocking(_fact_row, brand, new_key), "commit": sha, "live": live})

    # ----- personas

    @bp.get(f"{PREFIX}/personas")
    async def list_personas(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        return reply({"personas": await blocking(brand.personas), "active": active_persona, "fields": PERSONA_FIELDS})

    @bp.get(f"{PREFIX}/personas/<persona_id:str>")
    async def get_persona(request: Request, persona_id: str) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        known_persona(persona_id)
        return reply({"id": persona_id, "persona": await blocking(brand.persona, persona_id),
                      "path": f"{PERSONA_DIR}/{persona_id}.yml", "active": persona_id == active_persona,
                      "fields": PERSONA_FIELDS})

    @bp.put(f"{PREFIX}/personas/<persona_id:str>")
    async def save_persona(request: Request, persona_id: str) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        known_persona(persona_id)
        data = body.get("persona")
        if not isinstance(data, dict):
            raise Refusal(400, "缺少 persona（人设的全部字段）")
        rel = f"{PERSONA_DIR}/{persona_id}.yml"
        name = data.get("name") if isinstance(data.get("name"), str) else persona_id
        paths, sha = await blocking(saver.save, who, rel, lambda: brand.save_persona(persona_id, data),
                                    f"修改人设 {persona_id}（{name}）")
        saved(who, f"saved persona {persona_id}", paths, sha)
        return reply({"id": persona_id, "persona": await blocking(brand.persona, persona_id),
                      "changed": bool(paths), "commit": sha, "live": live})

    # ----- preview

    @bp.post(f"{PREFIX}/preview")
    async def preview(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        persona_id = body.get("persona") or active_persona
        if not isinstance(persona_id, str):
            raise Refusal(400, "persona 应该是人设编号")
        known_persona(persona_id)
        facts, draft = body.get("facts"), body.get("persona_data")
        if facts is not None and not isinstance(facts, dict):
            raise Refusal(400, "facts 应该是「键名: 值」")
        if draft is not None and not isinstance(draft, dict):
            raise Refusal(400, "persona_data 应该是人设的全部字段")
        sample = body.get("sample", DEFAULT_SAMPLE)
        if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= MAX_SAMPLE:
            raise Refusal(400, f"sample 应该是 1 到 {MAX_SAMPLE} 的整数")
        items = await blocking(brand.preview, persona_id, facts_override=facts or None,
                               persona_override=draft, sample=sample)
        return reply({"persona": persona_id, "items": items})

    return bp
