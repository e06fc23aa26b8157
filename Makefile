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

# The whole suite on SQLite and, when GOVSHARE_TEST_DATABASE_URL is set, on PostgreSQL at the same time:
# the two runs share nothing (own database, own var directory) and together fit the CI's time better than
# one after the other. Each run's output is printed whole when it ends; the target fails if either fails.
test: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	@if [ -n "$$GOVSHARE_TEST_DATABASE_URL" ]; then \
		logs=$$(mktemp -d); \
		echo "== SQLite and PostgreSQL runs in parallel (logs in $$logs) =="; \
		GOVSHARE_VAR_DIR=$$logs/var-sqlite $(BIN)/python -m pytest > $$logs/sqlite.log 2>&1 & s=$$!; \
		GOVSHARE_VAR_DIR=$$logs/var-pg DATABASE_URL="$$GOVSHARE_TEST_DATABASE_URL" \
			$(BIN)/python -m pytest > $$logs/postgres.log 2>&1 & p=$$!; \
		wait $$s; rs=$$?; wait $$p; rp=$$?; \
		echo "== SQLite (exit $$rs) =="; cat $$logs/sqlite.log; \
		echo "== PostgreSQL (exit $$rp) =="; cat $$logs/postgres.log; \
		[ $$rs -eq 0 ] && [ $$rp -eq 0 ]; \
	else \
		echo "GOVSHARE_TEST_DATABASE_URL not set: PostgreSQL run skipped"; \
		$(BIN)/python -m pytest; \
	fi

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest

test-postgres: $(STAMP)
	DATABASE_URL="$${GOVSHARE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" $(BIN)/python -m pytest

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
