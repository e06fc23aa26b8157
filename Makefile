# govshare — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres lint format bench serve clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("govshare needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/govshare demo --port $(PORT)

serve: $(STAMP)
	$(BIN)/govshare serve --port $(PORT)

# The whole suite on SQLite, then again on PostgreSQL when GOVSHARE_TEST_DATABASE_URL is set.
test: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/python -m pytest
	@if [ -n "$$GOVSHARE_TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL =="; \
		DATABASE_URL="$$GOVSHARE_TEST_DATABASE_URL" $(BIN)/python -m pytest; \
	else echo "GOVSHARE_TEST_DATABASE_URL not set: PostgreSQL run skipped"; fi

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

format: $(STAMP)
	$(BIN)/ruff format src tests $(wildcard bench)
	$(BIN)/ruff check --fix src tests $(wildcard bench)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var build *.egg-info src/*.egg-info
