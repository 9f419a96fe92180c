"""Benchmark the ops console's way to production (issue 13). One JSON object per line:

- `model_activation`: while 20 conversations talk to the REST webhook, an admin
  activates a new model in the console, then rolls back. For each switch: seconds
  from "activate" until every Rasa worker serves it, and the requests of the load
  that failed (an HTTP error, no reply at all, or nothing but an outage apology).
  The new model is the current one copied under another name: what Rasa sees as a
  new model, so the time is the pull and the load, not a training.
- `incremental_train`: one example added to a copy of the data, then a full
  `rasa train` with Rasa's cache (what `make train` does) and a `--finetune` from
  the current model with the console's epoch fraction: wall seconds of each.

    .venv/rasa/bin/python scripts/bench_ops_console.py [--skip-train]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bot import redis_conn  # noqa: E402
from bot.console import staff  # noqa: E402
from bot.console.train_job import FINETUNE_EPOCH_FRACTION, data_args, snapshot  # noqa: E402
from bot.model_files import ensure_current_model, rasa_cli  # noqa: E402
from bot.redis_server import free_port  # noqa: E402
from bot.stack import ROOT, Stack  # noqa: E402
from scripts.bench_rest import send, webhook_url  # noqa: E402
from tests.e2e.replies import apology_texts  # noqa: E402

LOAD_USERS = 20
LOAD_TEXTS = ["你好", "多少钱包邮", "签到", "积分会过期吗", "退货流程是什么", "油皮用哪款防晒"]
NEW_EXAMPLE = ("faq/shipping_fee", "满多少可以不要运费呀")


class Load:
    """LOAD_USERS conversations sending their next message as soon as answered, until stopped."""

    def __init__(self, stack: Stack) -> None:
        self.url, self.token = webhook_url(stack), stack.rasa_token
        self.stop = threading.Event()
        self.sent = self.failed = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.talk, args=(u,), daemon=True) for u in range(LOAD_USERS)]

    def talk(self, user: int) -> None:
        sender, turn = f"bench-activate-{secrets.token_hex(3)}-{user}", 0
        while not self.stop.is_set():
            ok = self.one(sender, LOAD_TEXTS[turn % len(LOAD_TEXTS)])
            turn += 1
            with self.lock:
                self.sent += 1
                self.failed += 0 if ok else 1

    def one(self, sender: str, text: str) -> bool:
        try:
            answer = requests.post(self.url, json={"sender": sender, "message": text}, timeout=60,
                                   headers={"Authorization": f"Bearer {self.token}"})
        except requests.RequestException:
            return False
        if answer.status_code != 200:
            return False
        texts = [m.get("text") for m in answer.json() if m.get("text")]
        return bool(texts) and not all(t in apology_texts() for t in texts)

    def counts(self) -> Dict[str, int]:
        with self.lock:
            return {"sent": self.sent, "failed": self.failed}

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(90)


def admin_session(stack: Stack) -> requests.Session:
    name, password = f"bench-admin-{secrets.token_hex(3)}", secrets.token_hex(12)

    async def create() -> None:
        client = redis_conn.make_redis(stack.redis_url)
        try:
            await staff.save_account(client, name, "admin", password)
        finally:
            await client.close()
    asyncio.run(create())
    session = requests.Session()
    answer = session.post(f"{stack.console_url}/api/staff/login", json={"username": name, "password": password},
                          timeout=10)
    answer.raise_for_status()
    session.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return session


def all_serving(stack: Stack, admin: requests.Session, model: str, timeout_s: float = 600) -> float:
    """Seconds until every live Rasa worker reports `model` loaded."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        rows = [r for r in admin.get(f"{stack.console_url}/api/ops/models", timeout=10).json()["serving"] if r["live"]]
        if len(rows) >= 2 and all(r["model"] == model and not r["loading"] for r in rows):
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"not every worker serves {model} after {timeout_s} s")


def switch(stack: Stack, admin: requests.Session, load: Load, kind: str, model: str) -> dict:
    before = load.counts()
    answer = admin.post(f"{stack.console_url}/api/ops/models/{kind}", json={"model": model}, timeout=30)
    answer.raise_for_status()
    seconds = all_serving(stack, admin, model)
    time.sleep(5)  # requests in flight when the last worker switched
    after = load.counts()
    return {"benchmark": "model_activation", "switch": kind, "concurrent_users": LOAD_USERS,
            "seconds_to_every_worker": round(seconds, 1), "requests_during": after["sent"] - before["sent"],
            "failed_requests": after["failed"] - before["failed"]}


def activation_under_load(model: Path) -> List[dict]:
    twin = model.with_name(f"nlu-core-bench{secrets.token_hex(3)}.tar.gz")
    meta = twin.with_name(twin.name[: -len(".tar.gz")] + ".meta.json")
    shutil.copy2(model, twin)
    meta.write_text(json.dumps({"comparison": {"active": model.name, "summary": {"cases": 0}}}))
    rows = []
    with tempfile.TemporaryDirectory() as run_dir:
        stack = Stack(model=model, rasa_port=free_port(), actions_port=free_port(), console_port=free_port(),
                      rasa_token=secrets.token_hex(8), run_dir=Path(run_dir), extra_env={"FLOOD_MAX_MESSAGES": "0"})
        try:
            stack.start(redis_port=free_port())
            admin = admin_session(stack)
            all_serving(stack, admin, model.name)
            send(webhook_url(stack), stack.rasa_token, "warm-up", "你好")
            with Load(stack) as load:
                time.sleep(10)  # the load settles before the switch
                rows.append(switch(stack, admin, load, "activate", twin.name))
                rows.append(switch(stack, admin, load, "rollback", model.name))
        finally:
            stack.stop()
            twin.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
    return rows


def timed_train(args: List[str], cwd: Path, log: Path) -> float:
    env = {**os.environ, "RASA_CACHE_DIRECTORY": str(ROOT / ".rasa" / "cache"), "PYTHONPATH": str(ROOT),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.monotonic()
    with open(log, "ab") as out:
        subprocess.run(rasa_cli() + args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.monotonic() - started


def incremental_train(model: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        snapshot(ROOT, data)
        intent, text = NEW_EXAMPLE
        faq = data / "data" / "nlu" / "faq.yml"
        lines = faq.read_text(encoding="utf-8").splitlines()
        at = next(i for i, line in enumerate(lines) if line.strip() == f"- intent: {intent}")
        examples = next(i for i in range(at, len(lines)) if lines[i].strip().startswith("examples:"))
        indent = lines[examples + 1][: len(lines[examples + 1]) - len(lines[examples + 1].lstrip())]
        lines.insert(examples + 1, f"{indent}- {text}")
        faq.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = Path(tmp) / "out"
        base = ["train", "--out", str(out)] + data_args(data)
        log = ROOT / ".cache" / "bench-incremental-train.log"
        full = timed_train(base + ["--fixed-model-name", "full"], data, log)
        try:
            finetune: Optional[float] = round(timed_train(
                base + ["--fixed-model-name", "finetune", "--finetune", str(model),
                        "--epoch-fraction", FINETUNE_EPOCH_FRACTION], data, log), 1)
        except subprocess.CalledProcessError:
            finetune = None  # Rasa refused (its reason is at the end of the log): the console trains in full
    return {"benchmark": "incremental_train", "added_examples": 1, "full_with_cache_s": round(full, 1),
            "finetune_s": finetune, "finetune_epoch_fraction": float(FINETUNE_EPOCH_FRACTION)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-train", action="store_true", help="only the activation under load")
    args = parser.parse_args()
    model = Path(ensure_current_model())
    for row in activation_under_load(model):
        print(json.dumps(row, ensure_ascii=False), flush=True)
    if not args.skip_train:
        print(json.dumps(incremental_train(model), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
