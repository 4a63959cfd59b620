# Rollcall. `make run` starts the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 5000
export PORT

.PHONY: run test check bench lint format messages catalogues deps clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Rollcall needs Python 3.11 or newer"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

deps: $(STAMP)

# Compiled catalogues, rebuilt whenever their .po changes (never committed, never stale).
PO_FILES := $(wildcard translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(STAMP)
	@$(BIN)/pybabel compile --statistics -l $* -i $< -o $@

catalogues: $(MO_FILES)

## Start web, a Celery worker with beat, and the local mailbox (SQLite, no servers).
run: $(STAMP) catalogues
	$(BIN)/flask --app webapp db upgrade
	$(BIN)/flask --app webapp seed-demo
	$(BIN)/python scripts/run_embedded.py

## The whole suite: lint, then pytest against PostgreSQL, Redis, SMTP, Celery, Chromium.
test: $(STAMP) catalogues
	bash scripts/test.sh

## Fast feedback: lint, then every test that needs no server (tests/conftest.py marks the rest `services`).
check: $(STAMP) catalogues
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -m "not services"

## Benchmarks from DESIGN.md (not part of `make test`).
bench: $(STAMP) catalogues
	bash scripts/ensure_services.sh
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Re-extract every translatable string into translations/messages.pot and merge the
## changes into each language's catalogue (new strings arrive untranslated).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --ignore-dirs=".* .venv node_modules" -k _l -k lazy_gettext -k plural:1,2 -o translations/messages.pot .
	$(BIN)/pybabel update --ignore-obsolete -i translations/messages.pot -d translations

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
