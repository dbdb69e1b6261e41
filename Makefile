# fsapp: two entry points for a fresh Debian machine.
#   make demo   run the embedded default (emulated FreeSWITCH, SQLite, in-memory state)
#   make test   install everything (apt when root), start redis/PostgreSQL/MariaDB, run all tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Where scripts/services.sh keeps the test services' state: FSAPP_SERVICES_DIR from the
# environment, else /tmp/fsapp-services; `make test SERVICES_DIR=...` overrides both.
FSAPP_SERVICES_DIR ?= /tmp/fsapp-services
SERVICES_DIR := $(FSAPP_SERVICES_DIR)
export FSAPP_SERVICES_DIR := $(SERVICES_DIR)

# Debian packages: what the demo needs, and what the full test suite needs on top.
DEMO_DEBS := python3 python3-venv python3-dev gcc unixodbc libsqliteodbc espeak-ng sox
TEST_DEBS := $(DEMO_DEBS) unixodbc-dev odbc-postgresql odbc-mariadb postgresql mariadb-server \
             redis-server graphviz chromium chromium-driver fonts-wqy-zenhei

.PHONY: demo test venv sysdeps-demo sysdeps-test services services-stop sounds clean

define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "apt-get install $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages (run as root, or: sudo apt-get install $$missing)"; exit 1; fi; \
	fi
endef

sysdeps-demo:
	$(call apt_install,$(DEMO_DEBS))

sysdeps-test:
	$(call apt_install,$(TEST_DEBS))

$(BIN)/fsapp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

venv: $(BIN)/fsapp

sounds: venv
	$(BIN)/fsapp sounds build --quiet

services:
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

demo: sysdeps-demo venv sounds
	$(BIN)/fsapp demo

# Two passes: the tests on TEST_WORKERS xdist workers (whole files per worker, so a
# module's shared set-up runs once; in the order tests/conftest.py sorts them, files with
# slow tests first, hence no xdist reordering), then the tests that need the shared services to
# themselves (markers serial, pg_outage) one at a time; pytest's 5 = none selected there.
TEST_WORKERS ?= 2
test: sysdeps-test venv services sounds
	source $(SERVICES_DIR)/env && FSAPP_REQUIRE_SERVICES=1 $(BIN)/python -m pytest -q --durations=25 \
	  -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --suite-pass=parallel $(PYTEST_ARGS)
	source $(SERVICES_DIR)/env && FSAPP_REQUIRE_SERVICES=1 $(BIN)/python -m pytest -q --durations=10 \
	  --suite-pass=serial $(PYTEST_ARGS); rc=$$?; [ $$rc = 0 ] || [ $$rc = 5 ]

clean:
	rm -rf $(VENV) build *.egg-info
