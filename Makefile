# The README's two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test axe lint typecheck imports unit integration browser chromium postgres bench bench-sync bench-quick bench-million bench-portal bench-scim bench-fleet bench-jit bench-jit-quick resilience resilience-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# make demo PORT=8001 EMULATOR_PORT=8444: other ports when 8000 or 8443 are taken.
DEMO_ARGS := $(if $(PORT),--port $(PORT)) $(if $(EMULATOR_PORT),--emulator-port $(EMULATOR_PORT))
demo: $(STAMP)
	$(BIN)/switchboard demo $(DEMO_ARGS)

test: $(STAMP) chromium axe postgres lint typecheck imports
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks resilience
	$(BIN)/ruff format --check src tests benchmarks resilience

typecheck: $(STAMP)
	$(BIN)/mypy

# The layering contracts in pyproject.toml ([tool.importlinter]).
imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) postgres
	$(BIN)/pytest tests/integration

browser: $(STAMP) chromium axe
	$(BIN)/pytest tests/browser

# Benchmarks print a table; their latest figures are in the README.
bench: bench-sync

# 100,000 users in 200 groups against the emulator, at 0 and 250 ms, SQLite and PostgreSQL:
# initial, steady, delta, delta-10k and single, each next to its floors.
bench-sync: $(STAMP) postgres
	$(BIN)/python benchmarks/sync_bench.py

# The same scenarios on 5,000 users (delta-10k: 1,000 changes): a smoke run of a minute or two.
bench-quick: $(STAMP) postgres
	$(BIN)/python benchmarks/sync_bench.py --quick

# 1,000,000 users in 2,000 groups at 0 ms, SQLite and PostgreSQL: initial and steady,
# with the portal's user list timed during initial and steady. MILLION_ARGS scales it down,
# e.g. MILLION_ARGS="--users 200000 --groups 400".
bench-million: $(STAMP) postgres
	$(BIN)/python benchmarks/sync_bench.py --million $(MILLION_ARGS)

bench-portal: $(STAMP) postgres
	$(BIN)/python benchmarks/portal_bench.py --users 3000

# SCIM creates, PATCH updates and userName lookups, 8 clients, 100,000 users on PostgreSQL, next
# to scim2-server (the RFC reference server): ~10 min. SCIM_ARGS="--quick": 5,000 users, 5 s each.
bench-scim: $(STAMP) postgres
	$(BIN)/python benchmarks/scim_bench.py $(SCIM_ARGS)

# 200 batched accounts x 500 users (every 5 min) + 20 jit accounts on PostgreSQL, with 1, 2 and
# 4 `switchboard worker` processes for 15 min each: about an hour (11 min of it set-up).
# FLEET_ARGS scales it down, e.g. FLEET_ARGS="--accounts 20 --users 100 --jit 4 --minutes 6".
bench-fleet: $(STAMP) postgres
	$(BIN)/python benchmarks/fleet_bench.py $(FLEET_ARGS)

# Just in time: 1,000 single changes one after another (Graph write -> portal commit, p50/p99/max)
# and a burst of 1,000 (applied within, delta rounds), SQLite and PostgreSQL; fails on a miss.
bench-jit: $(STAMP) postgres
	$(BIN)/python benchmarks/jit_bench.py

# The same with 100 changes per scenario: a couple of minutes.
bench-jit-quick: $(STAMP) postgres
	$(BIN)/python benchmarks/jit_bench.py --changes 100

# Kills, fault storms, replays, races, a killed worker and the deletion guard's scenarios against
# the emulator, on SQLite and PostgreSQL; prints a table and fails when a target is missed.
resilience: $(STAMP) postgres
	$(BIN)/python -m resilience

# The same scenarios on a small tenant with 10 kills per database: a few minutes.
resilience-quick: $(STAMP) postgres
	$(BIN)/python -m resilience --quick

# Browser tests drive Debian's Chromium; Playwright cannot download browsers here.
chromium:
	@command -v chromium >/dev/null 2>&1 || scripts/install-chromium

# axe-core, which the browser tests inject into every page they visit (package-lock.json pins it).
AXE := node_modules/axe-core/axe.min.js
axe: $(AXE)

$(AXE): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || scripts/install-npm
	npm ci --no-audit --no-fund --silent
	touch $(AXE)

# Tests use the local PostgreSQL when it is there; start it if it is installed but stopped.
postgres:
	@scripts/ensure-postgres || echo "PostgreSQL unavailable: its test variants will be skipped"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .grimp_cache .import_linter_cache
