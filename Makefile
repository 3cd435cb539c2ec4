# Two commands: `make run` (install logyard + `logyard up`: server and agent) and `make test` (install logyard with its test
# dependencies + the whole suite). Each install has its own stamp, so neither stands in for the other:
# the server's environment gets no test tools, and a venv made by `make run` still gets them for `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
LISTEN ?= 127.0.0.1:3100
AGENT_LISTEN ?= 127.0.0.1:9080
DATA_DIR ?= ./logyard-data
# An install is stale when the package metadata or a C extension changes.
INSTALL_INPUTS := pyproject.toml setup.py $(wildcard logyard/*/_*.c)

.PHONY: run test install bench soak conformance refresh-conformance clean

$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-run: $(INSTALL_INPUTS) | $(VENV)/pyvenv.cfg
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(INSTALL_INPUTS) | $(VENV)/pyvenv.cfg
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The development install: logyard with its test dependencies (what `make test` uses).
install: $(VENV)/.installed-test

run: $(VENV)/.installed-run
	$(BIN)/logyard up --listen $(LISTEN) --agent-listen $(AGENT_LISTEN) --data-dir $(DATA_DIR) $(UP_FLAGS)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

conformance: install
	$(BIN)/python -m pytest -q tests/conformance -s

bench: $(VENV)/.installed-run
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py

# 10 minutes of 50,000 lines/s over 50 tenants with queries and live tails: does RSS level off?
# SOAK_FLAGS passes options, e.g. SOAK_FLAGS="--duration 60 --rate 10000".
soak: $(VENV)/.installed-run
	$(BIN)/python bench/soak.py $(SOAK_FLAGS)

# Copy the Loki conformance corpus from ../shared so that a fresh clone tests itself.
refresh-conformance:
	rm -rf tests/conformance/cases tests/conformance/data
	cp -r $(SHARED)/conformance/cases $(SHARED)/conformance/data $(SHARED)/conformance/push_errors.json \
	      $(SHARED)/conformance/README.md tests/conformance/
	chmod -R u+w tests/conformance

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
