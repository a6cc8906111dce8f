# Calypso's front door. Every target creates ./.venv itself; nothing needs to be installed first
# beyond Python 3.11+ and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run stop test check bench clean

$(STAMP): pyproject.toml
	@$(PY) -m venv $(VENV) 2>/dev/null || { echo "python3 -m venv failed; installing Debian's python3-venv"; \
		apt-get install -y python3-venv >/dev/null && $(PY) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

## Start a workspace on embedded DuckDB under ./data plus an agent on this machine (background).
run: $(STAMP)
	@bash scripts/quickstart.sh

## Stop what `make run` started.
stop:
	@bash scripts/quickstart.sh stop

# Microsoft's KQL language service (npm), the oracle the KQL tests compare against; needs node/npm.
ORACLE := tests/oracle/node_modules/.installed
$(ORACLE): tests/oracle/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/oracle --silent --no-audit --no-fund && touch $(ORACLE); \
	else echo "npm not found: the KQL oracle tests will be skipped"; fi

## The whole test suite.
test: $(STAMP) $(ORACLE)
	$(BIN)/pytest -q

check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
