# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DBT_VENV := .venv-dbt
DBT_STAMP := $(DBT_VENV)/.installed
UI_VENV := .venv-dagster-ui
UI_STAMP := $(UI_VENV)/.installed

.PHONY: venv test check fast lint unit defs demo bench dist clean dagster

venv: $(STAMP) $(DBT_STAMP)

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing the project (first run only)"
	@# Without pip first: ensurepip and then upgrading pip took 8 of the 12 s a fresh clone spends
	@# here. pip's --python (pip 22.3 and newer) puts uv in the venv from outside; uv installs
	@# the rest, pip included (for whoever runs .venv/bin/pip).
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet uv
	@# The distribution was called tap-pagerduty before 0.1.0 (a name taken on PyPI by another
	@# tap); an old editable install of it would shadow the tap-pagerduty executable.
	-@$(BIN)/uv pip uninstall --quiet --python $(BIN)/python tap-pagerduty 2>/dev/null
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev,bench,analytics,orchestration]" pip
	@touch $(STAMP)

# dbt (analytics/) in its own venv: see the `dbt` extra in pyproject.toml for why.
$(DBT_STAMP): $(STAMP) pyproject.toml
	@echo "==> creating $(DBT_VENV) with dbt for analytics/ (first run only)"
	$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python $(DBT_VENV)
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['dbt'], sep=chr(10))" > $(DBT_VENV)/requirements.txt
	$(BIN)/uv pip install --quiet --python $(DBT_VENV)/bin/python -r $(DBT_VENV)/requirements.txt
	@touch $(DBT_STAMP)

# The Dagster UI in its own venv: dagster-webserver depends on `backoff`, which would shadow the
# tap's python-backoff in .venv. The UI loads the code from .venv (orchestration/workspace.yaml).
$(UI_STAMP): $(STAMP) pyproject.toml
	@echo "==> creating $(UI_VENV) with the Dagster UI (first run only)"
	$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python $(UI_VENV)
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['dagster-ui'], sep=chr(10))" > $(UI_VENV)/requirements.txt
	$(BIN)/uv pip install --quiet --python $(UI_VENV)/bin/python -r $(UI_VENV)/requirements.txt
	@touch $(UI_STAMP)

# The Dagster UI on http://127.0.0.1:3000 with the example accounts on two local emulators.
dagster: venv $(UI_STAMP)
	$(BIN)/python -m orchestration.dev

# Dagster's own validation of the definitions (`dg check defs`, what `dagster definitions
# validate` became): dg from the UI's venv, run in orchestration/, whose dg.toml makes a
# workspace of this checkout, so that the code loads with .venv's Python.
defs: venv $(UI_STAMP)
	cd orchestration && ../$(UI_VENV)/bin/dg check defs

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Tests run with bytecode, as an installed tap does. An environment that sets
# PYTHONDONTWRITEBYTECODE (this machine's does) would make every Python process of the tests
# (each pytest worker, each tap run, dbt) compile every module it imports again; the cache
# lives in the venv, out of the source tree.
TEST_ENV := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache
# pytest-xdist workers (a module marked xdist_group stays on one worker, so its module
# fixture is built once). Many tests wait (on a throttle, a retry's back-off, a tap process,
# PostgreSQL, dbt or Dagster), so there are more workers than the two cores of a small machine.
WORKERS ?= 3
PYTEST := $(TEST_ENV) $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadgroup
# One process fills the bytecode cache first (what collecting the tests imports, and the tap's
# command line, which each worker's fork server preloads): the workers would otherwise each
# compile the same modules at the same time. A few seconds once the cache is warm.
WARM_BYTECODE := $(TEST_ENV) $(BIN)/python -m pytest -q --collect-only -p no:xdist \
	-p no:cacheprovider -p tap_pagerduty.cli

unit: venv
	@$(WARM_BYTECODE) > /dev/null
	$(PYTEST)

test: lint unit defs

# The fast lane: lint, and at the same time every test that needs no PostgreSQL, Meltano
# install or Dagster (those are marked `slow` and run by `make test`). Each part's output is
# printed when it ends; the lane fails if either does.
check: venv
	@$(MAKE) --no-print-directory --output-sync=target -j2 lint fast

# The fast lane's property tests run 40 % of their examples (tests/test_conformance.py); `make
# test` runs them all.
fast: venv
	@$(WARM_BYTECODE) -m "not slow" > /dev/null
	TEST_EXAMPLES_SCALE=0.4 $(PYTEST) -m "not slow"

demo: venv
	$(BIN)/python -m scripts.demo

bench: venv
	$(BIN)/python -m benchmarks.run

# sdist + wheel in dist/; the wheel is installed alone in a fresh venv, which must report the
# version of pyproject.toml and discover every stream.
dist: venv
	$(BIN)/python -m scripts.release dist

clean:
	rm -rf $(VENV) $(DBT_VENV) $(UI_VENV) .meltano output dist build analytics/target analytics/logs
