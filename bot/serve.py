"""Entry point for the Rasa server: Rasa's own CLI plus our start-up hooks.

    python -m bot.serve run --enable-api ...   (same arguments as `rasa`)

`run` without `--auth-token` takes the token from RASA_TOKEN, so the secret is
not on the command line (where `ps` shows it to every user of the machine).

Issue 11 (docs/performance.md): unless the environment says otherwise, two
server processes share the port (Sanic workers; the Redis lock store keeps one
conversation's turns in order) and TensorFlow uses one thread in each, so two
cores run two turns at once instead of spreading one inference thinly. Set here,
not by a launcher, so `make run`, the tests and a container all get them.
"""
from __future__ import annotations

import os
import sys
from typing import List

from bot import action_guard, action_response_schema, lock_polling, model_pull, parse_cache, policy_cache
from common.env import set_defaults
from common.privacy import install_log_masking

PERFORMANCE_DEFAULTS = {
    "SANIC_WORKERS": "2",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


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
    set_defaults(PERFORMANCE_DEFAULTS)  # before Rasa and TensorFlow read them
    install_log_masking()  # no raw phone/address in any log line (common/privacy.py)
    action_guard.install()
    action_response_schema.install()  # one compiled validator, not one per action call
    parse_cache.install()  # a campaign keyword is understood once, not once per customer
    policy_cache.install()  # TED predicts a dialogue state once, not once per conversation in it
    lock_polling.install()  # a conversation's next message starts within 50 ms, not 1 s
    model_pull.install()  # the console's production model on every worker, loaded beside the old one
    sys.argv = with_token_from_env(sys.argv)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
