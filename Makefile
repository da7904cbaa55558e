# The two commands of the README's quickstart: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all lint install bench clean

$(STAMP): pyproject.toml requirements-nodeps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/maskbot run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The checks .ci/run makes before the tests, and the pre-commit hook before each commit.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-all: $(STAMP)
	$(BIN)/python -m pytest -m '' $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/maskbot bench

clean:
	rm -rf $(VENV) .cache .pytest_cache
