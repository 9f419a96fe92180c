"""`python -m actions.server --actions actions --port N --host H`: the action server.

rasa-sdk's own Sanic app (`rasa_sdk.endpoint.create_app_for_serve`, same
routes, same plugins) plus what rasa-sdk lacks:

* every path except `/health` needs `Authorization: Bearer $ACTIONS_TOKEN`
  (Rasa sends it, see endpoints.yml); anything else gets 401 and a log line.
  An empty ACTIONS_TOKEN refuses to start: there is no open mode, because the
  action server takes the customer's identity from the request body;
* it listens on `--host` (default $ACTIONS_HOST, else 127.0.0.1) instead of
  rasa-sdk's 0.0.0.0, and sends no CORS headers unless `--cors` is given;
* `actions.background.start(app)` / `stop(app)` run in every worker.
"""
from __future__ import annotations

import hmac
import logging
import os
import sys
from functools import partial
from typing import List, Optional

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME, DEFAULT_KEEP_ALIVE_TIMEOUT
from rasa_sdk.endpoint import create_app_for_serve, create_argument_parser, create_ssl_config
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

from actions import background
from common.env import env_float, set_defaults

logger = logging.getLogger("actions.server")

TOKEN_ENV = "ACTIONS_TOKEN"
OPEN_PATHS = frozenset({"/health"})  # liveness probes carry no secret


def _presented_token(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_token(app: Sanic, token: str) -> None:
    """Refuse every request without the shared secret, before any other middleware (CORS too)."""
    if not token:
        raise ValueError(f"{TOKEN_ENV} is empty")
    expected = token.encode()

    async def authorise(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        presented = _presented_token(request)
        if presented is not None and hmac.compare_digest(presented.encode(), expected):
            return None
        logger.warning(
            "refused %s %s from %s: %s", request.method, request.path, request.ip,
            "no bearer token" if presented is None else "wrong token",
        )
        return response.json({"error": "unauthorised"}, status=401)

    app.register_middleware(authorise, "request", priority=1000)


async def _start_background(app: Sanic) -> None:
    await background.start(app)


async def _stop_background(app: Sanic) -> None:
    await background.stop(app)


def build_app(
    actions_module: str,
    token: str,
    cors_origins: Optional[List[str]] = None,
    auto_reload: bool = False,
    endpoints: str = "endpoints.yml",
    loglevel: Optional[str] = None,
) -> Sanic:
    """The app for the primary process and each worker (module level: AppLoader pickles it)."""
    utils.configure_colored_logging(loglevel)
    executor = ActionExecutor()
    executor.register_package(actions_module)
    app = create_app_for_serve(
        executor, cors_origins=cors_origins, auto_reload=auto_reload,
        endpoints=endpoints, keep_alive_timeout=DEFAULT_KEEP_ALIVE_TIMEOUT,
    )
    require_token(app, token)
    app.register_listener(_start_background, "after_server_start")
    app.register_listener(_stop_background, "before_server_stop")
    return app


def actions_workers() -> int:
    """Processes serving actions (each loads the FAQ embedding model): ACTIONS_WORKERS, default 1."""
    return max(1, int(env_float("ACTIONS_WORKERS", 1)))


def main(argv: Optional[List[str]] = None) -> int:
    # torch: one thread (two cores are shared with the Rasa server's two workers); before
    # the actions, and torch with them, are imported; Sanic's worker inherits it
    set_defaults({"OMP_NUM_THREADS": "1"})
    parser = create_argument_parser()
    parser.prog = "python -m actions.server"
    parser.add_argument(
        "--host", default=os.environ.get("ACTIONS_HOST") or "127.0.0.1",
        help="address to listen on (default $ACTIONS_HOST, else 127.0.0.1)",
    )
    args = parser.parse_args(argv)
    if args.grpc:
        parser.error("--grpc is not supported: the shared-secret check is HTTP middleware")
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(
            f"actions.server: {TOKEN_ENV} is empty; refusing to start an action server anyone "
            "could call. Run `make setup` (generates it into .env) or set it in the environment.",
            file=sys.stderr,
        )
        return 2

    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel, args.logging_config_file
    )
    utils.update_sanic_log_level()

    # rasa_sdk.endpoint.run, with our factory and host.
    loader = AppLoader(
        factory=partial(
            build_app, args.actions_module or args.actions, token, args.cors,
            args.auto_reload, args.endpoints, args.loglevel,
        )
    )
    app = loader.load()
    ssl_config = create_ssl_config(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    logger.info("Action endpoint on %s://%s:%s (bearer token required)",
                "https" if ssl_config else "http", args.host, args.port)
    # ACTIONS_WORKERS, not rasa_sdk's SANIC_WORKERS: that one sizes the Rasa server (bot/stack.py)
    app.prepare(host=args.host, port=args.port, ssl=ssl_config, workers=actions_workers())
    Sanic.serve(primary=app, app_loader=loader)
    return 0


if __name__ == "__main__":
    from actions.server import main as _main  # functions must live in `actions.server` for the workers

    sys.exit(_main())
