"""Fixtures shared by the unit tests that need a real Redis."""
from __future__ import annotations

from typing import Iterator

import pytest

from bot.redis_server import RedisServer, free_port


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A private redis-server per test module, without persistence."""
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start(appendonly=False)
    try:
        yield server.url
    finally:
        server.stop()
