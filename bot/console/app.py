"""The console's Sanic app. `create_app()` builds it; blueprints (web chat now,
ops and guides later) are registered here and share `app.ctx`:

    app.ctx.live                                         the active persona, live (webchat.LivePersona:
                                                         .persona, .profile, .page follow edits of its files)
    app.ctx.rasa                                         RasaClient (REST webhook)
    app.ctx.rasa_url / app.ctx.rasa_token                for Rasa's HTTP API
"""
from __future__ import annotations

import itertools
import os
from typing import Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.rasa_client import RasaClient
from bot.console.brand_api import brand_blueprint
from bot.console.dashboard_api import mount_vendor, ops_insights_blueprint
from bot.console.guide_api import guide_blueprint
from bot.console.history_api import history_blueprint, make_history
from bot.console.inbox_api import inbox_blueprint
from bot.console.learn_api import learn_blueprint
from bot.console.models_api import models_blueprint
from bot.console.nlu_api import nlu_blueprint
from bot.console.outbound_api import outbound_blueprint
from bot.console.training import training_blueprint
from bot.console.wecom_oauth import wecom_oauth_blueprint
from bot.console.staff import staff_blueprint
from bot.console.webchat import STATIC_DIR, LivePersona, webchat_blueprint

DEFAULT_RASA_URL = "http://127.0.0.1:5005"
_app_ids = itertools.count()


def create_app(
    rasa_url: Optional[str] = None,
    rasa_token: Optional[str] = None,
    persona_id: Optional[str] = None,
    rasa_timeout_s: Optional[float] = None,
) -> Sanic:
    """Build a console app; arguments default to the environment (CONTRACTS §2)."""
    # Unique names: tests may build several apps in one process. Logging is
    # configured by the entry point (__main__), not by building an app.
    app = Sanic(f"console_{next(_app_ids)}", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = 1_000_000
    app.config.FALLBACK_ERROR_FORMAT = "json"

    # Read live, not cached: an ops edit of the persona or the facts shows without a restart.
    app.ctx.live = LivePersona(persona_id or os.environ.get("PERSONA") or None)
    persona = app.ctx.live.persona
    app.ctx.rasa_url = (rasa_url or os.environ.get("RASA_URL") or DEFAULT_RASA_URL).rstrip("/")
    app.ctx.rasa_token = rasa_token if rasa_token is not None else os.environ.get("RASA_TOKEN", "")
    timeout = rasa_timeout_s or float(os.environ.get("CONSOLE_RASA_TIMEOUT_S", "30"))
    app.ctx.rasa = RasaClient(app.ctx.rasa_url, timeout_s=timeout, token=app.ctx.rasa_token)

    @app.get("/healthz")
    async def healthz(_: Request) -> HTTPResponse:
        return response.json({"status": "ok", "persona": persona.id})

    app.static("/static", str(STATIC_DIR), name="static")
    app.blueprint(webchat_blueprint())
    app.blueprint(inbox_blueprint())  # ops: unanswered questions (token-protected)
    app.blueprint(staff_blueprint())  # guide / ops / admin accounts: sign-in sessions with CSRF tokens
    app.blueprint(guide_blueprint())  # /guide/: conversations handed to guides, live
    app.blueprint(wecom_oauth_blueprint())  # guides opening /guide/ from the WeCom app: signed in by WeCom
    history = make_history()  # issue 13: data changes are git commits by the ops account
    app.ctx.history = history
    app.blueprint(history_blueprint(history))  # /ops/ and the history of data changes
    app.blueprint(models_blueprint())  # the model server Rasa pulls from; activate / roll back
    app.blueprint(training_blueprint(  # validate -> train -> compare jobs, on the console's data folder
        data_root=lambda: history.data_root if history else None,
        head_commit=lambda: (history.log(1) or [{}])[0].get("sha", "") if history else ""))
    app.blueprint(nlu_blueprint(history))  # intents, examples, FAQ keys and answers: each save a commit
    app.blueprint(brand_blueprint(history))  # brand facts and personas: live without retraining
    app.blueprint(learn_blueprint(history))  # missed messages -> examples / a new FAQ / dismissed
    app.blueprint(ops_insights_blueprint())  # conversation review and the dashboard
    mount_vendor(app)  # /vendor/echarts.min.js for the dashboard's charts
    app.blueprint(outbound_blueprint())  # 触达: segment pushes and prize shipping

    @app.before_server_start
    async def open_client(app_: Sanic, _loop) -> None:
        await app_.ctx.rasa.start()

    @app.after_server_stop
    async def close_client(app_: Sanic, _loop) -> None:
        await app_.ctx.rasa.close()

    return app
