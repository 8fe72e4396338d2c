PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ./data
HOST ?= 127.0.0.1
PORT ?= 8080
# pytest-xdist processes (one per CPU); --dist loadscope keeps each module on one worker, so module-scoped
# state (the access tests' shared app, the Bmob day's parts) stays whole
TEST_WORKERS ?= auto

.PHONY: run test bench bench-core lint install install-test clean

# Without ensurepip (Debian's python3 lacks python3-venv) fall back to a pip-less venv filled by the system pip.
$(BIN)/python:
	$(PY) -m venv $(VENV) || { rm -rf $(VENV) && $(PY) -m venv --without-pip $(VENV) \
		&& $(PY) -m pip --python $(BIN)/python install -q pip; }
	-$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/hivebase serve --data-dir $(DATA) --host $(HOST) --port $(PORT) --init

# pytest exits 5 when it collected no tests: say so, and fail.
test: install-test
	@rc=0; $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
