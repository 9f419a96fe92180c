"""Benchmark the handoff to guides on the whole stack (issue 12).

Our Rasa server, action server and console, a private Redis and the WeChat/WeCom
API stand-in, on free ports. Prints one JSON object per benchmark:
- `handoff_notify`: 50 customers ask for a human at once (3 guides on duty with
  room for all); time from each request to its guide's WeCom notification
  (message/send, as the stand-in recorded it), p50/p99/max, and how many were
  notified once, twice or never;
- `console_live_update`: with 50 conversations already waiting (抢单 mode, nobody
  on duty), 20 more customers ask one after another; a signed-in guide's live
  feed (SSE) hears each new request, and the page then re-reads the waiting list.
  Reported: request → event (p50/p99), the re-read of the list, and the two together.

    .venv/rasa/bin/python scripts/bench_handoff.py
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Dict, List

import aiohttp
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.model_files import ensure_current_model  # noqa: E402
from bot.redis_conn import make_sync_redis  # noqa: E402
from bot.redis_server import free_port  # noqa: E402
from bot.stack import Stack, stand_in_service  # noqa: E402
from common import handoff_routing as routing  # noqa: E402

CUSTOMERS = 50
LATER_CUSTOMERS = 20
ROSTER = """timezone: Asia/Shanghai
reply_timeout_min: 120
idle_timeout_min: 120
offer: {offer}
guides:
  - {{userid: bench-a, name: 甲导购, group: g, capacity: 20, hours: {hours}}}
  - {{userid: bench-b, name: 乙导购, group: g, capacity: 20, hours: {hours}}}
  - {{userid: bench-c, name: 丙导购, group: g, capacity: 20, hours: {hours}}}
"""
ALWAYS = '{mon-sun: "00:00-24:00"}'


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1) if ordered else 0.0


def wechat_env(api_base: str) -> Dict[str, str]:
    key = base64.b64encode(os.urandom(32)).decode()[:-1]
    return {"WECHAT_API_BASE": api_base, "WECOM_API_BASE": api_base, "WECOM_CORP_ID": "wwbench",
            "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "app-secret", "WECOM_TOKEN": "bench", "WECOM_AES_KEY": key,
            "FLOOD_MAX_MESSAGES": "0"}


async def ask_all(url: str, token: str, senders: List[str]) -> Dict[str, float]:
    """Every sender says 转人工 at once; returns when each request left (epoch s)."""
    sent: Dict[str, float] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        async def one(sender: str) -> None:
            sent[sender] = time.time()
            async with session.post(url, json={"sender": sender, "message": "转人工"},
                                    headers={"Authorization": f"Bearer {token}"}) as answer:
                await answer.read()
        await asyncio.gather(*(one(s) for s in senders))
    return sent


def handoff_notify(stack: Stack, api: str, store: redis.Redis) -> dict:
    senders = [f"bench-notify-{i}" for i in range(CUSTOMERS)]
    sent = asyncio.run(ask_all(f"{stack.rasa_url}/webhooks/rest/webhook", stack.rasa_token, senders))
    notified: Dict[str, List[float]] = {}
    deadline = time.time() + 60
    while time.time() < deadline:
        notified = {}
        for call in requests.get(f"{api}/_stand_in/record", params={"path": "/cgi-bin/message/send"},
                                 timeout=10).json()["calls"]:
            content = (call.get("body") or {}).get("text", {}).get("content", "")
            if content.startswith("【转人工 #"):
                request_id = content.split("#", 1)[1].split("】", 1)[0]
                sender = store.hget(routing.request_key(request_id), "sender") or ""
                notified.setdefault(sender.partition(":")[2], []).append(call["ts"])
        if len(notified) >= CUSTOMERS:
            break
        time.sleep(0.5)
    latencies = [(min(ts) - sent[s]) * 1000 for s, ts in notified.items() if s in sent]
    loads = {k: int(v) for k, v in store.hgetall(routing.LOAD).items()}
    return {"benchmark": "handoff_notify", "customers": CUSTOMERS, "notified": len(latencies),
            "notified_twice": sum(1 for ts in notified.values() if len(ts) > 1),
            "never": CUSTOMERS - len(latencies), "p50_ms": percentile(latencies, 0.5),
            "p99_ms": percentile(latencies, 0.99), "max_ms": percentile(latencies, 1.0),
            "max_guide_load": max(loads.values() or [0])}


async def live_updates(stack: Stack, cookie: str, store: redis.Redis) -> dict:
    heard: Dict[str, float] = {}
    refresh_ms: List[float] = []
    cookies = {"staff_session": cookie}
    async with aiohttp.ClientSession(cookies=cookies, timeout=aiohttp.ClientTimeout(total=None)) as session:
        async def listen() -> None:
            async with session.get(f"{stack.console_url}/api/guide/events") as stream:
                async for raw in stream.content:
                    line = raw.decode("utf-8").strip()
                    if line.startswith("data: "):
                        change = json.loads(line[6:])
                        if change.get("kind") == "queued":
                            heard.setdefault(change["id"], time.time())
        listener = asyncio.get_running_loop().create_task(listen())
        await asyncio.sleep(1.0)  # connected
        url = f"{stack.rasa_url}/webhooks/rest/webhook"
        for i in range(LATER_CUSTOMERS):
            await ask_all(url, stack.rasa_token, [f"bench-live-{i}"])
            await asyncio.sleep(0.3)
            started = time.perf_counter()
            async with session.get(f"{stack.console_url}/api/guide/conversations?view=waiting") as listed:
                waiting = (await listed.json())["conversations"]
            refresh_ms.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(1.0)
        listener.cancel()
    event_ms = []
    for request_id, at in heard.items():
        requested = store.hget(routing.request_key(request_id), "requested_at")
        if requested:
            event_ms.append((at - datetime.fromisoformat(requested).timestamp()) * 1000)
    both = sorted(e + r for e, r in zip(sorted(event_ms), sorted(refresh_ms)))
    return {"benchmark": "console_live_update", "waiting": CUSTOMERS, "new_requests": LATER_CUSTOMERS,
            "heard": len(event_ms), "listed_at_end": len(waiting),
            "event_p50_ms": percentile(event_ms, 0.5), "event_p99_ms": percentile(event_ms, 0.99),
            "list_refresh_p50_ms": percentile(refresh_ms, 0.5), "list_refresh_p99_ms": percentile(refresh_ms, 0.99),
            "update_p99_ms": percentile(both, 0.99)}


def console_live_update(stack: Stack, roster: Path, store: redis.Redis) -> dict:
    roster.write_text(ROSTER.format(offer="pick", hours="{}"), encoding="utf-8")  # nobody on duty: all wait
    asyncio.run(ask_all(f"{stack.rasa_url}/webhooks/rest/webhook", stack.rasa_token,
                        [f"bench-wait-{i}" for i in range(CUSTOMERS)]))
    password = secrets.token_hex(8)
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "staff.py"), "add", "bench-guide", "--role", "guide",
         "--guide-userid", "bench-a", "--password-stdin"], input=password + "\n", capture_output=True, text=True,
        env={**os.environ, "REDIS_URL": stack.redis_url, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert made.returncode == 0, made.stderr
    signed = requests.post(f"{stack.console_url}/api/staff/login",
                           json={"username": "bench-guide", "password": password}, timeout=10)
    signed.raise_for_status()
    return asyncio.run(live_updates(stack, signed.cookies["staff_session"], store))


def main() -> None:
    model = ensure_current_model()
    with tempfile.TemporaryDirectory(prefix="bench-handoff-") as tmp:
        run_dir = Path(tmp)
        roster = run_dir / "guides.yml"
        roster.write_text(ROSTER.format(offer="auto", hours=ALWAYS), encoding="utf-8")
        api_port = free_port()
        stand_in = stand_in_service(api_port, run_dir)
        stand_in.start({**os.environ}).wait(60)
        api = f"http://127.0.0.1:{api_port}"
        stack = Stack(model=model, rasa_port=free_port(), actions_port=free_port(), console_port=free_port(),
                      rasa_token=secrets.token_hex(8), run_dir=run_dir,
                      extra_env={**wechat_env(api), "HANDOFF_ROSTER_FILE": str(roster)})
        try:
            stack.start(redis_port=free_port())
            store = make_sync_redis(stack.redis_url, decode_responses=True)
            print(json.dumps(handoff_notify(stack, api, store), ensure_ascii=False), flush=True)
            print(json.dumps(console_live_update(stack, roster, store), ensure_ascii=False), flush=True)
        finally:
            stack.stop()
            stand_in.stop()


if __name__ == "__main__":
    main()
