# Understudy: one entry point for set-up, tests, lint and the demo.
# `make test` and `make demo` work from a fresh clone: they install uv if it is
# missing, create the environment from uv.lock and train the models.

SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
UV_VERSION := 0.13.9
# Build caches live outside git (the scripts use the same default).
UNDERSTUDY_CACHE ?= $(HOME)/.cache/understudy
# uv on PATH wins; else `make uv` puts the pinned uv into the cache and the cache
# folder goes on PATH for every recipe (the tests look uv up on PATH too).
UV_DIR := $(UNDERSTUDY_CACHE)/uv/$(UV_VERSION)
ifeq ($(shell command -v uv 2>/dev/null),)
export PATH := $(UV_DIR):$(PATH)
endif
UV := uv
ARTIFACTS ?= artifacts
PYTEST_ARGS ?=

.PHONY: help uv env models test test-fast lint format clean system-deps

help: ## show the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

uv: ## install uv (the workspace's package manager) when it is missing
	@command -v uv >/dev/null 2>&1 || { \
		echo "uv is not on PATH: installing uv $(UV_VERSION) from its PyPI wheel into $(UV_DIR) (used by make only)" >&2; \
		python3 scripts/install_uv.py $(UV_VERSION) $(UV_DIR); }

env: uv ## create .venv from uv.lock with every workspace package
	@$(UV) sync --locked --all-packages --quiet

# The groups of scripts/system-deps.sh that `make test` needs (test; the real-node group
# comes through `node-deps`, mk/realnode.mk)
SYSTEM_DEPS ?= test
system-deps: ## what the tests need from the system: Prometheus, Java, Maven (Debian, as root), Go >= 1.26
	@bash scripts/system-deps.sh $(SYSTEM_DEPS)

models: env ## train v1 (linear), v2 (gradient boosting) and a deliberately bad model
	@test -f $(ARTIFACTS)/v1/model.json || $(UV) run python -m understudy_model train --algorithm linear --version 1.0.0 --out $(ARTIFACTS)/v1
	@test -f $(ARTIFACTS)/v2/model.json || $(UV) run python -m understudy_model train --algorithm gbr --version 2.0.0 --out $(ARTIFACTS)/v2
	@test -f $(ARTIFACTS)/bad/model.json || $(UV) run python -m understudy_model train --algorithm gbr --version 2.0.0-bad --shuffle-target --out $(ARTIFACTS)/bad

# `make test` spreads the suite over TEST_WORKERS pytest-xdist workers, whole groups at a
# time (tests/support/parallel.py: the real node's tests, the kwok cluster's, PostgreSQL's,
# a module's that share a module-scoped server; any other test alone). TEST_WORKERS=0 runs
# it in this one process. 2, not 3: three workers finished sooner (29-36 min) but a run on a
# slower hour failed four waits under the contention (load 10-20 on 2 cores).
TEST_WORKERS ?= 2
test: env system-deps k8s-tools es-tools ## every test: unit, integration (real processes, Prometheus, Elasticsearch), cluster (real API server)
	$(UV) run pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder) $(PYTEST_ARGS)

test-fast: env ## unit tests only (no servers, no cluster)
	$(UV) run pytest -m "not integration and not cluster and not slow" $(PYTEST_ARGS)

lint: env ## ruff (lint + format check) and mypy
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs/common/src model/src services/model-api/src services/shadow-router/src operator/src cli/src bench tools/mutation tools/dashboard
	$(UV) run mypy tests/bench  # apart: bench/ imports its scripts by name, the tests as bench.*

format: env ## apply ruff's formatting and safe fixes
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

clean: ## remove the environment and trained models (build caches outside git stay)
	rm -rf .venv $(ARTIFACTS) .mypy_cache .ruff_cache

-include mk/*.mk

SCENARIO ?= good
.PHONY: demo
demo: env ## the main job: a whole shadow rollout on this machine (SCENARIO=good|bad-candidate|segment-off|neighborhood-off|slow-candidate|less-accurate)
	@command -v prometheus >/dev/null 2>&1 || echo "note: Prometheus is not installed; the demo reads the router's /metrics (sudo apt-get install prometheus to use it)"
	$(UV) run understudy demo --scenario $(SCENARIO) --artifacts $(ARTIFACTS) $(DEMO_ARGS)
