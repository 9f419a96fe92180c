"""python -m bot.outbound: one outbound worker process (start as many as you like).

`--check` exits 0 when a worker of this queue reported itself healthy within the last
health-check interval (arq's health key in Redis), 1 otherwise: the container probe.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys

from arq.worker import Worker

from bot.outbound.worker import QUEUE, worker_settings
from bot.redis_conn import make_redis
from common.dotenv import load_dotenv
from common.privacy import install_log_masking

HEALTH_KEY = QUEUE + ":health-check"  # arq's default: <queue name> + ":health-check"


async def healthy() -> bool:
    redis = make_redis()
    try:
        return bool(await redis.exists(HEALTH_KEY))
    finally:
        await redis.close()


def main() -> None:
    load_dotenv()
    if "--check" in sys.argv[1:]:
        sys.exit(0 if asyncio.run(healthy()) else 1)
    logging.basicConfig(level=os.environ.get("OUTBOUND_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    Worker(**worker_settings()).run()


if __name__ == "__main__":
    main()
