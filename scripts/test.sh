#!/usr/bin/env bash
# `make test`: data validation, test stories, action tests (action-server
# runtime), then Rasa-side unit, channel, end-to-end and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=3 PYTHONDONTWRITEBYTECODE=1
RASA_PY=.venv/rasa/bin/python
ACTIONS_PY=.venv/actions/bin/python
mkdir -p .cache

echo "==> model for the current data (reused when data and config are unchanged)"
MODEL=$($RASA_PY -c "from bot.model_files import ensure_current_model as e; print(e())")

echo "==> rasa data validate"
# Responses uttered by custom actions are reported as "not used in any story":
# expected here, so the output is kept in a log and shown only on failure.
$RASA_PY -m rasa data validate $($RASA_PY -c "from bot.model_files import training_data_args as a; print(' '.join(a()))") \
  >.cache/validate.log 2>&1 || { grep -vE "UserWarning: The utterance .* is not used" .cache/validate.log | tail -40; exit 1; }
echo "    training data and domain are consistent"

echo "==> test stories"
$RASA_PY -m rasa test core --model "$MODEL" --stories tests/stories \
  --fail-on-prediction-errors --out .cache/test-results --no-plot >/dev/null 2>.cache/test-stories.log \
  || { tail -40 .cache/test-stories.log; cat .cache/test-results/failed_test_stories.yml 2>/dev/null; exit 1; }
echo "    all test stories pass"

echo "==> action server and deploy-file tests (Python 3.11)"
$ACTIONS_PY -m pytest tests/actions tests/deploy -q -p no:cacheprovider

echo "==> action server tests again, on a real local 3-node Redis Cluster"
TEST_REDIS_CLUSTER=1 $ACTIONS_PY -m pytest tests/actions -q -p no:cacheprovider

echo "==> Rasa-side, channel, end-to-end and browser tests (Python 3.10)"
$RASA_PY -m pytest tests -q -p no:cacheprovider --ignore=tests/actions --ignore=tests/deploy
