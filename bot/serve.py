"""Entry point for the Rasa server: Rasa's own CLI plus our start-up hooks.

    python -m bot.serve run --enable-api ...   (same arguments as `rasa`)

`run` without `--auth-token` takes the token from RASA_TOKEN, so the secret is
not on the command line (where `ps` shows it to every user of the machine).
"""
from __future__ import annotations

import os
import sys
from typing import List

from bot import action_guard, action_response_schema, lock_polling, parse_cache
from common.privacy import install_log_masking


def with_token_from_env(argv: List[str]) -> List[str]:
    if argv[1:2] != ["run"] or "--auth-token" in argv:
        return argv
    token = os.environ.get("RASA_TOKEN", "").strip()
    if token:
        return [*argv, "--auth-token", token]
    if "--enable-api" in argv:  # Rasa would serve its whole HTTP API to anyone
        sys.exit("bot.serve: RASA_TOKEN is empty; refusing to enable Rasa's HTTP API without a token")
    return argv


def main() -> None:
    install_log_masking()  # no raw phone/address in any log line (common/privacy.py)
    action_guard.install()
    action_response_schema.install()  # one compiled validator, not one per action call
    parse_cache.install()  # a campaign keyword is understood once, not once per customer
    lock_polling.install()  # a conversation's next message starts within 50 ms, not 1 s
    sys.argv = with_token_from_env(sys.argv)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
