"""The held-back last byte: the API acts on a request only once it is released."""
from __future__ import annotations

import asyncio

import requests

from bot.outbound.held_post import Connections, HeldPost, HeldPostError
from bot.redis_server import free_port
from tests.outbound.conftest import run


def token(stand_in_url: str) -> str:
    return requests.get(f"{stand_in_url}/cgi-bin/token", params={"grant_type": "client_credential", "appid": "wx",
                                                                  "secret": "s"}, timeout=5).json()["access_token"]


def test_a_held_request_is_acted_on_only_when_committed_and_never_when_dropped(stand_in, stand_in_url):
    connections = Connections()
    params = {"access_token": token(stand_in_url)}
    url = f"{stand_in_url}/cgi-bin/message/custom/send"

    async def body():
        dropped = await HeldPost.start(connections, url, params, {"touser": "oDropped", "msgtype": "text",
                                                                  "text": {"content": "不该发出"}})
        kept = await HeldPost.start(connections, url, params, {"touser": "oKept", "msgtype": "text",
                                                               "text": {"content": "发出"}})
        await asyncio.sleep(0.3)  # the server has every byte but the last of both
        waiting = [b["touser"] for b in stand_in.sent()]
        dropped.abort()
        answer = await kept.commit()
        again = await HeldPost.start(connections, url, params, {"touser": "oReused", "msgtype": "text",
                                                                "text": {"content": "同一连接"}})
        second = await again.commit()
        connections.close()
        return waiting, answer, second

    waiting, answer, second = run(body)
    assert waiting == []
    assert answer == {"errcode": 0, "errmsg": "ok"} and second["errcode"] == 0
    assert [b["touser"] for b in stand_in.sent()] == ["oKept", "oReused"]


def test_an_api_that_cannot_be_reached_is_reported_before_anything_is_claimed():
    async def body():
        try:
            await HeldPost.start(Connections(timeout_s=2), f"http://127.0.0.1:{free_port()}/x", {}, {"a": 1})
        except HeldPostError as error:
            return str(error)
        return ""

    assert run(body)
