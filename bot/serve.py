"""Entry point for the Rasa server: Rasa's own CLI plus our start-up hooks.

    python -m bot.serve run --enable-api ...   (same arguments as `rasa`)
"""
from __future__ import annotations

from bot import action_guard
from common.privacy import install_log_masking


def main() -> None:
    install_log_masking()  # no raw phone/address in any log line (common/privacy.py)
    action_guard.install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
