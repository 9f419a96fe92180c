"""One real stack for the end-to-end tests: a private redis-server, the action
server, the Rasa server (current model) and the console, each on a free port;
the WeChat channels are configured against the local API stand-in."""
from __future__ import annotations

import base64
import functools
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests

from bot.model_files import ensure_current_model
from bot.redis_server import free_port
from bot.stack import Stack, stand_in_service
from tests.e2e.replies import assert_not_only_apology
from tests.integration.ops_console import copy_data_repo


@pytest.fixture(scope="session")
def model_path():
    return ensure_current_model()


@dataclass(frozen=True)
class WeChatSetup:
    """Credentials the channels run with, and the API stand-in they call."""
    api_base: str
    mp_appid: str = "wx" + secrets.token_hex(8)
    mp_token: str = secrets.token_hex(8)
    mp_aes_key: str = base64.b64encode(os.urandom(32)).decode()[:-1]
    corp_id: str = "ww" + secrets.token_hex(8)
    kf_token: str = secrets.token_hex(8)
    kf_aes_key: str = base64.b64encode(os.urandom(32)).decode()[:-1]
    app_agent_id: str = "1000002"
    app_token: str = secrets.token_hex(8)
    app_aes_key: str = base64.b64encode(os.urandom(32)).decode()[:-1]

    def env(self) -> Dict[str, str]:
        return {
            "WECHAT_API_BASE": self.api_base, "WECOM_API_BASE": self.api_base,
            "WECHAT_MP_APPID": self.mp_appid, "WECHAT_MP_SECRET": "mp-secret",
            "WECHAT_MP_TOKEN": self.mp_token, "WECHAT_MP_AES_KEY": self.mp_aes_key,
            "WECOM_CORP_ID": self.corp_id, "WECOM_KF_SECRET": "kf-secret",
            "WECOM_KF_TOKEN": self.kf_token, "WECOM_KF_AES_KEY": self.kf_aes_key,
            "WECOM_AGENT_ID": self.app_agent_id, "WECOM_SECRET": "app-secret",
            "WECOM_TOKEN": self.app_token, "WECOM_AES_KEY": self.app_aes_key,
            "WECOM_OAUTH_BASE": self.api_base,  # the stand-in plays WeCom's sign-in page too
        }


# Guides on duty around the clock (tests run at any hour), roomy enough for the whole
# suite, slow timers: the handoff tests decide when a conversation ends.
TEST_ROSTER = """timezone: Asia/Shanghai
reply_timeout_min: 120
idle_timeout_min: 120
bind_first_guide: true
guides:
  - {userid: guide-e2e-lin, name: 林导购, group: shanghai, capacity: 40, hours: {mon-sun: "00:00-24:00"}}
  - {userid: guide-e2e-chen, name: 陈导购, group: shanghai, capacity: 40, hours: {mon-sun: "00:00-24:00"}}
"""


@pytest.fixture(scope="session")
def wechat(tmp_path_factory) -> Iterator[WeChatSetup]:
    # The same stand-in service `WECHAT_DEMO=1 make run` starts; it needs no Redis.
    port = free_port()
    service = stand_in_service(port, tmp_path_factory.mktemp("stand_in"))
    try:
        service.start({**os.environ}).wait(60)
        yield WeChatSetup(api_base=f"http://127.0.0.1:{port}")
    finally:
        service.stop()


@pytest.fixture(scope="session")
def stack(model_path, wechat, tmp_path_factory) -> Iterator[Stack]:
    roster = tmp_path_factory.mktemp("handoff") / "guides.yml"
    roster.write_text(TEST_ROSTER, encoding="utf-8")
    running = Stack(
        model=model_path,
        rasa_port=free_port(),
        actions_port=free_port(),
        console_port=free_port(),
        rasa_token=secrets.token_hex(8),
        run_dir=tmp_path_factory.mktemp("stack"),
        persona="qiqi",
        # the ops console edits (and commits to) a copy of the data, never this checkout; its
        # finetunes run a tenth of the epochs (enough to learn the phrasing just added)
        extra_env={**wechat.env(), "HANDOFF_ROSTER_FILE": str(roster),
                   "CONSOLE_REPO": str(copy_data_repo(tmp_path_factory.mktemp("console") / "repo")),
                   "CONSOLE_FINETUNE_EPOCH_FRACTION": "0.1",
                   # the outbound worker: tests run at any hour, and need not wait for its sweep
                   "OUTBOUND_QUIET_HOURS": "none", "OUTBOUND_SWEEP_S": "1"},
    )
    yield from started(running, redis_port=free_port())


def started(running: Stack, redis_port: int) -> Iterator[Stack]:
    """A fixture body: start the stack, yield it, stop it; its logs' tails are printed
    when it fails to start or a test using it raises."""
    try:
        running.start(redis_port=redis_port)
        yield running
    except Exception:
        for log in (running.run_dir / "logs").glob("*.log"):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        running.stop()


CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    """Headless Chromium (Playwright) for the page tests: the web chat and the guide console.
    Per module: Playwright's sync API keeps an event loop running while it is open, and the
    tests after a browser module use asyncio.run."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `WITH_BROWSER=1 bash scripts/setup.sh`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def rewrite_roster(stack):
    """Give the stack's guides for one test (both servers re-read the file when it changes)."""
    path = Path(stack.extra_env["HANDOFF_ROSTER_FILE"])
    original = path.read_text(encoding="utf-8")

    def write(text: str) -> None:
        path.write_text(text, encoding="utf-8")
    yield write, original
    path.write_text(original, encoding="utf-8")


class Chat:
    """A consumer talking to the bot through Rasa's REST webhook, as a trusted
    caller (RASA_TOKEN as `Authorization: Bearer`). `sender` is the namespaced
    tracker id the conversation runs under (`rest:<id>`), for tracker reads."""

    def __init__(self, base_url: str, sender: str, token: str) -> None:
        self.url = f"{base_url}/webhooks/rest/webhook"
        self.sender = sender if sender.startswith(("rest:", "web:")) else f"rest:{sender}"
        self.headers = {"Authorization": f"Bearer {token}"}

    def send(self, message, allow_apology: bool = False) -> List[dict]:
        """The bot's messages. A reply that is nothing but an outage apology fails
        the test (an apology must never pass as an answer) unless the test is
        about outages and says so with `allow_apology=True`."""
        response = requests.post(
            self.url, json={"sender": self.sender, "message": message}, headers=self.headers, timeout=30
        )
        response.raise_for_status()
        messages = response.json()
        if not allow_apology:
            assert_not_only_apology(messages)
        return messages

    def texts(self, message, allow_apology: bool = False) -> str:
        return "\n".join(m.get("text", "") for m in self.send(message, allow_apology))


@pytest.fixture(scope="session")
def make_chat(stack):
    """Chat(base_url, sender) for tests that talk to another Rasa server (same token)."""
    return functools.partial(Chat, token=stack.rasa_token)


@pytest.fixture
def chat(stack, request) -> Chat:
    return Chat(stack.rasa_url, f"e2e-{request.node.name}-{secrets.token_hex(3)}", stack.rasa_token)
