"""`make run`: Redis (embedded unless REDIS_URL is set), a model (trained if
models/ has none), the action server, the Rasa server and the console.
Ctrl-C stops everything this started."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import model_files  # noqa: E402
from bot.dotenv import load_dotenv  # noqa: E402
from bot.persona import load_persona  # noqa: E402
from bot.stack import ROOT, Stack  # noqa: E402


def choose_model() -> Path:
    current = model_files.current_model_path()
    if current.is_file():
        return current
    newest = model_files.newest_model()
    if newest is None:
        print("==> no model in models/: training one (a few minutes, once)")
        return model_files.train()
    print(f"==> note: training data changed since {newest.name}; serving it anyway. Run `make train` to update.")
    return newest


def main() -> None:
    load_dotenv()
    persona = load_persona(os.environ.get("PERSONA", "qiqi"))  # fail fast on a typo
    stack = Stack(
        model=choose_model(),
        rasa_port=int(os.environ.get("RASA_PORT", "5005")),
        actions_port=int(os.environ.get("ACTIONS_PORT", "5055")),
        console_port=int(os.environ.get("CONSOLE_PORT", "8000")),
        rasa_token=os.environ["RASA_TOKEN"],
        run_dir=ROOT / ".run",
        redis_url=os.environ.get("REDIS_URL") or None,
        persona=persona.id,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C must stop everything even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        print("==> starting Redis, action server, Rasa server and console …")
        stack.start(redis_port=int(os.environ.get("EMBEDDED_REDIS_PORT", "6399")))
        print(
            f"""
  {persona.name} is online (persona '{persona.id}', model {stack.model.name})
  web chat      {stack.console_url}/
  Rasa API      {stack.rasa_url}  (token in .env: RASA_TOKEN)
  action server http://127.0.0.1:{stack.actions_port}
  Redis         {stack.redis_url}{'  (embedded, data in .run/redis/)' if stack.redis else ''}
  logs          .run/logs/
Press Ctrl-C to stop."""
        )
        while all(s.process and s.process.poll() is None for s in stack.services.values()):
            time.sleep(1)
        print("==> a process exited; see .run/logs/. Stopping.")
    except KeyboardInterrupt:
        print("\n==> stopping …")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
