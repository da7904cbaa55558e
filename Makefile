# The two commands of the README's quickstart: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow test-all lint translations install bench clean

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

# After changing any text the bot sends: the message ids extracted from the code, the catalogs
# updated (new ids come untranslated: translate them in bot/locales/*/LC_MESSAGES/messages.po),
# then compiled. tests/test_i18n.py fails until every catalog is complete and compiled.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k t --no-location --sort-output --project maskbot \
		--omit-header -o bot/locales/messages.pot .
	$(BIN)/pybabel update -i bot/locales/messages.pot -d bot/locales -D messages --ignore-obsolete --no-fuzzy-matching --width 100
	$(BIN)/pybabel compile -d bot/locales -D messages --statistics

# The slow training tests alone (full training runs on the shared data), which `make test` leaves out.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -m '' $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/maskbot bench

clean:
	rm -rf $(VENV) .cache .pytest_cache
