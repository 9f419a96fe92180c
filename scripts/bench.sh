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
    *) .venv/rasa/bin/python "$bench" ;;
  esac
done | tee "$current"
.venv/rasa/bin/python scripts/compare_bench.py "$current" ${previous:+"$previous"} >&2
.venv/rasa/bin/python scripts/write_bench_table.py "$current" >&2  # the README's table
