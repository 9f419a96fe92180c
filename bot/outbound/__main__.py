"""python -m bot.outbound: one outbound worker process (start as many as you like).

A Redis outage ends an arq worker's run; this process then starts a new worker every few
seconds until Redis is back, so a restart of Redis never stops the product (`make run`
stops everything when one of its processes exits). Jobs are idempotent, so a worker cut
off mid-job loses nothing (bot/outbound/deliveries.py).

`--check` exits 0 when a worker of this queue reported itself healthy within the last
health-check interval (arq's health key in Redis), 1 otherwise: the container probe.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from arq.worker import Worker

from bot.outbound.worker import QUEUE, worker_settings
from bot.redis_conn import make_redis
from common.dotenv import load_dotenv
from common.privacy import install_log_masking
from common.redis_settings import UNAVAILABLE

logger = logging.getLogger("bot.outbound")

HEALTH_KEY = QUEUE + ":health-check"  # arq's default: <queue name> + ":health-check"


async def healthy() -> bool:
    redis = make_redis()
    try:
        return bool(await redis.exists(HEALTH_KEY))
    finally:
        await redis.close()


async def serve(retry_s: float = 3.0) -> None:
    while True:
        worker = Worker(**worker_settings(handle_signals=False))
        try:
            await worker.main()
        except UNAVAILABLE as error:
            logger.warning("Outbound worker: Redis unavailable (%s); starting again in %.0fs.",
                           type(error).__name__, retry_s)
        finally:
            try:
                await worker.close()
            except Exception:  # closing over a dead connection
                pass
        await asyncio.sleep(retry_s)


def main() -> None:
    load_dotenv()
    if "--check" in sys.argv[1:]:
        sys.exit(0 if asyncio.run(healthy()) else 1)
    logging.basicConfig(level=os.environ.get("OUTBOUND_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # jobs are idempotent: stop at once
    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
