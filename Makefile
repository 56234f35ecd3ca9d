# The two commands of the README: `make dev` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the commands need, as "command:package" pairs (a command on PATH, or a path
# pattern for binaries Debian keeps off PATH, like PostgreSQL's).
DEV_TOOLS := java:openjdk-17-jdk-headless mvn:maven prometheus:prometheus prometheus-pushgateway:prometheus-pushgateway
TEST_TOOLS := $(DEV_TOOLS) chromium:chromium '/usr/lib/postgresql/*/bin/initdb:postgresql' curl:curl systemd-run:systemd useradd:passwd redis-server:redis-server fusermount3:fuse3

.PHONY: dev test benchmark install lint lock clean

dev: install  ## Start Neo4j and the Dagster UI on 127.0.0.1 and ingest SQL_ROOT (default: a copy of the sample corpus).
	@./.ci/system-packages $(DEV_TOOLS)
	$(BIN)/lineage-dagster dev $(if $(SQL_ROOT),--sql-root '$(SQL_ROOT)')

test: install lint  ## Lint and type-check, then run unit and integration tests against real services.
	@./.ci/system-packages $(TEST_TOOLS)
	$(BIN)/python -m pytest

benchmark: install  ## Print speed figures measured side by side.
	@./.ci/system-packages $(TEST_TOOLS)
	$(BIN)/python -m pytest -m benchmark -s

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "Python 3.10 or newer is required (found $$($(PYTHON) --version))."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

lint: install  ## ruff (lint and format) and the mypy type checker.
	$(BIN)/ruff check lineage_dagster lineage_dagster_tests
	$(BIN)/ruff format --check lineage_dagster lineage_dagster_tests
	$(BIN)/mypy lineage_dagster

lock:  ## Refresh constraints.txt from a fresh resolve of pyproject.toml.
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude lineage-dagster > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) neo4j-launcher/target .lineage
