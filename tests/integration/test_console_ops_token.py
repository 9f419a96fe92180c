"""The console's ops API (unanswered inbox) takes CONSOLE_OPS_TOKEN in the
Authorization header and nothing else: not RASA_TOKEN, not `?token=`.

The real console (`python -m bot.console`, as `make run` starts it) against a
real redis-server; Rasa is not needed for these routes."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Dict, Iterator

import pytest
import requests

from bot.redis_server import RedisServer, free_port
from bot.stack import RASA_PY, Service, redis_env

OPS_TOKEN = secrets.token_hex(16)
RASA_TOKEN = secrets.token_hex(16)


def start_console(tmp: Path, redis_url: str, env: Dict[str, str]) -> Service:
    port = free_port()
    service = Service(
        "console", [str(RASA_PY), "-m", "bot.console", "--port", str(port)],
        f"http://127.0.0.1:{port}/healthz", tmp / f"console-{port}.log",
    )
    service.start({
        **os.environ, **redis_env(redis_url), "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "RASA_URL": "http://127.0.0.1:9", "RASA_TOKEN": RASA_TOKEN, **env,
    })
    service.wait(60)
    return service


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start(appendonly=False)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory, redis_url) -> Iterator[str]:
    service = start_console(tmp_path_factory.mktemp("console"), redis_url, {"CONSOLE_OPS_TOKEN": OPS_TOKEN})
    yield service.health_url.rsplit("/", 1)[0]
    service.stop()


def groups(base: str, **kwargs) -> requests.Response:
    return requests.get(f"{base}/api/inbox/groups", timeout=10, **kwargs)


def test_ops_token_in_the_header_works(console):
    answer = groups(console, headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert answer.status_code == 200
    assert answer.json()["groups"] == []


def test_no_token_or_a_wrong_one_is_refused(console):
    assert groups(console).status_code == 401
    assert groups(console, headers={"Authorization": f"Bearer {OPS_TOKEN[:-1]}x"}).status_code == 401
    assert groups(console, headers={"Authorization": OPS_TOKEN}).status_code == 401  # no scheme


def test_ops_token_in_the_url_is_refused(console):
    answer = groups(console, params={"token": OPS_TOKEN})
    assert answer.status_code == 400 and "groups" not in answer.json()
    # not even next to a valid header: the URL already leaked it into logs
    both = groups(console, params={"token": OPS_TOKEN}, headers={"Authorization": f"Bearer {OPS_TOKEN}"})
    assert both.status_code == 400


def test_rasa_token_is_not_an_ops_token(console):
    assert groups(console, headers={"Authorization": f"Bearer {RASA_TOKEN}"}).status_code == 401


def test_without_an_ops_token_the_api_is_closed_not_open_to_rasa_token(tmp_path, redis_url):
    service = start_console(tmp_path, redis_url, {"CONSOLE_OPS_TOKEN": ""})
    try:
        base = service.health_url.rsplit("/", 1)[0]
        assert groups(base, headers={"Authorization": f"Bearer {RASA_TOKEN}"}).status_code == 503
        assert groups(base).status_code == 503
    finally:
        service.stop()
