"""`make run`: Redis (embedded unless REDIS_URL is set), a model (trained if
models/ has none), the action server, the Rasa server and the console.
Ctrl-C stops everything this started."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Dict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import model_files  # noqa: E402
from common.dotenv import load_dotenv  # noqa: E402
from common.redis_settings import cluster_mode  # noqa: E402
from bot.persona import load_persona  # noqa: E402
from bot.stack import ROOT, Stack, client_host  # noqa: E402


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


def wechat_demo_env(host: str, port: int) -> Dict[str, str]:
    """WECHAT_DEMO=1: channels talk to the local API stand-in with demo credentials."""
    demo = {
        "WECHAT_API_BASE": f"http://{host}:{port}", "WECOM_API_BASE": f"http://{host}:{port}",
        "WECHAT_MP_APPID": "wxdemo0000000001", "WECHAT_MP_SECRET": "demo-secret", "WECHAT_MP_TOKEN": "demotoken",
        "WECHAT_MP_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "WECOM_CORP_ID": "wwdemo0000000001", "WECOM_KF_SECRET": "demo-kf-secret", "WECOM_KF_TOKEN": "demotoken",
        "WECOM_KF_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "demo-app-secret", "WECOM_TOKEN": "demotoken",
        "WECOM_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    }
    return demo


def required_secret(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"{name} is not set: run `make setup` (it generates it into .env) or set it yourself")
    return value


def main() -> None:
    parent = os.getppid()
    load_dotenv()
    persona = load_persona(os.environ.get("PERSONA", "qiqi"))  # fail fast on a typo
    if cluster_mode() and not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_CLUSTER=1 needs REDIS_URL (one node of the cluster): the embedded Redis is a single server")
    stack = Stack(
        model=choose_model(),
        rasa_port=int(os.environ.get("RASA_PORT", "5005")),
        actions_port=int(os.environ.get("ACTIONS_PORT", "5055")),
        console_port=int(os.environ.get("CONSOLE_PORT", "8000")),
        rasa_token=required_secret("RASA_TOKEN"),
        actions_token=required_secret("ACTIONS_TOKEN"),
        console_ops_token=required_secret("CONSOLE_OPS_TOKEN"),
        console_session_secret=required_secret("CONSOLE_SESSION_SECRET"),
        model_server_token=required_secret("MODEL_SERVER_TOKEN"),
        run_dir=Path(os.environ.get("RUN_DIR") or ROOT / ".run"),  # logs and embedded Redis data
        redis_url=os.environ.get("REDIS_URL") or None,
        persona=persona.id,
    )
    demo_port = int(os.environ.get("WECHAT_STAND_IN_PORT", "9100"))
    if os.environ.get("WECHAT_DEMO") == "1":
        stack.extra_env.update(wechat_demo_env(client_host(stack.stand_in_host), demo_port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C must stop everything even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        print("==> starting Redis, action server, Rasa server, console and outbound worker …")
        stack.start(redis_port=int(os.environ.get("EMBEDDED_REDIS_PORT", "6399")))
        if os.environ.get("WECHAT_DEMO") == "1":
            stack.start_service(stack.stand_in_service(demo_port), timeout_s=60)
        local = all(h.startswith("127.") or h == "::1" for h in (stack.rasa_host, stack.actions_host, stack.console_host))
        exposure = "  (this machine only)" if local else "  (not loopback: expose only what docs/deploy.md lists)"
        print(
            f"""
  {persona.name} is online (persona '{persona.id}', model {stack.model.name})
  web chat      {stack.console_url}/
  Rasa API      {stack.rasa_url}  (token in .env: RASA_TOKEN)
  action server {stack.actions_url}  (for Rasa only: ACTIONS_TOKEN)
  outbound      {'worker running (reminders, shipping notices, pushes)' if 'outbound' in stack.services else 'not started: it needs one Redis server, not a cluster'}
  Redis         {stack.redis_url}{'  (embedded, data in .run/redis/)' if stack.redis else ''}
  logs          .run/logs/
  listening on  Rasa {stack.rasa_host}, actions {stack.actions_host}, console {stack.console_host}{exposure}
Press Ctrl-C to stop."""
        )
        if os.environ.get("WECHAT_DEMO") == "1":
            print(
                f"  WeChat demo: API stand-in on http://{client_host(stack.stand_in_host)}:{demo_port} (record: /_stand_in/record); try\n"
                f"  PYTHONPATH=. .venv/rasa/bin/python -m bot.stand_in.simulator --url {stack.rasa_url}/webhooks/wechat_mp/webhook"
                " --token demotoken --aes-key abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG --receiver-id wxdemo0000000001"
                " --mode safe text 你好"
            )
        while all(s.process and s.process.poll() is None for s in stack.services.values()):
            if os.getppid() != parent:  # `make run` was killed (even -9): stop what we started
                print("==> `make run` is gone. Stopping.")
                return
            time.sleep(1)
        print("==> a process exited; see .run/logs/. Stopping.")
    except KeyboardInterrupt:
        print("\n==> stopping …")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
