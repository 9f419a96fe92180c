"""Benchmark: messages/s and latency through Rasa's REST webhook on a full
local stack (own Redis, action server, Rasa), at several concurrency levels.
Prints one JSON object per line. Bounded: a fixed number of requests."""
from __future__ import annotations

import json
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.model_files import ensure_current_model  # noqa: E402
from bot.redis_server import free_port  # noqa: E402
from bot.stack import Stack  # noqa: E402

MESSAGES = ["你好", "多少钱包邮", "你是机器人吗", "怎么成为会员", "给我讲个笑话", "谢谢"]


def send(url: str, sender: str, text: str) -> float:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return time.perf_counter() - started


def run(url: str, users: int, per_user: int) -> dict:
    jobs = [(f"bench-{users}-{u}", MESSAGES[(u + i) % len(MESSAGES)]) for u in range(users) for i in range(per_user)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        latencies = sorted(pool.map(lambda job: send(url, *job), jobs))
    elapsed = time.perf_counter() - started
    return {
        "benchmark": "rest_webhook",
        "concurrent_users": users,
        "messages": len(jobs),
        "messages_per_s": round(len(jobs) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as run_dir:
        stack = Stack(
            model=ensure_current_model(), rasa_port=free_port(), actions_port=free_port(),
            console_port=free_port(), rasa_token=secrets.token_hex(8), run_dir=Path(run_dir),
            # 30 messages from one user measure Rasa, not the flood limit (bench_channels covers that).
            extra_env={"FLOOD_MAX_MESSAGES": "0"},
        )
        try:
            stack.start(redis_port=free_port(), with_console=False)
            url = f"{stack.rasa_url}/webhooks/rest/webhook"
            send(url, "warm-up", "你好")
            for users, per_user in ((1, 30), (10, 10), (50, 4)):
                print(json.dumps(run(url, users, per_user), ensure_ascii=False), flush=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
