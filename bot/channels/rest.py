"""Rasa's REST channel with guarded input (same URL: /webhooks/rest/webhook).

Differences from `rasa.core.channels.rest.RestInput`: the body is decoded
leniently (invalid UTF-8 is replaced and the message still answered), a body
that is not a JSON object gets a 400 with a reason and a log line, and empty,
emoji-only or over-long messages get a persona reply (see bot.input_guard).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.common import handle_user_text
from bot.input_guard import decode_body

logger = logging.getLogger(__name__)


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("guarded_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                payload = json.loads(decode_body(request.body or b""))
            except json.JSONDecodeError as error:
                logger.warning("REST webhook: malformed JSON body refused (%s).", error)
                return response.json({"error": "malformed JSON body", "detail": str(error)}, status=400)
            if not isinstance(payload, dict):
                logger.warning("REST webhook: JSON body is not an object; refused.")
                return response.json({"error": "JSON body must be an object"}, status=400)

            sender_id = str(payload.get("sender") or "default")
            metadata: Dict[str, Any] = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
            collector = CollectingOutputChannel()
            await handle_user_text(
                on_new_message, collector, payload.get("message"), sender_id, self.name(), metadata
            )
            return response.json(collector.messages)

        return webhook
