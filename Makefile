PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ./data
HOST ?= 127.0.0.1
PORT ?= 8080
# pytest-xdist processes (one per CPU); --dist loadscope keeps each module on one worker, so module-scoped
# state (the access tests' shared app, the Bmob day's parts) stays whole
TEST_WORKERS ?= auto

# Installs come from the lock files (every distribution pinned, with hashes, for Python 3.11 on Linux x86_64;
# plain pip installs them); pyproject.toml keeps the ranges. After editing pyproject.toml, run `make lock`;
# `make lock UV_ARGS=--upgrade` moves every pin to the newest release the ranges allow.
RUN_LOCK := requirements/run.lock
TEST_LOCK := requirements/test.lock
BENCH_LOCK := requirements/bench.lock
UV_ARGS ?=
LOCK_ARGS := --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--custom-compile-command "make lock" $(UV_ARGS)

.PHONY: run test typecheck bench bench-core lint lock install install-test clean

# Without ensurepip (Debian's python3 lacks python3-venv) fall back to a pip-less venv filled by the system pip.
$(BIN)/python:
	$(PY) -m venv $(VENV) || { rm -rf $(VENV) && $(PY) -m venv --without-pip $(VENV) \
		&& $(PY) -m pip --python $(BIN)/python install -q pip; }
	-$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(RUN_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -r $(RUN_LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(TEST_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -r $(TEST_LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/hivebase serve --data-dir $(DATA) --host $(HOST) --port $(PORT) --init

# mypy (strict, on hivebase/) first: a type error fails the run. pytest exits 5 when it collected no tests:
# say so, and fail.
test: install-test
	$(BIN)/mypy
	@rc=0; $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

$(VENV)/.installed-bench: $(BENCH_LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -r $(BENCH_LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

# hivebase (SQLite and PostgreSQL) and its peers over real sockets, in one table; BENCH_ARGS=--help for more.
# The peers are installed into ~/.cache/hivebase-bench (HIVEBASE_BENCH_CACHE) on the first run.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# the data core alone, in-process (bench/core.py)
bench-core: install-test
	$(BIN)/python bench/core.py

lint: install-test
	$(BIN)/ruff check .

typecheck: install-test
	$(BIN)/mypy

# bench.lock holds the main dependencies and the test and bench extras; the smaller locks are resolved within
# it, so a distribution has the same version in all three.
lock: | $(BIN)/python
	$(BIN)/python -m pip install -q 'uv>=0.5'
	mkdir -p requirements
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) --extra test --extra bench -o $(BENCH_LOCK)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) --extra test -c $(BENCH_LOCK) -o $(TEST_LOCK)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) -c $(BENCH_LOCK) -o $(RUN_LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
