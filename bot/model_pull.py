"""Every Rasa process serves the model the console marks "production" (issue 13, item 5).

Rasa's `PUT /model` swaps only the process that receives it, and `make run` runs
two Sanic workers per server. So each worker pulls from the console's model
server instead (endpoints.yml `models: url`, every `wait_time_between_pulls`
seconds, with `If-None-Match: <fingerprint>`). Rasa's own pull has two gaps this
module closes (installed by bot/serve.py):

* Rasa loads the pulled model on its event loop: the worker answers nothing for
  the seconds a model takes to load. Here the new model loads in a thread while
  the old one keeps answering; the agent switches when it is ready.
* With a model server configured Rasa ignores `--model`: a console that is not
  up yet (they start in parallel) leaves the worker with no model at all. Here a
  worker with no model loads the local file the launcher chose (RASA_MODEL_FILE)
  and names it by its file stem, the ETag the model server uses, so the next
  pull of the same model is a 304.

After each pull the worker reports what it serves in `console:models:serving`
(field `<host>:<pid>`, a JSON object with the model and the time): the console
shows every process, not whichever one answers `/status`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any, Optional

logger = logging.getLogger(__name__)

SERVING_KEY = "console:models:serving"
_installed = False


def model_etag(path: Path) -> str:
    """The model server's ETag for a model file: its name without `.tar.gz`."""
    name = path.name
    return name[: -len(".tar.gz")] if name.endswith(".tar.gz") else name


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def served_model(agent: Any) -> Optional[str]:
    return agent.fingerprint if agent.processor is not None else None


async def report_serving(agent: Any, loading: str = "") -> None:
    """Best effort: a Redis outage must never stop a worker from serving."""
    from bot.redis_conn import get_redis

    record = {"model": served_model(agent), "loading": loading, "at": time.time(),
              "port": os.environ.get("RASA_PORT", "")}
    try:
        await get_redis().hset(SERVING_KEY, process_id(), json.dumps(record))
    except Exception as error:  # noqa: BLE001
        logger.warning("could not report the served model: %s", error)


def _load_local_fallback(agent: Any) -> None:
    local = os.environ.get("RASA_MODEL_FILE", "")
    if local and Path(local).is_file():
        logger.warning("model server unavailable: serving the local model %s until it answers", Path(local).name)
        agent.load_model(local, model_etag(Path(local)))


async def update_model_from_server(model_server: Any, agent: Any) -> None:
    """Replaces rasa.core.agent._update_model_from_server (same arguments)."""
    from rasa.core import agent as agent_module
    from rasa.utils.common import TempDirectoryPath, get_temp_dir_name

    loop = asyncio.get_running_loop()
    with TempDirectoryPath(get_temp_dir_name()) as directory:
        try:
            fingerprint = await agent_module._pull_model_and_fingerprint(model_server, agent.fingerprint, directory)
            started = time.monotonic()
            if fingerprint and agent.processor is None:  # starting: nothing to keep answering with
                agent.load_model(directory, fingerprint)
            elif fingerprint:  # the old model keeps answering while the new one loads
                await report_serving(agent, loading=fingerprint)
                await loop.run_in_executor(None, agent.load_model, directory, fingerprint)
            elif agent.processor is None:
                _load_local_fallback(agent)
            if fingerprint:
                logger.info("now serving model %s (loaded in %.1f s)", fingerprint, time.monotonic() - started)
        except Exception:  # noqa: BLE001 - Rasa's own behaviour: keep the previous model
            logger.exception("Failed to update model. The previous model will stay loaded instead.")
    await report_serving(agent)


def install() -> None:
    global _installed
    if _installed:
        return
    from rasa.core import agent as agent_module

    agent_module._update_model_from_server = update_model_from_server
    _installed = True
