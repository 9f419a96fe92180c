"""python -m bot.outbound: one outbound worker process (start as many as you like)."""
from __future__ import annotations

import logging
import os

from arq.worker import Worker

from bot.outbound.worker import worker_settings
from common.dotenv import load_dotenv
from common.privacy import install_log_masking


def main() -> None:
    load_dotenv()
    logging.basicConfig(level=os.environ.get("OUTBOUND_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    Worker(**worker_settings()).run()


if __name__ == "__main__":
    main()
