# Every target sets up what it needs first (CONTRACTS §1).
SHELL := /bin/bash
RASA_PY := .venv/rasa/bin/python
ACTIONS_PY := .venv/actions/bin/python
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: run test setup train eval bench shell

setup:
	@bash scripts/setup.sh

run: setup
	@$(RASA_PY) scripts/run.py

train: setup
	@$(RASA_PY) -m bot.model_files

test:
	@WITH_BROWSER=1 bash scripts/setup.sh
	@bash scripts/test.sh

eval: setup
	@$(RASA_PY) scripts/eval.py

bench: setup
	@bash scripts/bench.sh

shell: setup
	@$(RASA_PY) scripts/shell.py
