"""Rasa's REST channel for trusted callers only (same URL: /webhooks/rest/webhook).

Differences from `rasa.core.channels.rest.RestInput`:
- Only callers presenting `RASA_TOKEN` (`?token=` or `Authorization: Bearer`)
  are answered; anyone else gets a 401 and nothing reaches Rasa. The public
  web chat reaches Rasa through the console, which holds the token.
- Identity comes from the channel: the sender id runs in the `rest:` namespace
  (`web:<session>` from the console is kept); ids in a WeChat namespace get a
  403, so not even a token holder writes into a WeChat customer's tracker.
  Client `metadata` is dropped (a forged `unionid` links nobody), and so is a
  client-chosen `input_channel`.
- The body is decoded leniently (invalid UTF-8 is replaced and the message
  still answered); a body that is not a JSON object gets a 400 with a reason;
  empty, emoji-only or over-long messages get a persona reply (bot.input_guard).
The reply is Rasa's usual list; its `recipient_id` is the namespaced id, which
is also the id for `/conversations/<id>/tracker`.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.common import handle_user_text
from bot.input_guard import decode_body
from bot.handoff import worker as handoff_worker
from common import sender as senders
from common.privacy import mask_id

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 256


def presented_token(request: Request) -> str:
    """The token from `Authorization: Bearer <t>`, else from `?token=`."""
    scheme, _, value = (request.headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.args.get("token") or ""


def token_ok(presented: str, expected: str) -> bool:
    # constant-time; an unset RASA_TOKEN admits nobody
    return bool(expected) and hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


class GuardedRestInput(RestInput):
    def __init__(self, token: Optional[str] = None) -> None:
        self.token = os.environ.get("RASA_TOKEN", "") if token is None else token
        if not self.token:
            logger.error("REST webhook: RASA_TOKEN is not set; every call will be refused (401).")

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict]) -> "GuardedRestInput":
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("guarded_rest_webhook", __name__)

        handoff_worker.attach(webhook)  # the handoff outbox goes out from every Rasa process

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not token_ok(presented_token(request), self.token):
                logger.warning("REST webhook: call from %s without a valid token refused (401).", request.ip)
                return response.json(
                    {"error": "unauthorized: present RASA_TOKEN as ?token= or Authorization: Bearer"},
                    status=401, headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                payload = json.loads(decode_body(request.body or b""))
            except json.JSONDecodeError as error:
                logger.warning("REST webhook: malformed JSON body refused (%s).", error)
                return response.json({"error": "malformed JSON body", "detail": str(error)}, status=400)
            if not isinstance(payload, dict):
                logger.warning("REST webhook: JSON body is not an object; refused.")
                return response.json({"error": "JSON body must be an object"}, status=400)

            raw_sender = payload.get("sender")
            raw_sender = "default" if raw_sender in (None, "") else str(raw_sender)
            if len(raw_sender) > MAX_SENDER_CHARS:
                logger.warning("REST webhook: sender id of %d characters refused.", len(raw_sender))
                return response.json({"error": f"sender must be at most {MAX_SENDER_CHARS} characters"}, status=400)
            try:
                sender_id = senders.for_rest(raw_sender)
            except PermissionError as error:
                logger.warning("REST webhook: sender %s refused (403): %s.", mask_id(raw_sender), error)
                return response.json({"error": str(error)}, status=403)
            if "metadata" in payload or "input_channel" in payload:
                logger.debug("REST webhook: client metadata/input_channel from %s ignored.", mask_id(sender_id))

            collector = CollectingOutputChannel()
            await handle_user_text(on_new_message, collector, payload.get("message"), sender_id, self.name(), {})
            return response.json(collector.messages)

        return webhook
