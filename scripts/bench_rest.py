"""Benchmark: messages/s and latency through Rasa's REST webhook on a full
local stack (own Redis, action server, Rasa), at several concurrency levels,
and the same load on plain Rasa 3.6 (a `rasa init` bot, in-memory tracker, no
actions) started in the same run, with the ratio.
Prints one JSON object per line. Bounded: a fixed number of requests.
Calls our webhook as a trusted caller (RASA_TOKEN as Authorization: Bearer)."""
from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.model_files import ensure_current_model, rasa_cli  # noqa: E402
from bot.redis_server import free_port  # noqa: E402
from bot.stack import ROOT, Service, Stack  # noqa: E402

MESSAGES = ["你好", "多少钱包邮", "你是机器人吗", "怎么成为会员", "给我讲个笑话", "谢谢"]
PLAIN_MESSAGES = ["hello", "are you a bot?", "I am feeling great", "bye", "I am sad", "yes"]
LOADS = ((1, 30), (10, 10), (50, 4))
PLAIN_RASA_DIR = ROOT / ".cache" / "bench" / "plain-rasa"  # `rasa init` project, trained once


def send(url: str, token: str, sender: str, text: str) -> float:
    body = json.dumps({"sender": sender, "message": text}).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=body, headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return time.perf_counter() - started


def run(url: str, token: str, users: int, per_user: int, bot: str = "ours", messages=MESSAGES) -> dict:
    jobs = [(f"bench-{users}-{u}", messages[(u + i) % len(messages)]) for u in range(users) for i in range(per_user)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        latencies = sorted(pool.map(lambda job: send(url, token, *job), jobs))
    elapsed = time.perf_counter() - started
    return {
        "benchmark": "rest_webhook",
        "bot": bot,
        "concurrent_users": users,
        "messages": len(jobs),
        "messages_per_s": round(len(jobs) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
    }


def plain_rasa_model() -> Path:
    """A `rasa init` bot (the stock example), trained once and kept in .cache/bench/."""
    models = sorted((PLAIN_RASA_DIR / "models").glob("*.tar.gz"))
    if not models:
        PLAIN_RASA_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(rasa_cli() + ["init", "--no-prompt", "--init-dir", str(PLAIN_RASA_DIR)], cwd=PLAIN_RASA_DIR,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        models = sorted((PLAIN_RASA_DIR / "models").glob("*.tar.gz"))
    return models[-1]


def plain_rasa(run_dir: Path) -> list:
    """The same load on plain Rasa, one after the other with ours (never both at once on 2 cores)."""
    port = free_port()
    service = Service("plain_rasa", rasa_cli() + ["run", "--model", str(plain_rasa_model()), "--enable-api",
                                                  "--interface", "127.0.0.1", "--port", str(port),
                                                  "--endpoints", str(PLAIN_RASA_DIR / "endpoints.yml"),
                                                  "--credentials", str(PLAIN_RASA_DIR / "credentials.yml")],
                      f"http://127.0.0.1:{port}/", run_dir / "logs" / "plain_rasa.log")
    try:
        service.start({**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).wait(240)
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        send(url, "", "warm-up", "hello")
        return [run(url, "", users, per_user, "plain_rasa", PLAIN_MESSAGES) for users, per_user in LOADS]
    finally:
        service.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as run_dir:
        plain = plain_rasa(Path(run_dir))
        stack = Stack(
            model=ensure_current_model(), rasa_port=free_port(), actions_port=free_port(),
            console_port=free_port(), rasa_token=secrets.token_hex(8), run_dir=Path(run_dir),
            # 30 messages from one user measure Rasa, not the flood limit (bench_channels covers that).
            extra_env={"FLOOD_MAX_MESSAGES": "0"},
        )
        try:
            stack.start(redis_port=free_port(), with_console=False)
            url = f"{stack.rasa_url}/webhooks/rest/webhook"
            send(url, stack.rasa_token, "warm-up", "你好")
            for (users, per_user), theirs in zip(LOADS, plain):
                ours = run(url, stack.rasa_token, users, per_user)
                ours["throughput_vs_plain_rasa"] = round(ours["messages_per_s"] / theirs["messages_per_s"], 2)
                for result in (theirs, ours):
                    print(json.dumps(result, ensure_ascii=False), flush=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
