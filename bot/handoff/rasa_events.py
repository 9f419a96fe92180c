"""Pause, resume and read a conversation through Rasa's HTTP API (RASA_TOKEN).

The worker runs inside a Rasa server process, but goes through the API like any
other caller: the API takes the conversation's lock, so an event never lands in
the middle of a turn another process is running."""
from __future__ import annotations

import asyncio
import os
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp


def rasa_base_url() -> str:
    """RASA_URL (the launcher sets it), else RASA_HOST/RASA_PORT on loopback."""
    if os.environ.get("RASA_URL", "").strip():
        return os.environ["RASA_URL"].strip()
    host = os.environ.get("RASA_HOST", "127.0.0.1").strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{os.environ.get('RASA_PORT', '5005').strip() or '5005'}"


class RasaEvents:
    def __init__(self, base_url: Optional[str] = None, token: Optional[str] = None, timeout_s: float = 10.0) -> None:
        self.base_url = (base_url or rasa_base_url()).rstrip("/")
        self.token = os.environ.get("RASA_TOKEN", "") if token is None else token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    def _url(self, sender_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(sender_id, safe='')}/tracker{tail}"

    async def _call(self, method: str, url: str, body: Any = None, params: Optional[Dict[str, str]] = None) -> Any:
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            async with session.request(method, url, json=body, params={"token": self.token, **(params or {})}) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"Rasa {method} {url.split('?')[0]}: HTTP {answer.status}")
                return await answer.json(content_type=None)

    async def append(self, sender_id: str, *events: Dict[str, Any]) -> None:
        await self._call("POST", self._url(sender_id, "/events"), list(events))

    async def pause(self, sender_id: str) -> None:
        await self.append(sender_id, {"event": "pause"})

    async def resume(self, sender_id: str) -> None:
        # The turn that paused ended without `action_listen` (a paused Rasa predicts nothing more);
        # without one the policies read the next message as part of that turn.
        await self.append(sender_id, {"event": "resume"}, {"event": "action", "name": "action_listen"})

    async def recent_lines(self, sender_id: str, limit: int = 6) -> List[Dict[str, str]]:
        """The last user/bot texts of the conversation (the bot's part the guide did not see)."""
        try:
            tracker = await self._call("GET", self._url(sender_id, ""), params={"include_events": "APPLIED"})
        except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError, ValueError):
            return []
        lines = [{"who": e["event"], "text": str(e.get("text"))} for e in tracker.get("events") or []
                 if e.get("event") in ("user", "bot") and e.get("text")]
        return lines[-limit:]
