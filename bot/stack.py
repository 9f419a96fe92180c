"""Start and stop the product's processes: Redis, action server, Rasa, console.

Used by `make run` (scripts/run.py) and by the end-to-end tests, so both run
exactly the same commands. Stdlib only.
"""
from __future__ import annotations

import os
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

ROOT = Path(__file__).resolve().parent.parent
RASA_PY = ROOT / ".venv" / "rasa" / "bin" / "python"
ACTIONS_PY = ROOT / ".venv" / "actions" / "bin" / "python"


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
            self.args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait(self, timeout_s: float) -> None:
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


def stand_in_service(port: int, run_dir: Path) -> Service:
    """The local WeChat/WeCom API stand-in (demo mode and tests)."""
    return Service(
        "stand_in",
        [str(RASA_PY), "-m", "bot.stand_in", "--port", str(port)],
        f"http://127.0.0.1:{port}/_stand_in/health",
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
    redis: Optional[RedisServer] = None
    services: Dict[str, Service] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def env(self) -> Dict[str, str]:
        assert self.redis_url, "start Redis first"
        return {
            **{name: "" for name in CHANNEL_ENV},
            **os.environ,
            **redis_env(self.redis_url),
            "PERSONA": self.persona,
            "RASA_TOKEN": self.rasa_token,
            "RASA_URL": self.rasa_url,
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.actions_port}/webhook",
            "CONSOLE_PORT": str(self.console_port),
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
            [str(ACTIONS_PY), "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.actions_port)],
            f"http://127.0.0.1:{self.actions_port}/health",
            self.run_dir / "logs" / "actions.log",
        )

    def rasa_service(self) -> Service:
        return Service(
            "rasa",
            [
                str(RASA_PY), "-m", "bot.serve", "run",
                "--model", str(self.model),
                "--enable-api", "--auth-token", self.rasa_token,
                "--port", str(self.rasa_port),
                "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
                "--cors", "*",
            ],
            f"http://127.0.0.1:{self.rasa_port}/",
            self.run_dir / "logs" / "rasa.log",
        )

    def console_service(self) -> Service:
        return Service(
            "console",
            [str(RASA_PY), "-m", "bot.console", "--port", str(self.console_port)],
            f"http://127.0.0.1:{self.console_port}/healthz",
            self.run_dir / "logs" / "console.log",
        )

    def stand_in_service(self, port: int) -> Service:
        return stand_in_service(port, self.run_dir)

    def start_service(self, service: Service, timeout_s: float = 120) -> Service:
        self.services[service.name] = service.start(self.env())
        service.wait(timeout_s)
        return service

    def start(self, redis_port: int, with_console: bool = True) -> "Stack":
        self.start_redis(redis_port)
        env = self.env()
        # The three start in parallel; Rasa (model load) is the slow one.
        pending = [self.actions_service(), self.rasa_service()]
        if with_console:
            pending.append(self.console_service())
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
