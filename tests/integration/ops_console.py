"""A real console process for ops API tests: its own Redis, its own copy of the
data in a throwaway git repo (CONSOLE_REPO), and signed-in staff of each role.

    console = OpsConsole.start(tmp_path)         # or the `ops_console` fixture below
    ops = console.login("ops")                    # requests.Session with cookie + CSRF header
    ops.post(console.url + "/api/ops/...", json={...})
    console.repo                                  # the data the console edits (git log there)
    console.stop()

Tests never edit the checkout's data: everything the console writes lands in `repo`.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.console.data_history import DATA_PATHS  # noqa: E402
from bot.redis_server import RedisServer, free_port  # noqa: E402
from bot.stack import RASA_PY, Service, redis_env  # noqa: E402

PASSWORD = "ops-test-" + secrets.token_hex(6)
GIT_ENV = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com"}


def copy_data_repo(target: Path) -> Path:
    """The checkout's data files (DATA_PATHS) in a fresh git repo with one commit."""
    target.mkdir(parents=True, exist_ok=True)
    for rel in DATA_PATHS:
        source = ROOT / rel
        if source.is_dir():
            shutil.copytree(source, target / rel, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "data as in the checkout"]):
        subprocess.run(["git", *args], cwd=target, env=env, check=True, capture_output=True)
    return target


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@dataclass
class OpsConsole:
    url: str
    repo: Path
    redis: RedisServer
    service: Service
    accounts: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, tmp: Path, extra_env: Optional[Dict[str, str]] = None) -> "OpsConsole":
        redis = RedisServer(free_port(), tmp / "redis").start(appendonly=False)
        repo = copy_data_repo(tmp / "repo")
        port = free_port()
        service = Service("ops-console", [str(RASA_PY), "-m", "bot.console", "--port", str(port)],
                          f"http://127.0.0.1:{port}/healthz", tmp / "console.log")
        env = {**os.environ, **redis_env(redis.url), "PYTHONPATH": str(ROOT), "CONSOLE_REPO": str(repo),
               "PERSONA_DATA_ROOT": str(repo),  # the persona it shows is the one it edits (bot/persona.py)
               "CONSOLE_SESSION_SECRET": secrets.token_hex(16), "MODEL_SERVER_TOKEN": secrets.token_hex(16),
               **(extra_env or {})}
        env.pop("CONSOLE_DATA_BRANCH", None)
        service.start(env)
        try:
            service.wait(90)
        except Exception:
            redis.stop()
            raise
        console = cls(f"http://127.0.0.1:{port}", repo, redis, service)
        for role in ("ops", "admin", "guide"):
            console.add_account(role)
        return console

    def add_account(self, role: str, display: str = "") -> str:
        from bot import redis_conn
        from bot.console import staff

        name = f"{role}-{secrets.token_hex(3)}"

        async def save() -> None:
            client = redis_conn.make_redis(self.redis.url)
            try:
                await staff.save_account(client, name, role, PASSWORD, display=display or f"{role} 测试",
                                         guide_userid="guide-test" if role == "guide" else "")
            finally:
                await client.close()
        asyncio.run(save())
        self.accounts.setdefault(role, name)
        return name

    def login(self, role: str, csrf: bool = True) -> requests.Session:
        """A browser-like session of that role; `csrf=False` leaves the CSRF header off (an attack)."""
        session = requests.Session()
        answer = session.post(f"{self.url}/api/staff/login",
                              json={"username": self.accounts[role], "password": PASSWORD}, timeout=10)
        assert answer.status_code == 200, answer.text
        if csrf:
            session.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return session

    def log(self) -> str:
        return self.service.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.service.stop()
        self.redis.stop()


@contextmanager
def ops_page(console: OpsConsole, role: str = "ops") -> Iterator[Tuple[Any, List[str]]]:
    """Headless Chromium signed in to /ops/ as `role`: (page, problems), where problems
    collects page errors and CSP refusals (a page test asserts it stays empty)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).is_file():
        raise AssertionError(f"Chromium not found at {CHROMIUM}: run `WITH_BROWSER=1 bash scripts/setup.sh`")
    problems: List[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda msg: problems.append(msg.text)
                    if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
            page.goto(console.url + "/ops/")
            page.locator("#username").fill(console.accounts[role])
            page.locator("#password").fill(PASSWORD)
            page.locator("#login-form button").click()
            yield page, problems
        finally:
            browser.close()
