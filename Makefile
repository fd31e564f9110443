# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint unit demo bench dist clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing the project (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	@# The distribution was called tap-pagerduty before 0.1.0 (a name taken on PyPI by another
	@# tap); an old editable install of it would shadow the tap-pagerduty executable.
	-@$(BIN)/uv pip uninstall --quiet --python $(BIN)/python tap-pagerduty 2>/dev/null
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev,bench]"
	@touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tap_pagerduty

unit: venv
	$(BIN)/python -m pytest -q

test: lint unit

demo: venv
	$(BIN)/python -m scripts.demo

bench: venv
	$(BIN)/python -m benchmarks.run

# sdist + wheel in dist/; the wheel is installed alone in a fresh venv, which must report the
# version of pyproject.toml and discover every stream.
dist: venv
	$(BIN)/python -m scripts.release dist

clean:
	rm -rf $(VENV) .meltano output dist build
