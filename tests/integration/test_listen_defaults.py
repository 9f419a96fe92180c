"""Each entry point, started without a --host and without *_HOST, listens on
loopback only; the action server does not start without ACTIONS_TOKEN.

(The e2e test tests/e2e/test_processes_secure.py checks the whole stack as
`make run` starts it; this one checks the processes' own defaults.)"""
from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Set

import psutil
import pytest

from bot.redis_server import RedisServer, free_port
from bot.stack import ACTIONS_PY, RASA_PY, ROOT, Service

HOST_VARS = ("RASA_HOST", "ACTIONS_HOST", "CONSOLE_HOST", "STAND_IN_HOST", "SANIC_HOST")


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HOST_VARS}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def listening(pid: int) -> Set[str]:
    root = psutil.Process(pid)
    found: Set[str] = set()
    for process in [root] + root.children(recursive=True):
        found |= {c.laddr.ip for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
    return found


def assert_loopback_only(pid: int) -> None:
    addresses = listening(pid)
    assert addresses, "nothing listening: the check would be vacuous"
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses


@pytest.mark.parametrize("name, args, health", [
    ("console", [str(RASA_PY), "-m", "bot.console"], "/healthz"),
    ("stand_in", [str(RASA_PY), "-m", "bot.stand_in"], "/_stand_in/health"),
    ("actions", [str(ACTIONS_PY), "-m", "actions.server", "--actions", "actions"], "/health"),
])
def test_entry_point_defaults_to_loopback(tmp_path: Path, name: str, args: List[str], health: str):
    port = free_port()
    service = Service(name, args + ["--port", str(port)], f"http://127.0.0.1:{port}{health}", tmp_path / f"{name}.log")
    service.start(clean_env(ACTIONS_TOKEN="t0ken", RASA_URL="http://127.0.0.1:9", REDIS_URL="redis://127.0.0.1:9/0"))
    try:
        service.wait(120)
        assert_loopback_only(service.process.pid)
    finally:
        service.stop()


def test_embedded_redis_listens_on_loopback_in_protected_mode(tmp_path: Path):
    server = RedisServer(free_port(), tmp_path).start(appendonly=False)
    try:
        assert_loopback_only(server.process.pid)
        import redis

        config = redis.Redis(port=server.port).config_get("protected-mode")
        assert config["protected-mode"] == "yes"
    finally:
        server.stop()


@pytest.mark.parametrize("token", ["", "   "])
def test_action_server_refuses_to_start_without_a_token(token: str):
    env = clean_env(ACTIONS_TOKEN=token)
    done = subprocess.run([str(ACTIONS_PY), "-m", "actions.server", "--actions", "actions", "--port", str(free_port())],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "ACTIONS_TOKEN is empty" in done.stderr
