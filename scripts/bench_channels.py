"""Benchmark the WeChat channels' callback acknowledgement under load.

200 concurrent simulated users on 公众号 (safe mode) and on 微信客服, against
the real channel app (tests/channels/channel_app.py) whose on_new_message
takes 50–300 ms like a Rasa turn, with the API stand-in and a private Redis.
The app runs as many Sanic workers as the Rasa server does (SANIC_WORKERS
default, `--workers`), since the channels live in the Rasa server.
Prints one JSON object per benchmark on stdout:
ack latency p50/p99 (ms), missed 5-second deadlines, and for 公众号 how many
answers went passive vs. through 客服消息, for 微信客服 the time until all
replies were sent; and a flood: the answer latency of 20 calm customers while
one customer floods 100 messages at once, against the same 20 alone.

    .venv/rasa/bin/python scripts/bench_channels.py [--users 200]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import aiohttp
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.redis_server import RedisServer, free_port  # noqa: E402
from bot.stack import Service, stand_in_service  # noqa: E402
from bot.stand_in.simulator import WeChatSimulator  # noqa: E402
from tests.channels import helpers as h  # noqa: E402
from tests.channels.conftest import app_env  # noqa: E402

DEADLINE_S = 5.0


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


async def post_timed(session: aiohttp.ClientSession, url: str, params: Dict[str, str], body: bytes) -> float:
    started = time.perf_counter()
    try:
        async with session.post(url, params=params, data=body, timeout=aiohttp.ClientTimeout(total=DEADLINE_S)) as r:
            await r.read()
            return time.perf_counter() - started if r.status == 200 else float("inf")
    except (asyncio.TimeoutError, aiohttp.ClientError):
        return float("inf")


def summary(name: str, latencies: List[float], **extra: object) -> Dict[str, object]:
    ok = [x for x in latencies if x != float("inf")]
    return {"benchmark": name, "users": len(latencies),
            "ack_p50_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
            "ack_p99_ms": round(percentile(ok, 0.99) * 1000, 1) if ok else None,
            "missed_deadlines": sum(1 for x in latencies if x > DEADLINE_S), **extra}


async def bench_mp(url: str, stand_in: str, users: int) -> Dict[str, object]:
    sim = WeChatSimulator(url, h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")
    payloads = [sim.build(sim.text(f"oBENCH{n:05d}", f"你好{n}")) for n in range(users)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        results = await asyncio.gather(*(post_timed(session, url, p, b) for p, b in payloads))
    await asyncio.sleep(1.0)
    active = len(requests.get(f"{stand_in}/_stand_in/sent", timeout=5).json()["sent"])
    return summary("channels_wechat_mp_ack", list(results), passive_replies=users - active, active_sends=active)


async def bench_kf(url: str, stand_in: str, users: int) -> Dict[str, object]:
    sim = WeChatSimulator(url, h.KF_TOKEN, h.KF_AES, h.CORP_ID, "wecom")
    requests.post(f"{stand_in}/_stand_in/kf/enqueue", timeout=10, json={"open_kfid": h.OPEN_KFID, "messages": [
        {"external_userid": f"wmBENCH{n:05d}", "text": {"content": f"你好{n}"}} for n in range(users)]})
    payloads = [sim.build(sim.kf_notify(h.OPEN_KFID)) for _ in range(users)]
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        results = await asyncio.gather(*(post_timed(session, url, p, b) for p, b in payloads))
    sent = 0
    while time.perf_counter() - started < 60:
        sent = sum(1 for s in requests.get(f"{stand_in}/_stand_in/sent", timeout=5).json()["sent"]
                   if s["path"] == "/cgi-bin/kf/send_msg")
        if sent >= users:
            break
        await asyncio.sleep(0.1)
    return summary("channels_wecom_kf_ack", list(results), replies_sent=sent,
                   all_replies_s=round(time.perf_counter() - started, 2))


async def bench_mp_flood(url: str, calm_users: int = 20, flood: int = 100) -> Dict[str, object]:
    """Calm customers' callback latency (Rasa turn included) alone, then beside one flooder."""
    sim = WeChatSimulator(url, h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")

    async def calm_round(tag: str, with_flood: bool) -> List[float]:
        calm = [sim.build(sim.text(f"oCALM{tag}{n:03d}", f"你好{n}")) for n in range(calm_users)]
        noise = [sim.build(sim.text(f"oFLOOD{tag}", f"刷屏{n}")) for n in range(flood)] if with_flood else []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            results = await asyncio.gather(*(post_timed(session, url, p, b) for p, b in calm + noise))
        return list(results[:calm_users])

    alone = await calm_round("A", False)
    beside = await calm_round("B", True)
    ok = lambda xs: [x for x in xs if x != float("inf")]  # noqa: E731
    return {"benchmark": "channels_wechat_mp_flood", "calm_users": calm_users, "flood_messages": flood,
            "calm_alone_p50_ms": round(statistics.median(ok(alone)) * 1000, 1) if ok(alone) else None,
            "calm_beside_flood_p50_ms": round(statistics.median(ok(beside)) * 1000, 1) if ok(beside) else None,
            "calm_beside_flood_p99_ms": round(percentile(ok(beside), 0.99) * 1000, 1) if ok(beside) else None,
            "calm_missed_deadlines": sum(1 for x in beside if x > DEADLINE_S)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("SANIC_WORKERS") or 2),  # bot.serve's default
                        help="Sanic workers of the channel app (default: as many as the Rasa server runs)")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-channels-"))
    redis = RedisServer(free_port(), run_dir / "redis").start(appendonly=False)
    services: List[Service] = []
    try:
        stand_port, app_port = free_port(), free_port()
        stand_in_proc = stand_in_service(stand_port, run_dir).start({**os.environ, "PYTHONPATH": str(ROOT)})
        services.append(stand_in_proc)
        stand_in_proc.wait(30)
        stand_in = f"http://127.0.0.1:{stand_port}"
        app = app_env(redis.url, stand_in, run_dir, HANDLER_DELAY_MIN_S="0.05", HANDLER_DELAY_MAX_S="0.3",
                      WECHAT_PASSIVE_BUDGET_S="4.0", FLOOD_MAX_MESSAGES="20", FLOOD_WINDOW_S="10")
        channel_app = Service("channel_app", [sys.executable, "tests/channels/channel_app.py", "--port", str(app_port),
                               "--workers", str(args.workers)],
                              f"http://127.0.0.1:{app_port}/health", run_dir / "app.log").start(app)
        services.append(channel_app)
        channel_app.wait(30)
        base = f"http://127.0.0.1:{app_port}/webhooks"
        for result in (lambda: bench_mp(f"{base}/wechat_mp/webhook", stand_in, args.users),
                       lambda: bench_kf(f"{base}/wecom_kf/webhook", stand_in, args.users),
                       lambda: bench_mp_flood(f"{base}/wechat_mp/webhook")):
            print(json.dumps({**asyncio.run(result()), "workers": args.workers}, ensure_ascii=False), flush=True)
            requests.post(f"{stand_in}/_stand_in/reset", timeout=5)
    finally:
        for service in services:
            service.stop()  # SIGTERM, then SIGKILL after 10 s
        redis.stop()


if __name__ == "__main__":
    main()
