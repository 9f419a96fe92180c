"""The model server Rasa pulls from, and the ops API that moves the production pointer.

    GET  /models/production            Rasa (endpoints.yml `models`): Bearer MODEL_SERVER_TOKEN;
                                       200 + ETag, 304 for If-None-Match, 404 while no model is live
    GET  /api/ops/models               ops, admin: models, the live one, rollback choices,
                                       activations, what each Rasa process serves
    POST /api/ops/models/activate      admin + CSRF: {"model": name} (needs its comparison)
    POST /api/ops/models/rollback      admin + CSRF: {"model": name} (one of the last N live models)
"""
from __future__ import annotations

import hmac
import logging
import os

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console import model_registry as registry
from bot.console.ops_common import ADMIN_ROLES, OPS_ROLES, api_errors, json_body
from bot.console.staff import API_HEADERS, Refusal, authorise
from bot.model_pull import model_etag
from bot.redis_conn import get_redis
from common.redis_settings import UNAVAILABLE

logger = logging.getLogger(__name__)



def _model_server_token() -> str:
    return os.environ.get("MODEL_SERVER_TOKEN", "").strip()


def _body_model(request: Request) -> str:
    model = json_body(request).get("model")
    if not isinstance(model, str):
        raise Refusal(400, "body must be {\"model\": name}")
    return model


def models_blueprint() -> Blueprint:
    bp = Blueprint("ops_models")

    @bp.exception(registry.RegistryError)
    async def registry_refused(request: Request, error: registry.RegistryError) -> HTTPResponse:
        return response.json({"error": str(error)}, status=409, headers=API_HEADERS)

    api_errors(bp, "Models API", "model registry unavailable")

    @bp.before_server_start
    async def initial_production(app, _loop) -> None:
        try:
            name = await registry.ensure_initial(get_redis(), os.environ.get("RASA_MODEL_FILE", ""))
        except UNAVAILABLE as error:
            logger.warning("model registry: Redis unavailable at start (%s)", type(error).__name__)
            return
        if name:
            logger.info("model registry: %s is the first production model", name)

    @bp.get("/models/production")
    async def serve_production(request: Request) -> HTTPResponse:
        expected = _model_server_token()
        if not expected:
            return response.json({"error": "MODEL_SERVER_TOKEN is not configured"}, status=503)
        presented = request.headers.get("authorization", "")
        presented = presented[7:].strip() if presented.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(presented, expected):
            logger.warning("model server: refused a pull without the right token from %s", request.ip)
            return response.json({"error": "unauthorised"}, status=401)
        name = await registry.production(get_redis())
        path = registry.models_dir() / name if name else None
        if path is None or not path.is_file():
            return response.empty(status=404)
        etag = model_etag(path)
        if request.headers.get("if-none-match", "") == etag:
            return response.empty(status=304, headers={"ETag": etag})
        return await response.file_stream(
            str(path), headers={"ETag": etag, "filename": path.name}, mime_type="application/gzip")

    @bp.get("/api/ops/models")
    async def overview(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        redis = get_redis()
        return response.json({
            "production": await registry.production(redis),
            "models": registry.list_models(),
            "rollback": await registry.rollback_choices(redis),
            "activations": await registry.activations(redis, 20),
            "serving": await registry.serving(redis),
        }, headers=API_HEADERS)

    async def move(request: Request, kind: str) -> HTTPResponse:
        who = await authorise(request, roles=ADMIN_ROLES)
        name = _body_model(request)
        previous = await registry.activate(get_redis(), name, who.account.username, kind)
        logger.info("model %s: %s by %s (was %s)", kind, name, who.account.username, previous or "none")
        return response.json({"production": name, "previous": previous}, headers=API_HEADERS)

    @bp.post("/api/ops/models/activate")
    async def activate(request: Request) -> HTTPResponse:
        return await move(request, "activate")

    @bp.post("/api/ops/models/rollback")
    async def rollback(request: Request) -> HTTPResponse:
        return await move(request, "rollback")

    return bp
