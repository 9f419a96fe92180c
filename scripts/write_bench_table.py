"""Write a `make bench` run into the README as a table (between the
`<!-- bench:start -->` and `<!-- bench:end -->` markers).

    python scripts/write_bench_table.py reports/bench/<run>.jsonl [README.md]

One row per result: the benchmark, what identifies it (bot, mix, concurrency…)
and its numbers, so a later issue's benchmark shows up without changes here."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
IDENTITY = ("bot", "messages_mix", "concurrent_users", "users", "customers", "turns", "worker_processes")


def rows(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("{")]


def table(results: List[dict], run_name: str) -> str:
    lines = [f"Last run: `{run_name}` (2 cores; plain Rasa and ours one after the other in the same run).", "",
             "| benchmark | of | results |", "|---|---|---|"]
    for row in results:
        who = ", ".join(f"{k}={row[k]}" for k in IDENTITY if k in row)
        numbers = ", ".join(f"{k} {v}" for k, v in row.items() if k != "benchmark" and k not in IDENTITY)
        lines.append(f"| {row.get('benchmark', '?')} | {who} | {numbers} |")
    return "\n".join(lines)


def main(argv: List[str]) -> int:
    run = Path(argv[0])
    readme = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"write_bench_table: no {START} … {END} section in {readme}", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table(rows(run), run.name)}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
