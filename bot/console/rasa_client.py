"""Forward a consumer message to Rasa's REST webhook (async, with a timeout).

The webhook answers trusted callers only: the console presents RASA_TOKEN as
`Authorization: Bearer` (a header, so the token stays out of URLs and logs)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import aiohttp

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not be reached or did not answer properly."""


@dataclass
class RasaClient:
    base_url: str
    timeout_s: float = 30.0
    token: str = ""  # RASA_TOKEN, sent as Authorization: Bearer
    connect_timeout_s: float = 3.0
    session: Optional[aiohttp.ClientSession] = None

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/webhooks/rest/webhook"

    async def start(self) -> None:
        if self.session is None:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s, connect=self.connect_timeout_s)
            self.session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def send(self, sender: str, message: str) -> List[Dict[str, Any]]:
        """Rasa's bot messages for one user message; raises RasaUnavailable."""
        await self.start()
        assert self.session is not None
        try:
            async with self.session.post(
                self.webhook_url, json={"sender": sender, "message": message},
                headers={"Authorization": f"Bearer {self.token}"} if self.token else None,
            ) as response:
                if response.status != 200:
                    body = (await response.text())[:200]
                    raise RasaUnavailable(f"HTTP {response.status} from Rasa: {body}")
                payload = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error
        if not isinstance(payload, list):
            raise RasaUnavailable("Rasa answered with something other than a list")
        return [m for m in payload if isinstance(m, dict)]
