# Two commands: `make run` (install + start logyard) and `make test` (install + the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
LISTEN ?= 127.0.0.1:3100
DATA_DIR ?= ./data

.PHONY: run test install bench conformance refresh-conformance clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/logyard serve --listen $(LISTEN) --data-dir $(DATA_DIR)

test: install
	$(BIN)/python -m pytest -q

conformance: install
	$(BIN)/python -m pytest -q tests/conformance -s

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py

# Copy the Loki conformance corpus from ../shared so that a fresh clone tests itself.
refresh-conformance:
	rm -rf tests/conformance/cases tests/conformance/data
	cp -r $(SHARED)/conformance/cases $(SHARED)/conformance/data $(SHARED)/conformance/push_errors.json \
	      $(SHARED)/conformance/README.md tests/conformance/
	chmod -R u+w tests/conformance

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
