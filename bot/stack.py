"""Start and stop the product's processes: Redis, action server, Rasa, console.

Used by `make run` (scripts/run.py) and by the end-to-end tests, so both run
exactly the same commands. Stdlib only.

Every process listens on loopback unless its *_HOST says otherwise
(CONTRACTS §2, docs/deploy.md); Rasa calls the action server with
ACTIONS_TOKEN, which the action server requires.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from bot.model_files import faq_embeddings_dir
from bot.redis_server import RedisServer
from common.child_process import die_with_parent
from common.redis_settings import cluster_mode

ROOT = Path(__file__).resolve().parent.parent
RASA_PY = ROOT / ".venv" / "rasa" / "bin" / "python"
ACTIONS_PY = ROOT / ".venv" / "actions" / "bin" / "python"
LOOPBACK = "127.0.0.1"


def env_host(name: str) -> str:
    """The address a process listens on: $<name>, else loopback."""
    return os.environ.get(name) or LOOPBACK


def client_host(host: str) -> str:
    """How a client on this machine reaches a server listening on `host` (for URLs)."""
    if host in ("", "0.0.0.0"):
        return LOOPBACK
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# Secrets a Stack hands its processes when none is configured: one per Python
# process, so two Stacks in one test session (sharing an action server) agree.
_GENERATED = {name: secrets.token_hex(16) for name in ("ACTIONS_TOKEN", "CONSOLE_OPS_TOKEN", "CONSOLE_SESSION_SECRET", "MODEL_SERVER_TOKEN")}


def secret(name: str) -> str:
    return os.environ.get(name) or _GENERATED[name]


def redis_env(redis_url: str) -> Dict[str, str]:
    """endpoints.yml reads host/port/db/password; everything else reads REDIS_URL."""
    parsed = urllib.parse.urlparse(redis_url)
    return {
        "REDIS_URL": redis_url,
        "REDIS_HOST": parsed.hostname or "127.0.0.1",
        "REDIS_PORT": str(parsed.port or 6379),
        "REDIS_DB": (parsed.path or "/0").lstrip("/") or "0",
        "REDIS_PASSWORD": urllib.parse.unquote(parsed.password or ""),
    }


# credentials.yml reads these with ${VAR}; Rasa refuses to start if one is
# unset, so an unconfigured channel gets "" (it then answers 503).
CHANNEL_ENV = (
    "WECHAT_MP_APPID", "WECHAT_MP_SECRET", "WECHAT_MP_TOKEN", "WECHAT_MP_AES_KEY",
    "WECOM_CORP_ID", "WECOM_KF_SECRET", "WECOM_KF_TOKEN", "WECOM_KF_AES_KEY",
    "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY",
)


def wait_http(url: str, timeout_s: float, process: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers, even if with an error status
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not come up within {timeout_s:.0f}s")


@dataclass
class Service:
    name: str
    args: List[str]
    health_url: str
    log_path: Path
    process: Optional[subprocess.Popen] = None

    def start(self, env: Dict[str, str]) -> "Service":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent,  # gone with us, even after a kill -9 (common/child_process.py)
        )
        return self

    def wait(self, timeout_s: float) -> None:
        if not self.health_url:  # no HTTP (the outbound worker): alive after its start-up is enough
            time.sleep(1.0)
            if self.process is None or self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.is_file() else ""
                raise RuntimeError(f"{self.name} exited at start; log {self.log_path}:\n{tail}")
            return
        try:
            wait_http(self.health_url, timeout_s, self.process)
        except (RuntimeError, TimeoutError) as error:
            tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.is_file() else ""
            raise type(error)(f"{self.name}: {error}; log {self.log_path}:\n{tail}") from error

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def stand_in_service(port: int, run_dir: Path, host: Optional[str] = None) -> Service:
    """The local WeChat/WeCom API stand-in (demo mode and tests)."""
    host = host or env_host("STAND_IN_HOST")
    return Service(
        "stand_in",
        [str(RASA_PY), "-m", "bot.stand_in", "--host", host, "--port", str(port)],
        f"http://{client_host(host)}:{port}/_stand_in/health",
        run_dir / "logs" / "stand_in.log",
    )


@dataclass
class Stack:
    model: Path
    rasa_port: int
    actions_port: int
    console_port: int
    rasa_token: str
    run_dir: Path
    redis_url: Optional[str] = None  # None: start our own redis-server
    persona: str = "qiqi"
    extra_env: Dict[str, str] = field(default_factory=dict)
    # listen addresses (CONTRACTS §2): loopback unless the environment says otherwise
    rasa_host: str = field(default_factory=lambda: env_host("RASA_HOST"))
    actions_host: str = field(default_factory=lambda: env_host("ACTIONS_HOST"))
    console_host: str = field(default_factory=lambda: env_host("CONSOLE_HOST"))
    stand_in_host: str = field(default_factory=lambda: env_host("STAND_IN_HOST"))
    # secrets: the environment's (.env), else generated for this Python process
    actions_token: str = field(default_factory=lambda: secret("ACTIONS_TOKEN"))
    console_ops_token: str = field(default_factory=lambda: secret("CONSOLE_OPS_TOKEN"))
    console_session_secret: str = field(default_factory=lambda: secret("CONSOLE_SESSION_SECRET"))
    model_server_token: str = field(default_factory=lambda: secret("MODEL_SERVER_TOKEN"))
    redis: Optional[RedisServer] = None
    services: Dict[str, Service] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://{client_host(self.rasa_host)}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{client_host(self.actions_host)}:{self.actions_port}"

    @property
    def console_url(self) -> str:
        return f"http://{client_host(self.console_host)}:{self.console_port}"

    def env(self) -> Dict[str, str]:
        assert self.redis_url, "start Redis first"
        return {
            **{name: "" for name in CHANNEL_ENV},
            **os.environ,
            **redis_env(self.redis_url),
            "PERSONA": self.persona,
            "RASA_TOKEN": self.rasa_token,
            "RASA_URL": self.rasa_url,
            "ACTION_ENDPOINT_URL": f"{self.actions_url}/webhook",
            "ACTIONS_TOKEN": self.actions_token,  # endpoints.yml sends it, actions.server requires it
            "CONSOLE_PORT": str(self.console_port),
            "CONSOLE_OPS_TOKEN": self.console_ops_token,
            "CONSOLE_SESSION_SECRET": self.console_session_secret,
            # issue 13: Rasa pulls the production model from the console (endpoints.yml `models`)
            "MODEL_SERVER_URL": f"{self.console_url}/models/production",
            "MODEL_SERVER_TOKEN": self.model_server_token,
            "RASA_MODEL_FILE": str(self.model),  # served until the console answers; its first production model
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(ROOT),
            # the FAQ embedding model trained with this Rasa model, unless one is chosen
            "FAQ_EMBEDDING_MODEL": os.environ.get("FAQ_EMBEDDING_MODEL") or str(faq_embeddings_dir(self.model)),
            **self.extra_env,
        }

    def start_redis(self, redis_port: int) -> None:
        if self.redis_url is None:
            self.redis = RedisServer(redis_port, self.run_dir / "redis").start(appendonly=True)
            self.redis_url = self.redis.url

    def actions_service(self) -> Service:
        return Service(
            "actions",
            [
                str(ACTIONS_PY), "-m", "actions.server", "--actions", "actions",
                "--host", self.actions_host, "--port", str(self.actions_port),
            ],
            f"{self.actions_url}/health",
            self.run_dir / "logs" / "actions.log",
        )

    def rasa_service(self) -> Service:
        return Service(
            "rasa",
            [
                str(RASA_PY), "-m", "bot.serve", "run",
                "--model", str(self.model),
                "--enable-api",  # the token comes from RASA_TOKEN (bot.serve), not the command line
                "--interface", self.rasa_host, "--port", str(self.rasa_port),
                "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
                # no --cors: browsers reach Rasa only through the console (same origin)
            ],
            f"{self.rasa_url}/",
            self.run_dir / "logs" / "rasa.log",
        )

    def console_service(self) -> Service:
        return Service(
            "console",
            [str(RASA_PY), "-m", "bot.console", "--host", self.console_host, "--port", str(self.console_port)],
            f"{self.console_url}/healthz",
            self.run_dir / "logs" / "console.log",
        )

    def outbound_service(self) -> Service:
        """The outbound worker (bot/outbound): reminders, notices and pushes; no port."""
        return Service("outbound", [str(RASA_PY), "-m", "bot.outbound"], "", self.run_dir / "logs" / "outbound.log")

    def stand_in_service(self, port: int) -> Service:
        return stand_in_service(port, self.run_dir, self.stand_in_host)

    def start_service(self, service: Service, timeout_s: float = 120) -> Service:
        self.services[service.name] = service.start(self.env())
        service.wait(timeout_s)
        return service

    def start(self, redis_port: int, with_console: bool = True, with_outbound: bool = True) -> "Stack":
        self.start_redis(redis_port)
        env = self.env()
        # The three start in parallel; Rasa (model load) is the slow one.
        pending = [self.actions_service(), self.rasa_service()]
        if with_console:
            pending.append(self.console_service())
        on_cluster = cluster_mode() or env.get("REDIS_CLUSTER", "").strip().lower() in ("1", "true", "yes", "on")
        if with_outbound and not on_cluster:  # arq needs one Redis server, not a cluster
            pending.append(self.outbound_service())
        for service in pending:
            self.services[service.name] = service.start(env)
        for service in pending:
            service.wait(240)
        return self

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
        self.services.clear()
        if self.redis:
            self.redis.stop()
            self.redis = None
