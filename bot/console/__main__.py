"""`python -m bot.console --port N [--host H]`: serve the console (web chat; later ops, guides).

Listens on $CONSOLE_HOST, else 127.0.0.1; a reverse proxy exposes it (docs/deploy.md)."""
from __future__ import annotations

import argparse
import logging
import os

from bot.console.app import create_app
from common.privacy import install_log_masking


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.console", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("CONSOLE_HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CONSOLE_PORT", "8000")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()  # no raw phone/address in any log line (common/privacy.py)
    app = create_app()
    app.run(host=args.host, port=args.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
