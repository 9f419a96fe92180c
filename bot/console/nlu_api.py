"""The ops console's NLU editor (issue 13, item 2): intents, examples, FAQ keys and answers.

    GET    /api/ops/nlu/intents                   intents and FAQ keys (with titles), example counts,
                                                  the domain's entities and the personas
    GET    /api/ops/nlu/intents/<intent>/examples examples (text, plain, entities, file); answers of a
                                                  retrieval key (faq/x, chitchat/x)
    POST   /api/ops/nlu/examples                  {intent, text, spans?, force?}        add
    PUT    /api/ops/nlu/examples                  {intent, old, text, spans?, force?, file?}  edit
    DELETE /api/ops/nlu/examples                  {intent, text, file?}                 delete
    POST   /api/ops/nlu/faq                       {key, title, examples, answers, force?}  new FAQ key
    PUT    /api/ops/nlu/answers/<key>             {answers}   the answers of faq/<key> (or chitchat/<key>)
    POST   /api/ops/nlu/preview                   {text, persona?}  an unsaved answer in each persona's voice
    POST   /api/ops/nlu/segment                   {text}      jieba words (the brand dictionary)
    POST   /api/ops/nlu/check                     {intent, text}  conflicts with other intents, nothing saved

All routes: ops and admin only; POST/PUT/DELETE need the session's CSRF token.
Every successful save is one git commit authored by the ops account
(ops_common.record_change); the answer carries its sha and the near-duplicate
warnings. An example that duplicates or nearly duplicates one of another
intent is refused (409, `conflicts`) unless the request says `force: true`.
Invalid input is 400, a refused save 409, each with a Chinese `error`; nothing
is written then. The files are edited by bot/console/nlu_data.py, which
re-reads any file changed on disk (a revert from the history tab, a developer)
before each call and refuses to write over a version it has not read.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.data_history import HistoryError
from bot.console.nlu_data import (
    FACTS_FILE,
    FAQ_KEY,
    NLU_DIR,
    PERSONAS_DIR,
    RESPONSES_DIR,
    TITLES_FILE,
    DuplicateExample,
    LossySave,
    NluData,
    NluDataError,
    annotate,
    split_intent,
    strip_annotations,
)
from bot.console.ops_common import (OPS_ROLES, WRITE_LOCK, api_errors, blocking, data_root, json_body,
                                    record_change, reply)
from bot.console.staff import Session, authorise

logger = logging.getLogger(__name__)

PREFIX = "/api/ops/nlu"
MAX_TEXT_CHARS = 2000          # check / segment / preview input; saves have their own limits
MAX_ITEMS = 200                # examples or answers in one request
_PERSONA_ID = re.compile(r"^[a-z0-9_-]{1,64}$")


class BadInput(NluDataError):
    """A request the page should not have sent (wrong types, missing fields)."""


# --------------------------------------------------------------------------- request fields


def text_field(body: Dict[str, Any], name: str, label: str, limit: int = MAX_TEXT_CHARS) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{label}不能为空")
    if len(value) > limit:
        raise BadInput(f"{label}太长了：{len(value)} 个字，最多 {limit} 个字")
    return value


def text_list(body: Dict[str, Any], name: str, label: str) -> List[str]:
    value = body.get(name)
    if isinstance(value, str):  # a textarea sent as is: one per line
        value = [line for line in value.splitlines() if line.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{label}应该是一组文字")
    if len(value) > MAX_ITEMS:
        raise BadInput(f"{label}一次最多 {MAX_ITEMS} 条")
    return value


def optional_file(body: Dict[str, Any]) -> Optional[str]:
    value = body.get("file")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadInput("文件名不对")
    return value


def forced(body: Dict[str, Any]) -> bool:
    return body.get("force") is True


def annotated(text: str, spans: Any) -> str:
    """`text` with the page's entity spans as Rasa markup; no spans: as typed."""
    if spans is None or spans == []:
        return text
    if not isinstance(spans, list) or len(spans) > 20:
        raise BadInput("实体标注格式不对")
    for span in spans:
        if not isinstance(span, dict):
            raise BadInput("实体标注格式不对")
        start, end = span.get("start"), span.get("end")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise BadInput("实体的位置必须是整数")
        if not isinstance(span.get("entity"), str) or not span["entity"].strip():
            raise BadInput("请选择实体类型")
        if span.get("value") is not None and not isinstance(span["value"], str):
            raise BadInput("实体的值必须是文字")
    # Offsets are in the text as typed; NluData strips the annotated text.
    return annotate(text, spans)


def retrieval_intent(key: str) -> str:
    """faq/<key> for a bare key, utter_faq/<key> or faq/<key>; chitchat likewise."""
    intent = key[len("utter_"):] if key.startswith("utter_") else key
    if "/" not in intent:
        intent = f"faq/{intent}"
    base, name = split_intent(intent)
    if base is None or not name:
        raise BadInput(f"{key} 不是问答（faq/… 或 chitchat/…）")
    return intent


def short(text: str, limit: int = 40) -> str:
    """The example as the consumer types it, cut for a commit subject."""
    text = " ".join(strip_annotations(str(text)).split())
    return text if len(text) <= limit else text[:limit] + "…"


# --------------------------------------------------------------------------- the editor


class NluEditor:
    """One NluData for the blueprint (created on first use: the history's
    worktree exists only once the server started) and the save-and-commit step."""

    def __init__(self, history: Optional[Any]) -> None:
        self.history = history
        self._nlu: Optional[NluData] = None
        self._open = threading.Lock()
        # A save and its commit go together: a second save of the same file in
        # between would end up in the first one's commit.
        self._saving = WRITE_LOCK

    @property
    def root(self) -> Path:
        return data_root(self.history)

    @property
    def nlu(self) -> NluData:
        with self._open:
            if self._nlu is None:
                self._nlu = NluData(self.root)
            return self._nlu

    # ----------------------------------------------------------------- reading

    def intents(self) -> Dict[str, Any]:
        nlu = self.nlu
        rows = nlu.intents()  # re-reads what changed on disk, domain.yml included
        return {"intents": rows, "entities": nlu.entities(), "personas": self.personas()}

    def personas(self) -> List[Dict[str, str]]:
        from bot.persona import load_persona

        found = []
        for path in sorted((self.root / PERSONAS_DIR).glob("*.yml")):
            try:
                found.append({"id": path.stem, "name": load_persona(path.stem, path.parent).name})
            except Exception:  # a broken persona file is the brand tab's business, not a reason to fail here
                logger.warning("persona %s could not be read", path.name)
        return found

    def known_intent(self, intent: str) -> Dict[str, Any]:
        for row in self.nlu.intents():
            if row["name"] == intent:
                return row
        raise BadInput(f"没有意图 {intent}")

    def examples(self, intent: str) -> Dict[str, Any]:
        row = self.known_intent(intent)
        answers: Optional[List[str]] = None
        if row["retrieval_intent"]:
            try:
                answers = self.nlu.answers(intent)
            except NluDataError:
                answers = []  # a key without a response yet: `rasa data validate` will say so
        return {"intent": intent, "title": row["title"], "retrieval_intent": row["retrieval_intent"],
                "examples": self.nlu.examples(intent), "answers": answers,
                "response": f"utter_{intent}" if row["retrieval_intent"] else None}

    def conflicts(self, intent: str, text: str) -> List[Dict[str, Any]]:
        """Examples of other intents `text` duplicates or nearly duplicates."""
        return self.titled(self.nlu.conflicts(intent, text))

    def titled(self, conflicts: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Each conflict with its FAQ title, which ops know better than the key."""
        titles = self.nlu.titles()
        for conflict in conflicts:
            base, key = split_intent(conflict["intent"])
            conflict["title"] = titles.get(key) if base == "faq" else None
        return conflicts

    def refuse_conflicts(self, intent: str, texts: Sequence[str], force: bool) -> None:
        """Without `force`, a duplicate or near duplicate in another intent is refused."""
        if force:
            return
        found: List[Dict[str, Any]] = []
        for text in texts:
            found += [{**c, "for": text} for c in self.conflicts(intent, text)]
        if found:
            first = found[0]
            how = "一样" if first["kind"] == "duplicate" else "很像"
            raise DuplicateExample(
                f"「{short(first['for'])}」和 {first['intent']} 的例句「{short(first['text'])}」{how}，"
                f"同一个意思只能教给一个意图。确定没问题可以点「仍然保存」", found)

    def segment(self, text: str) -> List[str]:
        return self.nlu.segment(text)

    # ----------------------------------------------------------------- preview

    def preview(self, text: str, persona_id: Optional[str]) -> List[Dict[str, str]]:
        """`text` rendered by the bot's NLG in each persona's voice (or one), unsaved.
        Placeholders are checked as a save would check them."""
        from bot.nlg import PersonaNaturalLanguageGenerator  # imports Rasa: only when asked
        from bot.persona import PersonaNotFound, load_facts, load_persona

        nlu = self.nlu
        nlu.reload()
        clean = nlu.check_answer(text)  # the save's own check: unknown placeholders, braces, length
        folder = self.root / PERSONAS_DIR
        if persona_id is not None:
            if not _PERSONA_ID.match(persona_id) or not (folder / f"{persona_id}.yml").is_file():
                raise BadInput(f"没有人设 {persona_id}")
            ids = [persona_id]
        else:
            ids = sorted(p.stem for p in folder.glob("*.yml"))
        facts = load_facts(str(self.root / FACTS_FILE))
        shown = []
        for pid in ids:
            try:
                persona = load_persona(pid, folder)
            except (PersonaNotFound, ValueError, KeyError) as exc:
                raise BadInput(f"人设 {pid} 读不出来：{exc}") from None
            # One signature phrase: {signature} renders the same on every keystroke.
            fixed = dataclasses.replace(persona, signature_phrases=persona.signature_phrases[:1])
            nlg = PersonaNaturalLanguageGenerator(persona=fixed, facts=facts)
            shown.append({"persona": pid, "name": persona.name,
                          "text": str(nlg.render_persona({"text": clean}).get("text") or "")})
        return shown

    # ----------------------------------------------------------------- saving

    def _editable_files(self) -> Dict[str, Optional[bytes]]:
        """The bytes of every file a save may write, to put back if its commit fails."""
        files: Dict[str, Optional[bytes]] = {}
        for directory in (NLU_DIR, RESPONSES_DIR):
            base = self.root / directory
            for path in sorted(base.glob("*.y*ml")) if base.is_dir() else []:
                files[f"{directory}/{path.name}"] = path.read_bytes()
        titles = self.root / TITLES_FILE
        files[TITLES_FILE] = titles.read_bytes() if titles.is_file() else None
        return files

    def _put_back(self, before: Dict[str, Optional[bytes]], paths: Sequence[str]) -> None:
        for rel in paths:
            path = self.root / rel
            old = before.get(rel)
            if old is None:
                path.unlink(missing_ok=True)
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(old)
            os.replace(tmp, path)
        self.nlu.reload()

    def save(self, who: Session, intent: str, change: Callable[[NluData], Any], message: str) -> Dict[str, Any]:
        """Run `change` (an NluData mutation of `intent` returning Saved) and commit
        exactly the files it changed. A failed commit puts the files back: a save
        is all or nothing."""
        with self._saving:
            before = self._editable_files()
            try:
                saved = change(self.nlu)
            except DuplicateExample as error:
                # `force` only overrides conflicts with other intents, never a repeat in the same one.
                error.force_allowed = bool(error.conflicts) and all(
                    c.get("intent") != intent for c in error.conflicts)
                raise
            paths = list(saved)
            try:
                sha = record_change(self.history, who, paths, message)
            except BaseException:
                logger.error("nlu: commit of %s failed; the files are put back", paths)
                self._put_back(before, paths)
                raise
            logger.info("nlu: %s saved %s as %s", who.account.username, paths, sha)
            return {"ok": True, "commit": sha, "files": paths, "warnings": self.titled(list(saved.warnings))}


# --------------------------------------------------------------------------- blueprint


def nlu_blueprint(history: Optional[Any] = None) -> Blueprint:
    """`history`: a bot.console.data_history.DataHistory (each save a commit), or None."""
    bp = Blueprint("ops_nlu")
    api_errors(bp, "NLU API")
    editor = NluEditor(history)

    @bp.exception(NluDataError)
    async def refused(request: Request, error: NluDataError) -> HTTPResponse:
        refusal = isinstance(error, (DuplicateExample, LossySave))
        status = 409 if refusal else 400
        logger.warning("NLU API: %s %s refused (%d): %s", request.method, request.path, status, error)
        body: Dict[str, Any] = {"error": str(error)}
        if isinstance(error, DuplicateExample):
            body["conflicts"] = error.conflicts
            body["force_allowed"] = getattr(error, "force_allowed", False)
        return reply(body, status)

    @bp.exception(HistoryError)
    async def not_committed(request: Request, error: HistoryError) -> HTTPResponse:
        logger.error("NLU API: %s %s: commit refused: %s", request.method, request.path, error)
        return reply({"error": f"没有保存：{error}", "paths": list(error.paths)}, 409)

    @bp.get(f"{PREFIX}/intents")
    async def intents(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        return reply(await blocking(editor.intents))

    @bp.get(f"{PREFIX}/intents/<intent:path>/examples")
    async def examples(request: Request, intent: str) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        return reply(await blocking(editor.examples, intent))

    @bp.post(f"{PREFIX}/examples")
    async def add(request: Request) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        intent = text_field(body, "intent", "意图")
        text = annotated(text_field(body, "text", "例句"), body.get("spans"))
        force, file = forced(body), optional_file(body)

        def change(nlu: NluData) -> Any:
            editor.known_intent(intent)
            editor.refuse_conflicts(intent, [text], force)
            return nlu.add_example(intent, text, file=file, force=force)
        return reply(await blocking(editor.save, who, intent, change, f"新增例句 {intent}：{short(text)}"))

    @bp.put(f"{PREFIX}/examples")
    async def edit(request: Request) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        intent = text_field(body, "intent", "意图")
        old = text_field(body, "old", "原来的例句")
        text = annotated(text_field(body, "text", "例句"), body.get("spans"))
        force, file = forced(body), optional_file(body)

        def change(nlu: NluData) -> Any:
            editor.known_intent(intent)
            editor.refuse_conflicts(intent, [text], force)
            return nlu.edit_example(intent, old, text, file=file, force=force)
        message = f"修改例句 {intent}：{short(old)} → {short(text)}"
        return reply(await blocking(editor.save, who, intent, change, message))

    @bp.delete(f"{PREFIX}/examples", ignore_body=False)
    async def delete(request: Request) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        intent = text_field(body, "intent", "意图")
        text = text_field(body, "text", "例句")
        file = optional_file(body)

        def change(nlu: NluData) -> Any:
            return nlu.delete_example(intent, text, file=file)
        return reply(await blocking(editor.save, who, intent, change, f"删除例句 {intent}：{short(text)}"))

    @bp.post(f"{PREFIX}/faq")
    async def create_faq(request: Request) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        key = text_field(body, "key", "问答的键", 64).strip()
        if not FAQ_KEY.match(key):
            raise BadInput("问答的键只能用小写字母开头，由小写字母、数字和下划线组成，2-41 个字符，例如 gift_wrap")
        title = text_field(body, "title", "标题")
        phrasings = text_list(body, "examples", "问法")
        answers = text_list(body, "answers", "回答")
        force = forced(body)

        def change(nlu: NluData) -> Any:
            editor.refuse_conflicts(f"faq/{key}", [p.strip() for p in phrasings], force)
            return nlu.create_faq(key, title, phrasings, answers, force=force)
        return reply(await blocking(editor.save, who, f"faq/{key}", change, f"新建问答 faq/{key}：{short(title)}"))

    @bp.put(f"{PREFIX}/answers/<key:path>")
    async def set_answers(request: Request, key: str) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        intent = retrieval_intent(key)
        answers = text_list(body, "answers", "回答")

        def change(nlu: NluData) -> Any:
            return nlu.set_answers(f"utter_{intent}", answers)
        return reply(await blocking(editor.save, who, intent, change, f"修改回答 utter_{intent}"))

    @bp.post(f"{PREFIX}/preview")
    async def preview(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        text = text_field(body, "text", "回答")
        persona = body.get("persona")
        if persona is not None and not isinstance(persona, str):
            raise BadInput("人设编号不对")
        return reply({"previews": await blocking(editor.preview, text, persona or None)})

    @bp.post(f"{PREFIX}/segment")
    async def segment(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        text = text_field(json_body(request), "text", "句子")
        return reply({"tokens": await blocking(editor.segment, text)})

    @bp.post(f"{PREFIX}/check")
    async def check(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        intent = text_field(body, "intent", "意图", 100)
        text = text_field(body, "text", "例句")
        return reply({"conflicts": await blocking(editor.conflicts, intent, text)})

    return bp
