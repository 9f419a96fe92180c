"""Benchmark the whole bot through Rasa's REST webhook, beside plain Rasa 3.6.

One run, one machine, one after the other (never both at once on 2 cores):
- plain Rasa 3.6.21, a `rasa init` bot (in-memory tracker, no actions);
- our full stack (own Redis as tracker and lock store, action server, Rasa).
Results, one JSON object per line:
- `rest_webhook`: messages/s and p50/p95/p99 at 1, 20, 50 and 200 concurrent
  conversations; ours twice, with repeated campaign keywords (签到, 抽奖…) and
  with varied messages never sent twice (every example of data/nlu once, so no
  cache can help), each with its ratio to plain Rasa at the same concurrency;
- `long_conversation`: median latency of turns 1–20 and 181–200 of one
  conversation (tracker growth), for both bots;
- `campaign_burst`: 1,000 customers send 签到 within 10 s; time until the last
  reply, replies missing, and check-ins lost or counted twice (read in Redis);
- `memory`: memory of each process (with its workers, PSS) after the load;
- `training`: how long the current model took to train (bot.model_files).
Calls our webhook as a trusted caller (RASA_TOKEN as Authorization: Bearer).

    .venv/rasa/bin/python scripts/bench_rest.py [--quick]
    .venv/rasa/bin/python scripts/bench_rest.py --soak 30 [--rate 10]   # not part of `make bench`

The soak runs at a fixed rate (default half the varied-message peak at 50
conversations of the last run) and prints errors (no answer, or only an outage
apology), latency and memory each minute: both must stay flat.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import psutil  # noqa: E402
import yaml  # noqa: E402

from bot.model_files import ensure_current_model, rasa_cli, training_times_path  # noqa: E402
from bot.redis_server import free_port  # noqa: E402
from bot.stack import ROOT, Service, Stack  # noqa: E402
from tests.e2e.customers import checkin_totals  # noqa: E402

CAMPAIGN_MESSAGES = ["签到", "抽奖", "我的优惠券", "今天签到了吗", "签到", "我的奖品"]
PLAIN_MESSAGES = ["hello", "are you a bot?", "I am feeling great", "bye", "I am sad", "yes"]
LOADS = ((1, 30), (20, 10), (50, 8), (200, 3))
QUICK_LOADS = ((1, 10), (50, 2))
TURN_MESSAGES = ["你好", "多少钱包邮", "签到", "今天签到了吗", "我的优惠券", "油皮用哪款防晒", "给我讲个笑话",
                 "积分会过期吗", "谢谢", "怎么成为会员", "退货流程是什么", "你是机器人吗"]
BURST_CUSTOMERS, BURST_WINDOW_S = 1000, 10.0
PLAIN_RASA_DIR = ROOT / ".cache" / "bench" / "plain-rasa"  # `rasa init` project, trained once
_ANNOTATION = re.compile(r"\[([^\]]+)\](\{[^}]*\}|\([^)]*\))")


def send(url: str, token: str, sender: str, text: str) -> float:
    body = json.dumps({"sender": sender, "message": text}).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=body, headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - started


def percentile(sorted_values: Sequence[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


def latency_fields(latencies: List[float]) -> Dict[str, float]:
    latencies = sorted(latencies)
    return {"p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1)}


def closed_loop(url: str, token: str, users: int, per_user: int, texts: Iterator[str], bot: str, mix: str) -> dict:
    """`users` conversations at once, each sending its next message when answered."""
    run_id = secrets.token_hex(3)
    jobs = [[(f"bench-{run_id}-{users}-{u}", next(texts)) for _ in range(per_user)] for u in range(users)]

    def conversation(turns: List[Tuple[str, str]]) -> List[float]:
        return [send(url, token, sender, text) for sender, text in turns]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        latencies = [latency for turns in pool.map(conversation, jobs) for latency in turns]
    elapsed = time.perf_counter() - started
    return {"benchmark": "rest_webhook", "bot": bot, "messages_mix": mix, "concurrent_users": users,
            "messages": len(latencies), "messages_per_s": round(len(latencies) / elapsed, 1),
            **latency_fields(latencies)}


def long_conversation(url: str, token: str, bot: str, messages: Sequence[str], turns: int = 200) -> dict:
    sender = f"bench-long-{secrets.token_hex(3)}"
    latencies = [send(url, token, sender, messages[turn % len(messages)]) for turn in range(turns)]
    first, last = statistics.median(latencies[:20]), statistics.median(latencies[-20:])
    return {"benchmark": "long_conversation", "bot": bot, "turns": turns,
            "turns_1_20_p50_ms": round(first * 1000, 1), "turns_181_200_p50_ms": round(last * 1000, 1),
            "last_vs_first": round(last / first, 2)}


def varied_texts() -> List[str]:
    """Every training example once, shuffled: real consumer wording."""
    texts = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    texts.append(_ANNOTATION.sub(r"\1", line.strip()[2:]).strip())
    texts = sorted(set(t for t in texts if t))
    random.Random(42).shuffle(texts)
    return texts


def varied_messages() -> Iterator[str]:
    """Never repeated, so no cache can help."""
    yield from varied_texts()
    raise RuntimeError("more varied messages asked for than data/nlu has")


def cycle(messages: Sequence[str]) -> Iterator[str]:
    while True:
        yield from messages


def open_loop_session(total_timeout_s: float) -> aiohttp.ClientSession:
    """Unlimited connections: an open-loop benchmark sends on schedule, never waits for a free one."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=total_timeout_s),
                                 connector=aiohttp.TCPConnector(limit=0))


async def post_turn(session: aiohttp.ClientSession, url: str, token: str, sender: str,
                    text: str, failures: Optional[collections.Counter] = None) -> Optional[List[dict]]:
    """The bot's replies to one message, or None when there was no answer (counted in failures by
    HTTP status or exception, so a report can tell a refused connection from a server error)."""
    try:
        async with session.post(url, json={"sender": sender, "message": text},
                                headers={"Authorization": f"Bearer {token}"}) as response:
            if response.status == 200:
                replies = await response.json()
                if not replies and failures is not None:
                    failures["no reply"] += 1
                return replies
            if failures is not None:
                failures[f"HTTP {response.status}"] += 1
            return None
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        if failures is not None:
            failures[type(error).__name__] += 1
        return None


async def _burst(url: str, token: str, customers: int, window_s: float,
                 failures: collections.Counter) -> Tuple[List[float], int, float]:
    """Open loop: customer i sends 签到 at i * window / customers seconds."""
    async with open_loop_session(300) as session:
        started = time.perf_counter()

        async def one(index: int) -> Optional[float]:
            await asyncio.sleep(index * window_s / customers)
            sent = time.perf_counter()
            replies = await post_turn(session, url, token, f"burst-{index}", "签到", failures)
            return time.perf_counter() - sent if replies else None

        results = await asyncio.gather(*(one(i) for i in range(customers)))
        drain = time.perf_counter() - started
    answered = [r for r in results if r is not None]
    return answered, customers - len(answered), drain


def campaign_burst(stack: Stack, customers: int = BURST_CUSTOMERS, window_s: float = BURST_WINDOW_S) -> dict:
    """New customers only, so each must add exactly one check-in record with total 1."""
    url = webhook_url(stack)
    before = checkin_totals(stack.redis_url)
    failures: collections.Counter = collections.Counter()
    latencies, unanswered, drain = asyncio.run(_burst(url, stack.rasa_token, customers, window_s, failures))
    after = checkin_totals(stack.redis_url)
    new = {key: total for key, total in after.items() if key not in before}
    return {"benchmark": "campaign_burst", "customers": customers, "window_s": window_s,
            "drain_s": round(drain, 1), "unanswered": unanswered, "unanswered_by": dict(failures),
            "checkins_lost": customers - sum(1 for total in new.values() if total >= 1),
            "checkins_doubled": sum(total - 1 for total in new.values() if total > 1),
            **(latency_fields(latencies) if latencies else {})}


def pss_mb(pid: int) -> float:
    """Memory of a process and its children (Sanic workers, spawned helpers): the
    proportional set size, so pages forked workers share are counted once."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            continue
    return round(total / 2 ** 20, 1)


def memory(stack: Stack, plain_mb: float) -> dict:
    result = {"benchmark": "memory", "plain_rasa_mb": plain_mb}
    for name, service in stack.services.items():
        result[f"{name}_mb"] = pss_mb(service.process.pid)
    if stack.redis and stack.redis.process:
        result["redis_mb"] = pss_mb(stack.redis.process.pid)
    return result


def training(model: Path) -> Optional[dict]:
    path = training_times_path(model)
    if not path.is_file():
        return None
    return {"benchmark": "training", "model": model.name, **json.loads(path.read_text())}


def plain_rasa_model() -> Path:
    """A `rasa init` bot (the stock example), trained once and kept in .cache/bench/."""
    models = sorted((PLAIN_RASA_DIR / "models").glob("*.tar.gz"))
    if not models:
        PLAIN_RASA_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(rasa_cli() + ["init", "--no-prompt", "--init-dir", str(PLAIN_RASA_DIR)], cwd=PLAIN_RASA_DIR,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        models = sorted((PLAIN_RASA_DIR / "models").glob("*.tar.gz"))
    return models[-1]


def plain_rasa(run_dir: Path, loads) -> Tuple[List[dict], dict, float]:
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
        results = [closed_loop(url, "", users, per_user, cycle(PLAIN_MESSAGES), "plain_rasa", "rasa_init")
                   for users, per_user in loads]
        long = long_conversation(url, "", "plain_rasa", PLAIN_MESSAGES)
        return results, long, pss_mb(service.process.pid)
    finally:
        service.stop()


async def _soak(url: str, token: str, rate: float, minutes: float, stack: Stack) -> None:
    """Open loop at `rate` messages/s over 50 conversations; one line per minute."""
    from tests.e2e.replies import apology_texts

    apologies = apology_texts()
    texts = cycle(varied_texts())  # repeats after ~5,600 messages
    window: List[float] = []
    errors = sent = 0
    first_mb: Optional[float] = None
    async with open_loop_session(60) as session:
        async def one(sender: str, text: str) -> None:
            nonlocal errors
            started = time.perf_counter()
            replies = await post_turn(session, url, token, sender, text)
            if not replies or "\n".join(r.get("text", "") for r in replies) in apologies:
                errors += 1
            window.append(time.perf_counter() - started)

        begin = time.perf_counter()
        tasks = set()
        for minute in range(int(minutes)):
            window.clear()
            minute_start = time.perf_counter()
            while time.perf_counter() - minute_start < 60:
                task = asyncio.ensure_future(one(f"soak-{sent % 50}", next(texts)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
                await asyncio.sleep(max(0.0, begin + sent / rate - time.perf_counter()))
            rasa_mb = pss_mb(stack.services["rasa"].process.pid)
            first_mb = first_mb or rasa_mb
            print(json.dumps({"benchmark": "soak", "minute": minute + 1, "rate_per_s": rate, "errors": errors,
                              "rasa_mb": rasa_mb, "rasa_mb_growth_pct": round(100 * (rasa_mb - first_mb) / first_mb, 1),
                              "actions_mb": pss_mb(stack.services["actions"].process.pid),
                              **(latency_fields(window) if window else {})}), flush=True)
        await asyncio.gather(*tasks)


@contextmanager
def running_stack(model: Path, run_dir: Path) -> Iterator[Stack]:
    """Our whole bot (own Redis, action server, Rasa) on free ports, warmed up.
    A bench customer sends many messages: this measures Rasa, not the flood limit."""
    stack = Stack(model=model, rasa_port=free_port(), actions_port=free_port(), console_port=free_port(),
                  rasa_token=secrets.token_hex(8), run_dir=run_dir, extra_env={"FLOOD_MAX_MESSAGES": "0"})
    try:
        stack.start(redis_port=free_port(), with_console=False)
        send(webhook_url(stack), stack.rasa_token, "warm-up", "你好")
        yield stack
    finally:
        stack.stop()


def webhook_url(stack: Stack) -> str:
    return f"{stack.rasa_url}/webhooks/rest/webhook"


def soak(model: Path, minutes: float, rate: float) -> None:
    with tempfile.TemporaryDirectory() as run_dir, running_stack(model, Path(run_dir)) as stack:
        asyncio.run(_soak(webhook_url(stack), stack.rasa_token, rate, minutes, stack))


def half_of_last_peak(default: float = 10.0) -> float:
    """Half the varied-message throughput at 50 conversations of the last `make bench` run."""
    runs = sorted((ROOT / "reports" / "bench").glob("*.jsonl"))
    for run in reversed(runs):
        for line in run.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.startswith("{") else {}
            if row.get("bot") == "ours" and row.get("messages_mix") == "varied" and row.get("concurrent_users") == 50:
                return round(row["messages_per_s"] / 2, 1)
    return default


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer messages (a smoke run, not for the README)")
    parser.add_argument("--model", type=Path, help="a trained model (default: the current one, trained if needed)")
    parser.add_argument("--soak", type=float, metavar="MINUTES",
                        help="only a soak test: this long at --rate (default half the last measured peak)")
    parser.add_argument("--rate", type=float, help="messages/s for --soak")
    args = parser.parse_args()
    loads = QUICK_LOADS if args.quick else LOADS
    model = args.model or ensure_current_model()
    if args.soak:
        soak(model, args.soak, args.rate or half_of_last_peak())
        return
    with tempfile.TemporaryDirectory() as run_dir:
        plain, plain_long, plain_mb = plain_rasa(Path(run_dir), loads)
        with running_stack(model, Path(run_dir)) as stack:
            url = webhook_url(stack)
            varied = varied_messages()
            for (users, per_user), theirs in zip(loads, plain):
                print(json.dumps(theirs, ensure_ascii=False), flush=True)
                for mix, texts in (("campaign_keywords", cycle(CAMPAIGN_MESSAGES)), ("varied", varied)):
                    ours = closed_loop(url, stack.rasa_token, users, per_user, texts, "ours", mix)
                    ours["throughput_vs_plain_rasa"] = round(ours["messages_per_s"] / theirs["messages_per_s"], 2)
                    print(json.dumps(ours, ensure_ascii=False), flush=True)
            print(json.dumps(plain_long), flush=True)
            print(json.dumps(long_conversation(url, stack.rasa_token, "ours", TURN_MESSAGES)), flush=True)
            customers = 100 if args.quick else BURST_CUSTOMERS
            print(json.dumps(campaign_burst(stack, customers)), flush=True)
            print(json.dumps(memory(stack, plain_mb)), flush=True)
    timing = training(model)
    if timing:
        print(json.dumps(timing), flush=True)


if __name__ == "__main__":
    main()
