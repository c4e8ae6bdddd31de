# GXRTC API. `make run` and `make test` do all set-up themselves.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8

.PHONY: setup deps livekit redis graphiql web-clients postgres prometheus nginx console console-test run cluster test unit lint schema schema-check bench

setup: deps livekit redis postgres prometheus nginx graphiql web-clients console

deps: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	uv sync --frozen
	@touch $@

livekit:
	@dev/install-livekit.sh >/dev/null

redis:
	@dev/install-redis.sh >/dev/null

# PostgreSQL's server binaries, for the store tests (each run makes its own throwaway cluster).
postgres:
	@dev/install-postgres.sh >/dev/null
# Debian's prometheus and its promtool, for the scrape test and the alert rules' checks.
prometheus:
	@dev/install-prometheus.sh >/dev/null
# Debian's nginx, in front of the instances of `make cluster` and of the instance-death test.
nginx:
	@dev/install-nginx.sh >/dev/null

# GraphiQL's scripts and styles for the dev page, from the npm registry, checked against their integrity hashes.
graphiql: deps
	@$(VENV)/bin/python dev/install_graphiql.py >/dev/null

# Node.js, Debian's chromium and tests/web's pinned npm packages, for the web client tests.
web-clients:
	@dev/install-web-clients.sh

# The moderation console: npm ci and a build into console/dist/ (served at /console).
console: web-clients
	@dev/install-console.sh

# The console's own logic, with Vitest.
console-test: console
	cd console && npx vitest run

run: setup
	dev/run.sh

# The reference deployment: LiveKit, PostgreSQL, Redis, N instances (N=3) and nginx (docs/cluster.md).
cluster: setup
	dev/cluster.sh

# The whole suite, then the integration tests again on the libraries' own paths (see graphql_api/_speedups).
test: setup lint schema-check console-test
	dev/test.sh
	GXRTC_SPEEDUPS=off dev/test.sh tests/integration

unit: deps
	$(VENV)/bin/pytest tests/unit

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy graphql_api rest_compat tests bench dev/install_graphiql.py
	$(VENV)/bin/lint-imports

schema: deps
	$(VENV)/bin/python -m graphql_api.export_schema > schema.graphql

schema-check: deps
	@$(VENV)/bin/python -m graphql_api.export_schema | diff -u schema.graphql - \
	  || { echo "schema.graphql is out of date: run 'make schema'" >&2; exit 1; }

bench: setup
	$(VENV)/bin/python -m bench
