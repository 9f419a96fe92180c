"""One console training job, run as its own process (issue 13, item 5).

    python -m bot.console.train_job <job id>

Started by bot/console/training.py; the job record (`console:train:job:<id>`)
says who asked, from which data folder and whether to finetune. Steps, each
recorded in the job (status, stage, and a heartbeat so the console notices a
job that died):

1. snapshot: the training inputs are copied into the job's folder, so an edit
   saved while the job runs is neither half in this model nor lost (the next
   job trains it). The model is named after the snapshot's fingerprint.
2. validate: `rasa data validate` on the snapshot; errors are kept with the
   file and line they point at. A failed validation ends the job: nothing that
   failed it is trained, so nothing that failed it can go live.
3. train: `rasa train` (Rasa's cache keeps every component whose inputs did not
   change), or `--finetune` from the live model with a fraction of the epochs;
   a finetune Rasa refuses (the domain changed) falls back to a full training.
   Skipped when a model of the same fingerprint exists ("nothing changed" is
   said, not hidden). Then the FAQ embedding model for the action server.
4. compare: the new model against the live one (bot/console/model_compare.py),
   written into the model's sidecar, which activation requires.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bot import model_files
from bot.console import model_compare
from bot.console import model_registry as registry
from common import model_fingerprint

JOB_PREFIX = "console:train:job:"
RUNNING_KEY = "console:train:running"
HEARTBEAT_S = 10
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
# a finetune runs this fraction of the configured epochs (CONSOLE_FINETUNE_EPOCH_FRACTION)
FINETUNE_EPOCH_FRACTION = os.environ.get("CONSOLE_FINETUNE_EPOCH_FRACTION", "").strip() or "0.25"
ROOT = model_files.ROOT
SNAPSHOT_FILES = ("config.yml", "domain.yml")
ERROR_LINE = re.compile(r"(error|failed|exception|issue found|invalid|cannot|conflict)", re.IGNORECASE)
FILE_REF = re.compile(r"((?:data/[\w./-]+\.ya?ml)|domain\.yml|config\.yml)")
LINE_REF = re.compile(r"[Ll]ine:? ?(\d+)")


def job_dir(job_id: str) -> Path:
    return ROOT / ".cache" / "console-train" / job_id


def log_path(job_id: str) -> Path:
    return job_dir(job_id) / "train.log"


class Job:
    def __init__(self, redis: Any, job_id: str) -> None:
        self.redis, self.id = redis, job_id
        self.key = JOB_PREFIX + job_id
        raw = {k.decode(): v.decode() for k, v in redis.hgetall(self.key).items()}
        if not raw:
            raise SystemExit(f"no such job {job_id}")
        self.record = raw
        self.log = log_path(job_id).open("ab")

    def update(self, **fields: Any) -> None:
        values = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in fields.items()}
        self.redis.hset(self.key, mapping={**values, "heartbeat": str(time.time())})

    def say(self, line: str) -> None:
        self.log.write(f"==> {line}\n".encode())
        self.log.flush()

    def run(self, args: List[str], cwd: Path, env: Optional[Dict[str, str]] = None) -> int:
        self.say(" ".join(args[1:]))
        return subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})},
                              stdout=self.log, stderr=subprocess.STDOUT).returncode


def snapshot(data_root: Path, target: Path) -> None:
    """Copy everything that shapes a model (common/model_fingerprint.py) out of the data folder."""
    for name in SNAPSHOT_FILES:
        shutil.copy2(data_root / name, target / name)
    for folder in model_fingerprint.MODEL_INPUT_DIRS:
        if (data_root / folder).is_dir():
            shutil.copytree(data_root / folder, target / folder)
    for folder in model_fingerprint.MODEL_CODE_DIRS:  # code from this checkout: it is what runs
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in model_fingerprint.FAQ_TRAINING_CODE:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def readable_errors(output: str, snapshot_root: Path) -> List[Dict[str, Any]]:
    """Validation output as [{file, line, message}], paths as ops know them (not the snapshot's)."""
    errors: List[Dict[str, Any]] = []
    for raw in output.replace(str(snapshot_root) + "/", "").splitlines():
        line = raw.strip()
        if not line or "is not used in any story" in line or not ERROR_LINE.search(line):
            continue
        file_match, line_match = FILE_REF.search(line), LINE_REF.search(line)
        errors.append({"file": file_match.group(1) if file_match else "",
                       "line": int(line_match.group(1)) if line_match else None,
                       "message": line[:500]})
    return errors[:50]


def data_args(snapshot_root: Path) -> List[str]:
    folders = [str(snapshot_root / d) for d in model_fingerprint.TRAINING_DATA_DIRS if (snapshot_root / d).is_dir()]
    return ["--data", *folders, "--domain", str(snapshot_root / "domain.yml"),
            "--config", str(snapshot_root / "config.yml")]


def heartbeat(job: Job, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        job.redis.hset(job.key, "heartbeat", str(time.time()))
        job.redis.set(RUNNING_KEY, job.id, ex=HEARTBEAT_S * 6)


def train(job: Job, snap: Path, target: Path, finetune_from: Optional[Path]) -> None:
    env = {"RASA_CACHE_DIRECTORY": str(ROOT / ".rasa" / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(ROOT)}
    base = model_files.rasa_cli() + ["train", "-v", "--out", str(target.parent),
                                      "--fixed-model-name", registry.model_etag(target)] + data_args(snap)
    started = time.monotonic()
    if finetune_from is not None:
        job.update(stage="finetune")
        code = job.run(base + ["--finetune", str(finetune_from), "--epoch-fraction", FINETUNE_EPOCH_FRACTION],
                       cwd=snap, env=env)
        if code == 0 and target.is_file():
            job.update(train_kind="finetune", train_s=round(time.monotonic() - started, 1))
            return
        job.say("finetuning was refused (usually: the domain or the config changed); training in full")
        started = time.monotonic()
    job.update(stage="train")
    if job.run(base, cwd=snap, env=env) != 0 or not target.is_file():
        raise JobFailed("训练失败，详情见完整日志", [])
    job.update(train_kind="full", train_s=round(time.monotonic() - started, 1))


class JobFailed(Exception):
    def __init__(self, message: str, errors: List[Dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


def execute(job: Job) -> None:
    folder = job_dir(job.id)
    snap = folder / "data"
    if snap.exists():
        shutil.rmtree(snap)
    snap.mkdir(parents=True)
    data_root = Path(job.record.get("data_root") or ROOT)
    job.update(status="running", stage="snapshot")
    snapshot(data_root, snap)
    target = registry.models_dir() / f"nlu-core-{model_fingerprint.fingerprint(snap)}.tar.gz"
    job.update(model=target.name)

    job.update(stage="validate")
    job.say("rasa data validate")
    result = subprocess.run(model_files.rasa_cli() + ["data", "validate"] + data_args(snap), cwd=snap,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    job.log.write((result.stdout + result.stderr).encode())
    if result.returncode != 0:
        raise JobFailed("数据校验没通过，模型没有训练", readable_errors(result.stdout + result.stderr, snap))

    production = registry.production_sync(job.redis)
    active = registry.models_dir() / production if production else None
    active = active if active and active.is_file() else None
    with model_files.training_lock():
        if target.is_file():
            job.say(f"{target.name} already exists: this data was trained before, nothing to train")
            job.update(train_kind="unchanged", train_s=0)
        else:
            finetune = job.record.get("finetune") == "1" and active is not None
            train(job, snap, target, active if finetune else None)
        job.update(stage="embeddings")
        model_files.train_faq_embeddings(target, log=job.log, data_root=snap)  # the snapshot's examples

    job.update(stage="compare")
    holdout = {k.decode(): v.decode() for k, v in job.redis.hgetall(model_compare.HOLDOUT_KEY).items()}
    meta = registry.read_meta(target)
    if model_compare.still_valid(meta.get("comparison"), target, active, holdout):
        job.say("same model, same live model, same test messages: the earlier comparison still holds")
        report = meta["comparison"]
    else:
        report = model_compare.run_comparison(target, active, holdout)
    meta.update({"job": job.id, "trained_by": meta.get("trained_by") or job.record.get("by", ""),
                 "trained_at": meta.get("trained_at") or time.time(), "commit": job.record.get("commit", ""),
                 "comparison": report})
    registry.write_meta(target, meta)
    job.update(status="done", stage="done", finished=str(time.time()), summary=report["summary"])


def main() -> None:
    from bot.redis_conn import make_sync_redis

    job_id = sys.argv[1]
    redis = make_sync_redis()
    job = Job(redis, job_id)
    stop = threading.Event()
    threading.Thread(target=heartbeat, args=(job, stop), daemon=True).start()
    try:
        execute(job)
    except JobFailed as failure:
        job.say(str(failure))
        job.update(status="failed", error=str(failure), errors=failure.errors, finished=str(time.time()))
    except Exception as error:  # noqa: BLE001 - the console must learn the job ended
        job.say(f"unexpected error: {error!r}")
        job.update(status="failed", error=f"训练任务出错：{type(error).__name__}", finished=str(time.time()))
        raise
    finally:
        stop.set()
        redis.eval(RELEASE, 1, RUNNING_KEY, job.id)


if __name__ == "__main__":
    main()
