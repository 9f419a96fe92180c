"""Nothing we start outlives us: `make run` killed with -9 leaves no Redis, Rasa,
action server or console behind, and a child dies with its parent whoever
kills the parent (common/child_process.py)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import psutil
import requests

from bot.redis_server import free_port
from bot.stack import ROOT


def wait_gone(pids: List[int], timeout_s: float) -> List[int]:
    deadline = time.monotonic() + timeout_s
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.5)
    return alive


def test_a_child_dies_with_its_parent_killed_hard(tmp_path: Path):
    parent_code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from bot.redis_server import RedisServer;"
        "server = RedisServer(int(sys.argv[2]), __import__('pathlib').Path(sys.argv[3])).start(appendonly=False);"
        "print(server.process.pid, flush=True); time.sleep(300)"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code, str(ROOT), str(free_port()), str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    redis_pid = int(parent.stdout.readline())
    assert psutil.pid_exists(redis_pid)
    parent.kill()  # SIGKILL: no handler, no finally
    parent.wait()
    assert wait_gone([redis_pid], 20) == [], "redis-server outlived its parent"


def test_make_run_killed_hard_leaves_no_process(tmp_path: Path):
    ports = {"RASA_PORT": free_port(), "ACTIONS_PORT": free_port(), "CONSOLE_PORT": free_port(),
             "EMBEDDED_REDIS_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "RUN_DIR": str(tmp_path / "run"), "REDIS_URL": "",
           "WECHAT_DEMO": ""}
    make = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{ports['RASA_PORT']}/", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(1)
        else:
            raise AssertionError("make run did not come up")
        started = [p.pid for p in psutil.Process(make.pid).children(recursive=True)]
        names = " ".join(" ".join(psutil.Process(p).cmdline()) for p in started)
        for expected in ("redis-server", "actions.server", "bot.serve", "bot.console"):
            assert expected in names, f"{expected} not running: the test would prove nothing"
        os.kill(make.pid, signal.SIGKILL)  # `make run` itself, as `kill -9` would
        make.wait()
        assert wait_gone(started, 90) == [], "processes outlived make run"
        for name, port in ports.items():
            with socket.socket() as probe:  # nobody listens there any more (TIME_WAIT is fine)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", port))
    finally:
        try:
            os.killpg(make.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
