"""One real stack for the end-to-end tests: a private redis-server, the action
server, the Rasa server (current model) and the console, each on a free port."""
from __future__ import annotations

import secrets
from typing import Iterator, List

import pytest
import requests

from bot.model_files import ensure_current_model
from bot.redis_server import free_port
from bot.stack import Stack


@pytest.fixture(scope="session")
def model_path():
    return ensure_current_model()


@pytest.fixture(scope="session")
def stack(model_path, tmp_path_factory) -> Iterator[Stack]:
    running = Stack(
        model=model_path,
        rasa_port=free_port(),
        actions_port=free_port(),
        console_port=free_port(),
        rasa_token=secrets.token_hex(8),
        run_dir=tmp_path_factory.mktemp("stack"),
        persona="qiqi",
    )
    try:
        running.start(redis_port=free_port())
        yield running
    except Exception:
        for log in (running.run_dir / "logs").glob("*.log"):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        running.stop()


class Chat:
    """A consumer talking to the bot through Rasa's REST webhook."""

    def __init__(self, base_url: str, sender: str) -> None:
        self.url = f"{base_url}/webhooks/rest/webhook"
        self.sender = sender

    def send(self, message) -> List[dict]:
        response = requests.post(self.url, json={"sender": self.sender, "message": message}, timeout=30)
        response.raise_for_status()
        return response.json()

    def texts(self, message) -> str:
        return "\n".join(m.get("text", "") for m in self.send(message))


@pytest.fixture(scope="session")
def make_chat():
    """Chat(base_url, sender) for tests that talk to another Rasa server."""
    return Chat


@pytest.fixture
def chat(stack, request) -> Chat:
    return Chat(stack.rasa_url, f"e2e-{request.node.name}-{secrets.token_hex(3)}")
