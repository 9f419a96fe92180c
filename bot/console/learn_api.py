"""The ops console's "learn from traffic" tab (待学习, issue 13): missed messages become
examples of an intent, a new FAQ, or are dismissed. Registered in bot/console/app.py:

    app.blueprint(learn_blueprint(history))

    GET  /api/ops/learn/intents                   intents that take examples (FAQ keys with titles)
    GET  /api/ops/learn/groups?status=open|handled&limit=50&offset=0
         the unanswered-questions inbox, grouped (common/inbox_store.py): count, first/last
         seen, 3 masked samples, the suggested intent (the group's top guess, when it exists)
    GET  /api/ops/learn/groups/<gid>              one group with its messages (unique texts, counted)
    POST /api/ops/learn/groups/<gid>/examples     {intent, messages?: [text], force?}
    POST /api/ops/learn/groups/<gid>/faq          {key, title, answers: text | [text], messages?,
                                                   more?: [text], force?}   (more: phrasings ops add)
    POST /api/ops/learn/groups/<gid>/dismiss      {note?}
    POST /api/ops/learn/messages/examples         {intent, texts: [text], force?}   (from the review)

The conversation review itself is bot/console/dashboard_api.py (`/api/ops/review`); the
page reuses it. Staff sessions only (bot/console/staff.py): ops or admin, CSRF on writes.

Every write is one git commit by the ops account (ops_common.record_change) and is all or
nothing: texts are checked first (a duplicate of another intent's example: 409 with the
conflicts unless `force`), the files are restored if a later step fails, and the group is
marked handled (who, how: examples / faq / dismiss) only after the commit. Each effect
happens once: an example already in the intent is skipped and reported, not added again
(nothing new: no commit); a group already handled answers 409 with who handled it; writes
are serialised in the process (the console runs one worker). Answers say what happened
(`added`, `skipped`, `warnings`, `commit`) and that training is needed (`needs_training`).
"""
from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.data_history import HistoryError
from bot.console.nlu_data import (NLU_DIR, TITLES_FILE, DuplicateExample, LossySave, NluData,
                                  NluDataError, comparison_key, split_intent)
from bot.console.ops_common import (OPS_ROLES, api_errors, blocking, data_root, holding_write_lock, json_body,
                                    record_change, reply)
from bot.console.staff import Refusal, Session, authorise
from bot.redis_conn import get_redis
from common import inbox_store

logger = logging.getLogger(__name__)

MAX_LIMIT = 200
MAX_TEXTS = 50
MAX_NOTE_CHARS = 200
GROUP_MESSAGES = 20          # samples kept per group (FaqSettings.samples_per_group)
LIST_SAMPLES = 3
HOW_LABELS = {"examples": "加为例句", "faq": "新建问答", "dismiss": "忽略"}


class Answered(Exception):
    """A refusal with more to say than a reason (conflicts, the handled group)."""

    def __init__(self, status: int, body: Dict[str, Any]) -> None:
        super().__init__(body.get("error", ""))
        self.status, self.body = status, body


# --------------------------------------------------------------------------- request parsing


def int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(request.args.get(name, default))))
    except ValueError:
        raise Refusal(400, f"{name} 必须是数字") from None


def text_list(value: Any, name: str) -> List[str]:
    """A non-empty list of non-empty strings (stripped), at most MAX_TEXTS."""
    if not isinstance(value, list) or not value:
        raise Refusal(400, f"{name} 必须是至少一条文字的列表")
    if len(value) > MAX_TEXTS:
        raise Refusal(400, f"一次最多 {MAX_TEXTS} 条")
    texts = [item.strip() for item in value if isinstance(item, str)]
    if len(texts) != len(value) or not all(texts):
        raise Refusal(400, f"{name} 里每一条都必须是非空的文字")
    return texts


def intent_arg(body: Dict[str, Any]) -> str:
    intent = body.get("intent")
    if not isinstance(intent, str) or not intent.strip():
        raise Refusal(400, "请选择意图")
    return intent.strip()


def force_arg(body: Dict[str, Any]) -> bool:
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise Refusal(400, "force 必须是 true 或 false")
    return force


def optional_text(body: Dict[str, Any], name: str, longest: int) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value.strip()) > longest:
        raise Refusal(400, f"{name} 必须是不超过 {longest} 个字的文字")
    return value.strip()


def answers_arg(body: Dict[str, Any]) -> List[str]:
    answers = body.get("answers")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise Refusal(400, "请写至少一条回答")
    return answers


# --------------------------------------------------------------------------- groups


def group_messages(group: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The group's samples as unique texts (newest first) with how often each came."""
    found: Dict[str, Dict[str, Any]] = {}
    for sample in group.get("samples") or []:
        text = str(sample.get("text") or "").strip()
        if not text:
            continue
        if text not in found:
            found[text] = {"text": text, "count": 0, "last_ts": sample.get("ts", ""), "outcome": sample.get("outcome")}
        found[text]["count"] += 1
    return list(found.values())


def suggested_intent(group: Dict[str, Any], known: Set[str]) -> Optional[str]:
    guess = group.get("top_guess") or {}
    key = str(guess.get("key") or "") if isinstance(guess, dict) else ""
    if not key:
        return None
    intent = key if "/" in key else f"faq/{key}"
    return intent if intent in known else None


def group_view(group: Dict[str, Any], known: Set[str]) -> Dict[str, Any]:
    view = {k: group.get(k) for k in ("id", "label", "status", "count", "first_ts", "last_ts", "top_guess",
                                      "handled_at", "handled_by", "note", "how")}
    view["suggested_intent"] = suggested_intent(group, known)
    view["samples"] = [{"text": s.get("text", ""), "ts": s.get("ts", ""), "outcome": s.get("outcome")}
                       for s in group.get("samples") or []]
    return view


def already_handled(group: Dict[str, Any]) -> Answered:
    how = HOW_LABELS.get(group.get("how") or "", "处理")
    who = group.get("handled_by") or "别人"
    return Answered(409, {"error": f"这组问题已经由 {who} 在 {group.get('handled_at') or '之前'} {how}过了，不会重复处理",
                          "already_handled": True, "group": group_view(group, set())})


def selected(messages: Any, group: Dict[str, Any]) -> List[str]:
    """The texts to learn: the chosen ones (each must be one of the group's), else all."""
    available = [m["text"] for m in group_messages(group)]
    if messages is None:
        if not available:
            raise Refusal(400, "这组里没有可以学习的消息")
        return available
    chosen = text_list(messages, "messages")
    strangers = [t for t in chosen if t not in available]
    if strangers:
        raise Refusal(400, f"这些消息不在这组里：{'、'.join(strangers[:3])}")
    return chosen


# --------------------------------------------------------------------------- data changes (blocking)


def snapshot(root: Path, rels: Iterable[str]) -> Dict[str, Optional[str]]:
    """The current text of each data file under `rels` (files or directories of .yml)."""
    found: Dict[str, Optional[str]] = {}
    for rel in rels:
        path = root / rel
        paths = sorted(p for p in path.iterdir() if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
        for item in paths:
            found[item.relative_to(root).as_posix()] = item.read_text(encoding="utf-8") if item.is_file() else None
    return found


def restore(root: Path, before: Dict[str, Optional[str]]) -> None:
    """Put back every file that changed since `snapshot` (atomically, file by file)."""
    restored = []
    for rel, text in before.items():
        path = root / rel
        now = path.read_text(encoding="utf-8") if path.is_file() else None
        if now == text:
            continue
        restored.append(rel)
        if text is None:
            path.unlink()
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    if restored:
        logger.warning("Learn API: restored %s after a refused change", ", ".join(restored))


def unique(texts: Sequence[str]) -> Tuple[List[str], List[Dict[str, str]]]:
    kept: List[str] = []
    skipped: List[Dict[str, str]] = []
    seen: Set[str] = set()
    for text in texts:
        key = comparison_key(text)
        if key in seen:
            skipped.append({"text": text, "reason": "和这次选的另一条重复"})
            continue
        seen.add(key)
        kept.append(text)
    return kept, skipped


def cross_intent_duplicates(nlu: NluData, intent: str, texts: Sequence[str]) -> List[Dict[str, Any]]:
    """Texts that are exactly an example of another intent: [{text, intent, example, kind}]."""
    found = []
    for text in texts:
        for conflict in nlu.conflicts(intent, text):
            if conflict["kind"] == "duplicate":
                found.append({"text": text, "intent": conflict["intent"], "example": conflict["text"],
                              "kind": "duplicate"})
    return found


def refuse_conflicts(nlu: NluData, intent: str, texts: Sequence[str], force: bool) -> None:
    conflicts = cross_intent_duplicates(nlu, intent, texts)
    if conflicts and not force:
        first = conflicts[0]
        raise Answered(409, {
            "error": f"「{first['text']}」已经是 {first['intent']} 的例句了，同一句话只能教给一个意图；"
                     f"确定要加的话请选择「仍然添加」", "conflicts": conflicts})


def warnings_of(text: str, conflicts: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{"text": text, "conflicts": list(conflicts)}] if conflicts else []


class Learner:
    """The NLU data of the console's data folder and the serialised writes to it."""

    def __init__(self, history: Optional[Any]) -> None:
        self.history = history
        self.lock = asyncio.Lock()          # one learning write at a time (one console worker)
        self._nlu: Optional[NluData] = None
        self._nlu_lock = threading.Lock()

    def nlu(self) -> NluData:
        """Built on first use: in branch mode the worktree exists only once the console started."""
        with self._nlu_lock:
            if self._nlu is None:
                self._nlu = NluData(data_root(self.history))
            return self._nlu

    def intents(self) -> List[Dict[str, Any]]:
        result = []
        for item in self.nlu().intents():
            if item["count"] <= 0:
                continue
            retrieval, key = split_intent(item["name"])
            result.append({"name": item["name"], "kind": retrieval or "intent", "key": key,
                           "title": item["title"], "count": item["count"]})
        return result

    def intent_names(self) -> Set[str]:
        return {item["name"] for item in self.intents()}

    def existing_keys(self, intent: str) -> Set[str]:
        examples = self.nlu().examples(intent)
        return {comparison_key(e["text"]) for e in examples}

    def commit(self, who: Session, paths: Iterable[str], message: str,
               before: Dict[str, Optional[str]]) -> Optional[str]:
        try:
            return record_change(self.history, who, sorted(set(paths)), message)
        except HistoryError as error:
            restore(self.nlu().root, before)
            self.nlu().reload()
            raise Refusal(409, f"没能记录这次修改，文件已还原：{error}") from None

    @holding_write_lock
    def add_examples(self, who: Session, intent: str, texts: Sequence[str], force: bool,
                     context: str) -> Dict[str, Any]:
        """Each text an example of `intent` (already there: skipped), then one commit."""
        nlu = self.nlu()
        if intent not in self.intent_names():
            raise Refusal(400, f"没有这个意图：{intent}（新问题请用「新建问答」）")
        existing = self.existing_keys(intent)
        todo, skipped = unique(texts)
        skipped += [{"text": t, "reason": "已经是这个意图的例句"} for t in todo if comparison_key(t) in existing]
        todo = [t for t in todo if comparison_key(t) not in existing]
        refuse_conflicts(nlu, intent, todo, force)
        before = snapshot(nlu.root, [NLU_DIR])
        added: List[str] = []
        paths: Set[str] = set()
        warnings: List[Dict[str, Any]] = []
        for text in todo:
            try:
                saved = nlu.add_example(intent, text, force=force)
            except DuplicateExample as error:
                if all(c.get("intent") == intent for c in error.conflicts):
                    skipped.append({"text": text, "reason": "已经是这个意图的例句"})
                    continue
                self._undo(before)
                raise Answered(409, {"error": str(error), "conflicts": [
                    {"text": text, "intent": c.get("intent"), "example": c.get("text"), "kind": c.get("kind")}
                    for c in error.conflicts]}) from None
            except NluDataError as error:
                self._undo(before)
                raise Refusal(409 if isinstance(error, LossySave) else 400, f"「{text}」没能加入：{error}") from None
            except Exception:
                self._undo(before)
                raise
            added.append(text)
            paths.update(saved)
            warnings += warnings_of(text, saved.warnings)
        sha = self.commit(who, paths, f"待学习：{len(added)} 条消息加为 {intent} 的例句{context}", before) \
            if added else None
        return {"intent": intent, "added": added, "skipped": skipped, "warnings": warnings,
                "paths": sorted(paths), "commit": sha, "needs_training": bool(added)}

    @holding_write_lock
    def create_faq(self, who: Session, key: str, title: str, answers: List[str], texts: Sequence[str],
                   force: bool, context: str) -> Dict[str, Any]:
        """A new FAQ key with `texts` as its phrasings, in one commit. Asked again once it
        exists with all of them (the answer to the first call was lost): nothing to do."""
        nlu = self.nlu()
        intent = f"faq/{key}"
        todo, skipped = unique(texts)
        existing = self.existing_keys(intent)
        if existing and all(comparison_key(t) in existing for t in todo):
            return {"intent": intent, "key": key, "created": False, "added": [], "paths": [], "commit": None,
                    "skipped": skipped + [{"text": t, "reason": "已经是这个问答的例句"} for t in todo],
                    "warnings": [], "needs_training": False}
        refuse_conflicts(nlu, intent, todo, force)
        before = snapshot(nlu.root, [NLU_DIR, "data/responses", TITLES_FILE])
        try:
            saved = nlu.create_faq(key, title, todo, answers, force=force)
        except DuplicateExample as error:
            raise Answered(409, {"error": str(error), "conflicts": error.conflicts}) from None
        except NluDataError as error:
            raise Refusal(409 if isinstance(error, LossySave) else 400, str(error)) from None
        sha = self.commit(who, saved, f"待学习：新建问答 {intent}（{title.strip()}），{len(todo)} 条例句{context}", before)
        return {"intent": intent, "key": key, "created": True, "added": todo, "skipped": skipped,
                "warnings": [{"text": None, "conflicts": saved.warnings}] if saved.warnings else [],
                "paths": sorted(saved), "commit": sha, "needs_training": True}

    def _undo(self, before: Dict[str, Optional[str]]) -> None:
        restore(self.nlu().root, before)
        self.nlu().reload()


# --------------------------------------------------------------------------- the blueprint


def learn_blueprint(history: Optional[Any] = None) -> Blueprint:
    bp = Blueprint("ops_learn", url_prefix="/api/ops/learn")
    api_errors(bp, "Learn API", storage="待学习的数据暂时读不到（存储不可用），请稍后再试")
    learner = Learner(history)

    @bp.exception(Answered)
    async def answered(request: Request, error: Answered) -> HTTPResponse:
        logger.warning("Learn API: %s %s refused (%d): %s", request.method, request.path, error.status, error)
        return reply(error.body, error.status)

    async def open_group(gid: int) -> Dict[str, Any]:
        group = await inbox_store.get_group(get_redis(), str(gid), samples=GROUP_MESSAGES)
        if group is None:
            raise Refusal(404, f"没有这组问题：#{gid}")
        if group["status"] != "open":
            raise already_handled(group)
        return group

    async def close_group(gid: int, who: Session, how: str, note: str) -> Dict[str, Any]:
        await inbox_store.mark_handled(get_redis(), str(gid), by=who.account.username, note=note, how=how)
        group = await inbox_store.get_group(get_redis(), str(gid), samples=0)
        return group_view(group or {"id": str(gid)}, set())

    @bp.get("/intents")
    async def intents(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        return reply({"intents": await blocking(learner.intents)})

    @bp.get("/groups")
    async def groups(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        status = request.args.get("status", "open")
        if status not in inbox_store.STATUSES:
            raise Refusal(400, "status 只能是 open 或 handled")
        listing = await inbox_store.list_groups(get_redis(), status, int_arg(request, "limit", 50, 1, MAX_LIMIT),
                                                int_arg(request, "offset", 0, 0, 10 ** 6), samples=LIST_SAMPLES)
        known = await blocking(learner.intent_names)
        return reply({**listing, "groups": [group_view(g, known) for g in listing["groups"]]})

    @bp.get("/groups/<gid:int>")
    async def group(request: Request, gid: int) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        found = await inbox_store.get_group(get_redis(), str(gid), samples=GROUP_MESSAGES)
        if found is None:
            raise Refusal(404, f"没有这组问题：#{gid}")
        known = await blocking(learner.intent_names)
        return reply({**group_view(found, known), "messages": group_messages(found)})

    @bp.post("/groups/<gid:int>/examples")
    async def group_examples(request: Request, gid: int) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        intent, force = intent_arg(body), force_arg(body)
        async with learner.lock:
            found = await open_group(gid)
            texts = selected(body.get("messages"), found)
            done = await blocking(learner.add_examples, who, intent, texts, force, f"（问题组 #{gid}）")
            note = f"加为 {intent} 的例句：新增 {len(done['added'])} 条，跳过 {len(done['skipped'])} 条" + \
                (f"，提交 {done['commit'][:8]}" if done["commit"] else "")
            done["group"] = await close_group(gid, who, "examples", note)
        logger.info("Learn API: %s taught %d example(s) of %s from group %s", who.account.username,
                    len(done["added"]), intent, gid)
        return reply(done)

    @bp.post("/groups/<gid:int>/faq")
    async def group_faq(request: Request, gid: int) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        key, title = body.get("key"), body.get("title")
        if not isinstance(key, str) or not key.strip():
            raise Refusal(400, "请填写问答的键（小写字母、数字和下划线，例如 gift_wrap）")
        if not isinstance(title, str):
            raise Refusal(400, "请填写问答的标题")
        answers, force = answers_arg(body), force_arg(body)
        async with learner.lock:
            found = await open_group(gid)
            texts = selected(body.get("messages"), found)
            if body.get("more") not in (None, []):
                texts += text_list(body.get("more"), "more")
            done = await blocking(learner.create_faq, who, key.strip(), title, answers, texts, force,
                                  f"（问题组 #{gid}）")
            note = f"新建问答 {done['intent']}：{title.strip()}" + \
                (f"，提交 {done['commit'][:8]}" if done["commit"] else "")
            done["group"] = await close_group(gid, who, "faq", note)
        logger.info("Learn API: %s created %s from group %s", who.account.username, done["intent"], gid)
        return reply(done)

    @bp.post("/groups/<gid:int>/dismiss")
    async def group_dismiss(request: Request, gid: int) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        note = optional_text(json_body(request), "note", MAX_NOTE_CHARS)
        async with learner.lock:
            await open_group(gid)
            closed = await close_group(gid, who, "dismiss", note or "忽略")
        return reply({"group": closed, "added": [], "skipped": [], "commit": None, "needs_training": False})

    @bp.post("/messages/examples")
    async def message_examples(request: Request) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        intent, texts, force = intent_arg(body), text_list(body.get("texts"), "texts"), force_arg(body)
        async with learner.lock:
            done = await blocking(learner.add_examples, who, intent, texts, force, "（对话回看）")
        return reply(done)

    return bp

