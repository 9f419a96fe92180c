#!/usr/bin/env bash
# `make bench`: every benchmark prints one JSON object per line on stdout; the run
# is kept as reports/bench/<UTC time>.jsonl and compared with the previous one.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=3
mkdir -p reports/bench
previous=$(ls reports/bench/*.jsonl 2>/dev/null | tail -1 || true)
current="reports/bench/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
for bench in scripts/bench_*.py; do
  case "$bench" in
    scripts/bench_marketing.py) .venv/actions/bin/python "$bench" ;;
    # one worker at the default 500 msg/s, then two at 200 msg/s: more than one worker
    # sends alone (~150/s), less than two (~280/s), so the global rate limit must hold them
    scripts/bench_outbound.py) .venv/rasa/bin/python "$bench"; .venv/rasa/bin/python "$bench" --workers 2 --rate 200 ;;
    *) .venv/rasa/bin/python "$bench" ;;
  esac
done | tee "$current"
.venv/rasa/bin/python scripts/compare_bench.py "$current" ${previous:+"$previous"} >&2
.venv/rasa/bin/python scripts/write_bench_table.py "$current" >&2  # the README's table
