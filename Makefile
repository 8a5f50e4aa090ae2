# The two commands a newcomer needs: `make run` (the whole suite) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run demo test test-fast lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install  ## migrate and start Temporal, worker, API and gateway (sandbox without a token)
	$(VENV)/bin/dcs up

demo: install  ## a short scripted scenario against the sandbox
	$(VENV)/bin/dcs demo

TEST_WORKERS ?= 2
test: install  ## the full suite, slow end-to-end tests included, in TEST_WORKERS processes
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install  ## benchmarks; figures merge into bench/results/latest.json
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
