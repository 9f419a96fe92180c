"""Compare a `make bench` run with the previous one (reports/bench/*.jsonl).

    python scripts/compare_bench.py CURRENT [PREVIOUS]

A result is matched by its non-numeric fields (benchmark, bot, …) and its
concurrency; every numeric field is shown with the previous value and the change."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List, Tuple

IDENTITY_NUMBERS = ("concurrent_users", "users", "messages", "customers", "turns", "window_s")


def load(path: Path) -> Dict[Tuple, dict]:
    results = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        key = tuple(sorted((k, v) for k, v in row.items()
                           if isinstance(v, str) or k in IDENTITY_NUMBERS))
        results[key] = row
    return results


def main(argv: List[str]) -> int:
    current = load(Path(argv[0]))
    previous = load(Path(argv[1])) if len(argv) > 1 else {}
    print(f"== bench: {len(current)} results" + (f", compared with {argv[1]}" if previous else " (no previous run)"))
    for key, row in current.items():
        name = " ".join(f"{k}={v}" for k, v in key)
        before = previous.get(key, {})
        changes = []
        for field, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and field not in IDENTITY_NUMBERS:
                old = before.get(field)
                if isinstance(old, (int, float)) and old:
                    changes.append(f"{field} {value} (was {old}, {100 * (value - old) / old:+.0f}%)")
                else:
                    changes.append(f"{field} {value}")
        print(f"  {name}: " + "; ".join(changes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
