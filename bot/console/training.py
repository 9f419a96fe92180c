"""Console training jobs: start one, watch it, read its whole log (issue 13, item 5).

    POST /api/ops/train                 ops, admin + CSRF: {"finetune": bool}; 409 while one runs
    GET  /api/ops/train                 the last jobs
    GET  /api/ops/train/<id>            one job: status, stage, progress, validation errors, comparison
    GET  /api/ops/train/<id>/log?offset=N   the log from byte N (the page follows it live)
    GET  /api/ops/models/<name>/comparison  the comparison report of a trained model
    POST /api/ops/holdout               ops + CSRF: {"text", "label"} marks a test message
    DELETE /api/ops/holdout             ops + CSRF: {"text"}

The job runs in its own process (bot/console/train_job.py): a console restart
neither stops nor loses it. `console:train:running` (renewed by the job's
heartbeat) lets one job run at a time; a job whose heartbeat stopped for a
minute is reported as failed, not as running forever.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console import model_registry as registry
from bot.console.model_compare import HOLDOUT_KEY
from bot.console.ops_common import OPS_ROLES, api_errors, blocking, json_body
from bot.console.staff import API_HEADERS, Refusal, authorise
from bot.console.train_job import JOB_PREFIX, RUNNING_KEY, log_path
from bot.model_files import ROOT
from bot.redis_conn import get_redis

logger = logging.getLogger(__name__)

JOBS_KEY = "console:train:jobs"
KEEP_JOBS = 50
DEAD_AFTER_S = 60.0
LOG_CHUNK = 64_000
JOB_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$")
EPOCHS = re.compile(rb"Epochs:\s+(\d+)%")
LABEL = re.compile(r"^[a-z_]+(/[a-z0-9_]+)?$")
STAGES = ("queued", "snapshot", "validate", "finetune", "train", "embeddings", "compare", "done")
JSON_FIELDS = ("errors", "summary", "finetune_requested")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def training_components() -> int:
    """How many components a full training trains (pipeline + policies): the progress bar's length."""
    path = ROOT / "config.yml"
    return _components_in(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _components_in(path: str, _mtime_ns: int) -> int:
    """Parsed once per version of config.yml, not on every progress poll."""
    import yaml

    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return max(1, len(config.get("pipeline") or []) + len(config.get("policies") or []))


def progress(job_id: str, stage: str) -> Dict[str, Any]:
    """Read from the job's log: components done (trained or restored from Rasa's cache) and the current epochs."""
    if stage in ("done",):
        return {"percent": 100, "component": ""}
    path = log_path(job_id)
    try:
        data = path.read_bytes()
    except OSError:
        return {"percent": 0, "component": ""}
    done = data.count(b"Finished training component") + data.count(b"from cache.")
    current = re.findall(rb"Starting to train component '(\w+)'", data)
    epochs = EPOCHS.findall(data[-4000:])
    total = training_components()
    fraction = min(1.0, (done + (int(epochs[-1]) / 100 if epochs else 0)) / total)
    base = {"snapshot": 0, "validate": 2, "finetune": 5, "train": 5, "embeddings": 88, "compare": 92}.get(stage, 0)
    percent = base if stage not in ("train", "finetune") else 5 + round(83 * fraction)
    return {"percent": percent, "component": current[-1].decode() if current else "",
            "components_done": done, "components": total}


def job_view(raw: Dict[Any, Any]) -> Dict[str, Any]:
    job = {_text(k): _text(v) for k, v in raw.items()}
    for name in JSON_FIELDS:
        if name in job:
            try:
                job[name] = json.loads(job[name])
            except ValueError:
                pass
    if job.get("status") in ("queued", "running") and \
            time.time() - float(job.get("heartbeat") or job.get("created") or 0) > DEAD_AFTER_S:
        job["status"], job["error"] = "failed", "训练进程意外退出（没有心跳），请重新训练"
    job["progress"] = progress(job.get("id", ""), job.get("stage", ""))
    return job


def spawn(job_id: str) -> None:
    """The job's own process, detached: it outlives a console restart."""
    log = log_path(job_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "bot.console.train_job", job_id], cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"},
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    # reaped when it ends (no zombie under the console); a console restart leaves it to init
    threading.Thread(target=child.wait, name=f"train-job-{job_id}", daemon=True).start()


def training_blueprint(data_root: Optional[callable] = None, head_commit: Optional[callable] = None) -> Blueprint:
    """`data_root()` / `head_commit()`: where the console's data lives and its commit (bot/console/app.py)."""
    bp = Blueprint("ops_training")

    api_errors(bp, "Training API", "training storage unavailable")

    @bp.post("/api/ops/train")
    async def start(request: Request) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        redis = get_redis()
        job_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
        if not await redis.set(RUNNING_KEY, job_id, nx=True, ex=int(DEAD_AFTER_S * 2)):
            running = _text(await redis.get(RUNNING_KEY) or b"")
            return response.json({"error": "已经有一个训练在进行，等它结束再开始", "job": running},
                                 status=409, headers=API_HEADERS)
        root = (data_root() if data_root else None) or ROOT
        record = {"id": job_id, "by": who.account.username, "created": str(time.time()),
                  "heartbeat": str(time.time()), "status": "queued", "stage": "queued",
                  "finetune": "1" if body.get("finetune") else "0", "data_root": str(root),
                  "commit": (await blocking(head_commit) if head_commit else "") or ""}  # git: off the loop
        await redis.hset(JOB_PREFIX + job_id, mapping=record)
        await redis.lpush(JOBS_KEY, job_id)
        await redis.ltrim(JOBS_KEY, 0, KEEP_JOBS - 1)
        spawn(job_id)
        logger.info("training job %s started by %s (finetune=%s)", job_id, who.account.username, record["finetune"])
        return response.json(job_view(record), status=202, headers=API_HEADERS)

    @bp.get("/api/ops/train")
    async def jobs(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        redis = get_redis()
        raws = [await redis.hgetall(JOB_PREFIX + _text(job_id)) for job_id in await redis.lrange(JOBS_KEY, 0, 19)]
        found = await blocking(lambda: [job_view(raw) for raw in raws if raw])  # each reads its log
        return response.json({"jobs": found}, headers=API_HEADERS)

    async def one(request: Request, job_id: str) -> Dict[str, Any]:
        await authorise(request, roles=OPS_ROLES)
        if not JOB_ID.match(job_id):
            raise Refusal(404, "no such job")
        raw = await get_redis().hgetall(JOB_PREFIX + job_id)
        if not raw:
            raise Refusal(404, "no such job")
        return await blocking(job_view, raw)  # reads the job's log: off the event loop

    @bp.get("/api/ops/train/<job_id>")
    async def job(request: Request, job_id: str) -> HTTPResponse:
        return response.json(await one(request, job_id), headers=API_HEADERS)

    @bp.get("/api/ops/train/<job_id>/log")
    async def log(request: Request, job_id: str) -> HTTPResponse:
        await one(request, job_id)
        try:
            offset = max(0, int(request.args.get("offset", 0)))
        except ValueError:
            offset = 0
        path = log_path(job_id)
        size = path.stat().st_size if path.exists() else 0
        with open(path, "rb") if path.exists() else open(os.devnull, "rb") as source:
            source.seek(min(offset, size))
            chunk = source.read(LOG_CHUNK)
        # tqdm redraws with carriage returns: show each redraw as a line
        text = chunk.decode("utf-8", errors="replace").replace("\r", "\n")
        return response.json({"offset": offset + len(chunk), "size": size, "text": text}, headers=API_HEADERS)

    @bp.get("/api/ops/models/<name>/comparison")
    async def comparison(request: Request, name: str) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        try:
            path = registry.model_path(name)
        except registry.RegistryError:
            raise Refusal(404, "no such model")
        report = registry.read_meta(path).get("comparison")
        if not path.is_file() or not report:
            raise Refusal(404, "this model has no comparison")
        return response.json(report, headers=API_HEADERS)

    @bp.post("/api/ops/holdout")
    async def mark(request: Request) -> HTTPResponse:
        who = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        text, label = str(body.get("text") or "").strip(), str(body.get("label") or "").strip()
        if not text or len(text) > 200 or not LABEL.match(label):
            raise Refusal(400, "需要一条消息和它应有的意图（如 faq/shipping_fee）")
        await get_redis().hset(HOLDOUT_KEY, text, label)
        logger.info("holdout: %s marked a test message as %s", who.account.username, label)
        return response.json({"text": text, "label": label}, headers=API_HEADERS)

    @bp.get("/api/ops/holdout")
    async def holdout(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        rows = await get_redis().hgetall(HOLDOUT_KEY)
        return response.json({"holdout": [{"text": _text(k), "label": _text(v)} for k, v in rows.items()]},
                             headers=API_HEADERS)

    @bp.delete("/api/ops/holdout")
    async def unmark(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        removed = await get_redis().hdel(HOLDOUT_KEY, str(body.get("text") or ""))
        return response.json({"removed": removed}, headers=API_HEADERS)

    return bp
