#!/usr/bin/env python
"""Benchmark a 10,000-customer segment push through the outbound worker (bot/outbound/).

A private redis-server (no persistence), the WeChat/WeCom API stand-in with a round-trip
latency, and N worker processes (`python -m bot.outbound`, as `make run` starts them).
10,000 customers in a realistic mix, all in the segment (干皮 or 油皮):

  45 % 公众号, wrote within 48 h        → sent
  25 % 微信客服, wrote within 48 h      → sent
  15 % silent for 3+ days (both)       → refused: outside_window
   5 % opted out (退订)                 → refused: opted_out
   3 % a guide holds the conversation  → refused: handoff
   2 % web only                        → refused: no_channel
   5 % 微信客服, the window's 5 used     → refused: kf_quota

Measured: the segment preview, push creation → targets fixed (status `sending`, includes
the sweep's pick-up, OUTBOUND_SWEEP_S=1), → `done`; messages/s achieved against the
configured OUTBOUND_RATE_PER_S, and the busiest wall-clock second as the stand-in saw it
(the rate limit is global: with 2 workers it must still hold); each worker's peak RSS
(VmHWM); the report's counts by reason; and that the stand-in received exactly `sent`
messages, nobody twice, nobody outside the sendable 70 %.

Prints one JSON object on stdout (everything else on stderr); `make bench` runs it with
1 and with 2 workers.

    PYTHONPATH=. .venv/rasa/bin/python scripts/bench_outbound.py [--workers 2] [--rate 500]
        [--latency 0.02] [--customers 10000] [--coupon welcome] [--concurrency N]
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import redis.asyncio as aioredis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.services import customers  # noqa: E402
from bot.outbound import pushes  # noqa: E402
from bot.outbound.segments import Segment  # noqa: E402
from bot.outbound.worker import worker_settings  # noqa: E402
from bot.redis_conn import make_redis  # noqa: E402
from bot.redis_server import RedisServer, free_port  # noqa: E402
from bot.stack import stand_in_service  # noqa: E402
from common import contact_state  # noqa: E402
from common.handoff_routing import held_key  # noqa: E402

KF_ACCOUNT = "wkBENCH001"
SEND_PATHS = ("/cgi-bin/message/custom/send", "/cgi-bin/kf/send_msg")
TEXT = "{you}好，冬季限定礼盒今天上新，干皮油皮都有专属套装，会员专享 8 折～"
SEGMENT = Segment(any_tags=["skin:dry", "skin:oily"])
CHUNK = 250  # customers created concurrently
# (kind, share): what each customer is to the contact policy
MIX = (("mp_window", 45), ("kf_window", 25), ("silent", 15), ("opted_out", 5), ("held", 3), ("web", 2),
       ("kf_used", 5))
SENDABLE = ("mp_window", "kf_window")


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def kinds_for(n: int, seed: int = 12) -> List[str]:
    """n kinds in the MIX shares, shuffled (every batch of 100 gets a mix)."""
    kinds: List[str] = []
    for kind, share in MIX:
        kinds += [kind] * round(n * share / 100)
    kinds = (kinds + ["mp_window"] * n)[:n]
    random.Random(seed).shuffle(kinds)
    return kinds


async def make_customer(redis: aioredis.Redis, n: int, kind: str, now: float, rng: random.Random) -> Tuple[str, str]:
    """One customer as the channels leave them; returns (API user id, kind)."""
    channel = {"mp_window": "wechat_mp", "kf_window": "wecom_kf", "kf_used": "wecom_kf", "web": "web",
               "silent": "wechat_mp" if n % 2 else "wecom_kf"}.get(kind, "wechat_mp" if n % 2 else "wecom_kf")
    user = f"{'o' if channel == 'wechat_mp' else 'wm'}Bench{n:05d}"
    cid = (await customers.resolve(redis, customers.Identity(channel=channel, user_id=user),
                                   datetime.fromtimestamp(now, timezone.utc))).id
    sender_id = f"{channel}:{user}"
    if kind != "web":
        hours_ago = rng.uniform(72, 240) if kind == "silent" else rng.uniform(0.1, 46)
        await contact_state.record_inbound(redis, sender_id, now - hours_ago * 3600,
                                           KF_ACCOUNT if channel == "wecom_kf" else "")
    pipe = redis.pipeline(transaction=False)
    pipe.sadd(f"{{brand}}:cust:{cid}:tags", rng.choice(SEGMENT.any_tags),
              rng.choice(["level:normal", "level:silver", "level:gold"]), f"channel:{channel}")
    if kind == "kf_used":
        pipe.hincrby(contact_state.key(sender_id), "kf_sent", 5)
    elif kind == "kf_window" and rng.random() < 0.5:
        pipe.hincrby(contact_state.key(sender_id), "kf_sent", rng.randint(1, 3))  # the bot already replied
    elif kind == "opted_out":
        pipe.hset(contact_state.key(sender_id), "optout", "1")
    elif kind == "held":
        pipe.set(held_key(sender_id), f"hbench{n}")
    await pipe.execute()
    return user, kind


async def make_customers(redis: aioredis.Redis, count: int) -> Dict[str, str]:
    rng = random.Random(7)
    now = time.time()
    made: Dict[str, str] = {}
    kinds = kinds_for(count)
    for start in range(0, count, CHUNK):
        done = await asyncio.gather(*(make_customer(redis, n, kinds[n], now, rng)
                                      for n in range(start, min(count, start + CHUNK))))
        made.update(done)
    return made


def worker_env(redis_url: str, api: str, rate: int, concurrency: Optional[int]) -> Dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url, "WECHAT_API_BASE": api,
           "WECOM_API_BASE": api, "WECHAT_MP_APPID": "wxBENCH", "WECHAT_MP_SECRET": "mpsecret",
           "WECOM_CORP_ID": "wwBENCH", "WECOM_KF_SECRET": "kfsecret", "PERSONA": "qiqi",
           "OUTBOUND_QUIET_HOURS": "none", "OUTBOUND_RATE_PER_S": str(rate), "OUTBOUND_SWEEP_S": "1",
           "OUTBOUND_LOG_LEVEL": "INFO"}
    if concurrency:
        env["OUTBOUND_CONCURRENCY"] = str(concurrency)
    return env


def start_workers(count: int, env: Dict[str, str], run_dir: Path) -> List[Tuple[subprocess.Popen, Path]]:
    started = []
    for index in range(count):
        log_path = run_dir / f"outbound-{index}.log"
        process = subprocess.Popen([sys.executable, "-m", "bot.outbound"], cwd=ROOT, env=env,
                                   start_new_session=True, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
        started.append((process, log_path))
    deadline = time.time() + 60
    for process, log_path in started:
        while "Outbound worker ready" not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"outbound worker did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
    return started


def stop_workers(started: List[Tuple[subprocess.Popen, Path]]) -> None:
    for process, _ in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process, _ in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def trouble_in(log_path: Path) -> str:
    """A worker log's warnings, errors and tracebacks (the first 40 lines of them)."""
    lines = log_path.read_text(errors="replace").splitlines()
    picked, count, in_traceback = [], 0, False
    for line in lines:
        starts = line[:4].isdigit()  # a new log record (timestamp) ends a traceback
        if starts:
            in_traceback = False
        if (starts and (" WARNING " in line or " ERROR " in line)) or line.startswith("Traceback"):
            count += 1
            in_traceback = True
            picked.append(line)
        elif in_traceback:
            picked.append(line)
    return "\n".join([f"bench_outbound: {log_path.name}: {count} warnings/errors"] + picked[:40])


def memory_kb(pid: int) -> Dict[str, int]:
    """VmHWM (peak) and VmRSS of a live process, in kB."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0])
    except OSError:
        pass
    return found


async def follow(redis: aioredis.Redis, push_id: str, pids: List[int], timeout_s: float) -> Dict[str, float]:
    """Poll the push hash and the workers' memory every 0.2 s until the push is done."""
    peak_kb: Dict[int, int] = {pid: 0 for pid in pids}
    seen: Dict[str, float] = {}
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        status = await redis.hget(pushes.key(push_id), "status")
        seen.setdefault(status or "", time.time())
        for pid in pids:
            mem = memory_kb(pid)
            peak_kb[pid] = max(peak_kb[pid], mem.get("VmHWM", 0), mem.get("VmRSS", 0))
        if status in ("done", "cancelled"):
            break
        await asyncio.sleep(0.2)
    else:
        raise TimeoutError(f"push {push_id} not done after {timeout_s:.0f} s (statuses seen: {list(seen)})")
    return {"seen": seen, "peak_kb": peak_kb}


def api_view(api: str, latency_s: float) -> Tuple[collections.Counter, int]:
    """Who received how many messages (accepted sends), and the most that reached the API in
    one wall-clock second: the stand-in stamps a call when it answers, `latency_s` after it
    arrived, so the stamp minus the latency is the second the rate limiter counted it in."""
    received = collections.Counter(s["body"]["touser"] for s in requests.get(f"{api}/_stand_in/sent", timeout=60)
                                   .json()["sent"] if s["path"] in SEND_PATHS)
    per_second: collections.Counter = collections.Counter()
    for path in SEND_PATHS:
        for call in requests.get(f"{api}/_stand_in/record", params={"path": path}, timeout=60).json()["calls"]:
            per_second[int(call["ts"] - latency_s)] += 1
    return received, max(per_second.values() or [0])


async def bench(args: argparse.Namespace, redis_url: str, api: str, run_dir: Path) -> dict:
    redis = make_redis(redis_url)
    try:
        started = time.perf_counter()
        made = await make_customers(redis, args.customers)
        log(f"bench_outbound: {len(made)} customers in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        in_segment = await pushes.preview(redis, SEGMENT, datetime.now(timezone.utc))
        preview_s = time.perf_counter() - started
        workers = start_workers(args.workers, worker_env(redis_url, api, args.rate, args.concurrency), run_dir)
        try:
            push_id = await pushes.create(redis, name="冬季礼盒", text=TEXT, segment=SEGMENT, coupon=args.coupon,
                                          by="bench")
            followed = await follow(redis, push_id, [p.pid for p, _ in workers], timeout_s=args.timeout)
        finally:
            stop_workers(workers)
            for _, log_path in workers:
                log(trouble_in(log_path))
        times = await redis.hmget(pushes.key(push_id), "created_at", "planned_at", "done_at")
        report = await pushes.report(redis, push_id)
    finally:
        await redis.close()
    created, planned, done = (float(t) for t in times)
    received, busiest_second = api_view(api, args.latency)
    expected: Set[str] = {user for user, kind in made.items() if kind in SENDABLE}
    send_s = done - planned
    log(f"bench_outbound: report {json.dumps(report, ensure_ascii=False)}")
    return {
        "benchmark": "outbound_push", "customers": args.customers, "worker_processes": str(args.workers),
        "in_segment": in_segment, "targeted": report["targeted"], "preview_s": round(preview_s, 3),
        "plan_s": round(planned - created, 2), "send_s": round(send_s, 2), "sent": report["sent"],
        "messages_per_s": round(report["sent"] / send_s, 1) if send_s > 0 else 0.0, "rate_per_s": args.rate,
        "busiest_second": busiest_second, "latency_ms": round(args.latency * 1000, 1),
        "jobs_per_worker": worker_settings(**({"max_jobs": args.concurrency} if args.concurrency else {}))["max_jobs"],
        "worker_peak_rss_mb": round(max(followed["peak_kb"].values()) / 1024, 1),
        **{f"refused_{reason}": count for reason, count in report["refused"].items()},
        "undeliverable": sum(report["undeliverable"].values()), "in_doubt": report["in_doubt"],
        "waiting": report["waiting"], "coupons_issued": report["coupons_issued"],
        "received": sum(received.values()), "received_twice": sum(1 for c in received.values() if c > 1),
        "received_unexpected": len(set(received) - expected), "missed": len(expected - set(received)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="outbound worker processes")
    parser.add_argument("--rate", type=int, default=500, help="OUTBOUND_RATE_PER_S (all workers together)")
    parser.add_argument("--latency", type=float, default=0.02, help="the stand-in's API round trip, s")
    parser.add_argument("--coupon", default="", help="a coupon type per message, e.g. welcome")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="OUTBOUND_CONCURRENCY (jobs at once per worker; 0: the worker's default)")
    parser.add_argument("--timeout", type=float, default=600, help="give up on the push after this many s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbound-") as tmp:
        run_dir = Path(tmp)
        server = RedisServer(free_port(), run_dir / "redis").start(appendonly=False)
        api_port = free_port()
        stand_in = stand_in_service(api_port, run_dir).start({**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            stand_in.wait(60)
            api = f"http://127.0.0.1:{api_port}"
            requests.post(f"{api}/_stand_in/reset", timeout=5)
            requests.post(f"{api}/_stand_in/config", json={"latency_s": args.latency}, timeout=5)
            result = asyncio.run(bench(args, server.url, api, run_dir))
        except Exception:
            for log_path in sorted(run_dir.glob("outbound-*.log")):
                log(f"--- {log_path.name} (tail)\n{log_path.read_text(errors='replace')[-3000:]}")
            raise
        finally:
            stand_in.stop()
            server.stop()
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
