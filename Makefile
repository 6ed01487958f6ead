# The whole set-up is `make run` and `make test`; each creates or updates .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# make test runs the test files on this many workers (pytest-xdist; a file's tests stay on one worker).
JOBS ?= 2

.PHONY: run test test-ui test-bench test-slow lint format bench bench-peer docs ui clean install

install: $(STAMP)

# pip's output goes to $(VENV)/install.log; on failure its last lines are shown.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the project and its tools into $(VENV) (first time: about a minute; log: $(VENV)/install.log)"
	@{ $(BIN)/python -m pip install --disable-pip-version-check --upgrade pip \
	  && $(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'; } >$(VENV)/install.log 2>&1 \
	  || { tail -n 30 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@touch $@

run: $(STAMP)
	$(BIN)/funnel up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/funnel db start >/dev/null
	eval "$$($(BIN)/funnel db env)" && FUNNEL_TARGET=ci $(BIN)/sqlfluff lint --processes 2 dbt_project/models

# Stops the embedded server afterwards if it was not running before (status exits 3 when it is stopped).
test: $(STAMP)
	@$(BIN)/funnel db status >/dev/null 2>&1; before=$$?; \
	$(MAKE) --no-print-directory lint && $(BIN)/pytest -m "not slow and not ui and not bench" -n $(JOBS) --dist loadfile --durations=25 $(PYTEST_ARGS); rc=$$?; \
	if [ $$before -eq 3 ]; then $(BIN)/funnel db stop >/dev/null && echo "stopped the embedded PostgreSQL"; fi; \
	exit $$rc

# The `ui` tests: `funnel ui`'s webserver and daemon, every check of a Dagster run evaluated, and the UI after `funnel up` in headless
# Chromium (Debian's package, installed here when missing: apt-get as root, else sudo). .ci/run calls this.
test-ui: $(STAMP)
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium (once)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq chromium' >$(VENV)/chromium-install.log 2>&1 \
	  || { tail -n 20 $(VENV)/chromium-install.log; echo "could not install chromium"; exit 1; }; }
	@$(BIN)/funnel db status >/dev/null 2>&1; before=$$?; \
	$(BIN)/funnel db start >/dev/null && $(BIN)/pytest -m ui -n $(JOBS) --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	if [ $$before -eq 3 ]; then $(BIN)/funnel db stop >/dev/null && echo "stopped the embedded PostgreSQL"; fi; \
	exit $$rc

# The benchmark's own checks (every measure of `python -m bench --size XS` and its correctness checks); .ci/run
# calls this.
test-bench: $(STAMP)
	@$(BIN)/funnel db status >/dev/null 2>&1; before=$$?; \
	$(BIN)/funnel db start >/dev/null && $(BIN)/pytest -m "bench and not slow" $(PYTEST_ARGS); rc=$$?; \
	if [ $$before -eq 3 ]; then $(BIN)/funnel db stop >/dev/null && echo "stopped the embedded PostgreSQL"; fi; \
	exit $$rc

# The `slow` tests: 200 hypothesis examples per property (FUNNEL_SLOW_EXAMPLES=n to change) and every fault
# injection (kills dbt, and an embedded PostgreSQL of its own on a free port). Narrow with PYTEST_ARGS='-k faults'.
test-slow: $(STAMP)
	$(BIN)/funnel db start >/dev/null
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench $(if $(SIZE),--size $(SIZE),)

# Our funnel subgraph next to the simple dbt project it replaces (bench/peer_project), on the same data.
bench-peer: $(STAMP)
	$(BIN)/python -m bench --peer $(if $(SIZE),--size $(SIZE),)

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
