#!/usr/bin/env bash
# `make bench`: every benchmark prints one JSON object per line on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=3
for bench in scripts/bench_*.py; do
  case "$bench" in
    scripts/bench_marketing.py) .venv/actions/bin/python "$bench" ;;
    *) .venv/rasa/bin/python "$bench" ;;
  esac
done
