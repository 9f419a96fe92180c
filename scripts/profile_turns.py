"""Where the time of one turn goes: a full local stack, one long conversation,
py-spy flame graphs of the Rasa server and the action server while it runs.

    .venv/rasa/bin/python scripts/profile_turns.py [--turns 200] [--out reports/profile]

Writes <out>/rasa.svg, <out>/actions.svg (py-spy, sampled) and prints the
median latency of the first and last 20 turns. docs/performance.md reads them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.model_files import ensure_current_model  # noqa: E402
from bot.stack import ROOT  # noqa: E402
from scripts.bench_rest import TURN_MESSAGES, running_stack, send, webhook_url  # noqa: E402

PY_SPY = ROOT / ".venv" / "rasa" / "bin" / "py-spy"


def record(pid: int, out: Path) -> subprocess.Popen:
    return subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), "--subprocesses", "--rate", "200",
                             "--output", str(out), "--format", "flamegraph", "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "profile")
    parser.add_argument("--model", type=Path, help="a trained model (default: the current one, trained if needed)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as run_dir, running_stack(args.model or ensure_current_model(),
                                                                 Path(run_dir)) as stack:
        spies = [record(stack.services[name].process.pid, args.out / f"{name}.svg") for name in ("rasa", "actions")]
        latencies = [send(webhook_url(stack), stack.rasa_token, "profile-long", TURN_MESSAGES[turn % len(TURN_MESSAGES)])
                     for turn in range(args.turns)]
        for spy in spies:
            spy.send_signal(2)  # SIGINT: py-spy writes the flame graph and exits
            spy.wait(60)
    window = min(20, len(latencies) // 2)
    first, last = statistics.median(latencies[:window]), statistics.median(latencies[-window:])
    print(json.dumps({"turns": args.turns, "first_p50_ms": round(first * 1000, 1),
                      "last_p50_ms": round(last * 1000, 1), "ratio": round(last / first, 2),
                      "flame_graphs": [str(args.out / "rasa.svg"), str(args.out / "actions.svg")]}))


if __name__ == "__main__":
    main()
