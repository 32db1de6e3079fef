# reelloop: `make demo` runs the whole loop on a simulated landing zone; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEMO_DIR ?= demo
DEMO_REQUESTS ?= 2000
STAMP := $(VENV)/.installed
# make test runs the suite on this many pytest-xdist workers (one per core of the 2-core machines),
# each module whole on one worker so its module-scoped fixtures are built once; 0 = one process
TEST_WORKERS ?= 2

.PHONY: venv install demo test test-slow lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

venv install: $(STAMP)

demo: $(STAMP)
	REELLOOP_DB=$(DEMO_DIR)/reelloop.duckdb $(BIN)/reelloop demo --out $(DEMO_DIR) --requests $(DEMO_REQUESTS)

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile

test-slow: $(STAMP)
	$(BIN)/pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(PY) bench/ingest.py --events 1000000

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
