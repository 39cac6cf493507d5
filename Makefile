# The two commands a newcomer needs (README.md):
#   make demo   install, migrate, load reference + demo data, start the dashboard
#   make test   lint (ruff, mypy, import layers, missing migrations) and run the whole suite against PostgreSQL and Redis
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The tests run against the real services; these defaults match a developer machine and CI.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/birthcare
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# With DATABASE_URL set, settings fail closed without SECRET_KEY and ALLOWED_HOSTS (docs/operations.md):
# test values here. The test servers speak plain http, hence BEHIND_HTTPS=false.
TEST_SECRET_KEY ?= test-only-secret-key-never-used-in-production-0123456789abcdef
TEST_ALLOWED_HOSTS ?= 127.0.0.1,localhost,testserver

.PHONY: demo test install install-dev lint

$(BIN)/activate:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt

install-dev: $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt

demo: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_reference_data
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_kraamzorg
	$(BIN)/python manage.py generate_refusals --years 1 --capacity-history --clear-synthetic
	$(BIN)/python manage.py seed_demo_requests
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	@echo
	@echo "Dashboard: http://$(HOST):$(PORT)/  (demo logins above)"
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --ws-per-message-deflate false \
		--ws core.ws_protocol:BoundedWebSocketProtocol --ws-ping-interval 20 --ws-ping-timeout 20

lint: install-dev
	$(BIN)/ruff check .
	DATABASE_URL= REDIS_URL= $(BIN)/mypy .
	$(BIN)/lint-imports
	SQLITE_PATH=":memory:" DATABASE_URL= REDIS_URL= $(BIN)/python manage.py makemigrations --check --dry-run

# The suite's many threads and servers share one PostgreSQL: a test waits up to 10 s for a pooled
# connection (production: 2 s, docs/operations.md); tests/test_fail_fast.py pins the production value.
test: lint
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	EMBEDDED_BEAT=false LIVE_PUSH_PREFIX=test-$$$$ \
	SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} ALLOWED_HOSTS=$${ALLOWED_HOSTS:-$(TEST_ALLOWED_HOSTS)} BEHIND_HTTPS=false \
	DB_POOL_TIMEOUT=$${DB_POOL_TIMEOUT:-10} \
	$(BIN)/pytest $(PYTEST_ARGS)

# A production-like topology on this machine (docs/operations.md): HAProxy (deploy/haproxy.cfg) on
# port 8100 in front of three uvicorn processes (8101-8103), a Celery worker and one beat, against
# local PostgreSQL and Redis; tools/topology.py starts it, waits until healthy and returns.
# Local values (plain http, a key that is not secret); set the variables to override.
TOPOLOGY_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/birthcare_topology
TOPOLOGY_REDIS_URL ?= redis://127.0.0.1:6379/13
TOPOLOGY_ENV = DATABASE_URL=$${DATABASE_URL:-$(TOPOLOGY_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TOPOLOGY_REDIS_URL)} \
	SECRET_KEY=$${SECRET_KEY:-local-topology-only-key-not-secret-0123456789abcdef} \
	ALLOWED_HOSTS=$${ALLOWED_HOSTS:-$(TEST_ALLOWED_HOSTS)} BEHIND_HTTPS=$${BEHIND_HTTPS:-false} EMBEDDED_BEAT=false

.PHONY: topology topology-stop
topology: install
	$(TOPOLOGY_ENV) $(BIN)/python tools/topology.py create-database
	$(TOPOLOGY_ENV) $(BIN)/python manage.py migrate --no-input
	$(TOPOLOGY_ENV) $(BIN)/python manage.py load_reference_data
	$(TOPOLOGY_ENV) $(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(TOPOLOGY_ENV) $(BIN)/python tools/topology.py start
	@echo "Demo accounts: manage.py seed_demo with the same DATABASE_URL. Stop: make topology-stop"

topology-stop:
	$(BIN)/python tools/topology.py stop
