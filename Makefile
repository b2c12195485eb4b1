# Everything runs from the project's own .venv and node_modules, with the pinned Node.js 22 first on PATH.
SHELL := /bin/bash
PYTHON ?= python3
# Found before PATH puts .venv/bin first, so a broken .venv never stands in for the Python that rebuilds it.
HOST_PYTHON := $(or $(shell command -v $(PYTHON)),$(PYTHON))
VENV := .venv
BIN := $(VENV)/bin
ENV ?= dev
PIPELINE ?=
PORT ?= 8765
# make lock UPGRADE=1 moves every pin to the newest allowed version; make run-events TIME_SCALE=0.1 runs
# the local import flow's waits ten times faster.
UPGRADE ?=
TIME_SCALE ?=
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: install lock test lint format synth sample-data emulator demo deploy-local destroy status demo-stop run-events \
	validate-data bench config-schema clean distclean

# The project needs Python 3.11+. A .venv whose interpreter is missing, broken or older is rebuilt.
PYTHON_OK := import sys; sys.exit(sys.version_info < (3, 11))
ifneq ($(shell $(BIN)/python -c '$(PYTHON_OK)' >/dev/null 2>&1 && echo ok),ok)
$(shell rm -f $(VENV)/.installed)
endif

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(HOST_PYTHON) -c '$(PYTHON_OK)' 2>/dev/null || { echo "error: this project needs Python 3.11 or newer;" \
		"$(HOST_PYTHON) is $$($(HOST_PYTHON) --version 2>&1 || echo missing). Run: make PYTHON=python3.11 ..." >&2; exit 1; }
	@$(BIN)/python -c '$(PYTHON_OK)' >/dev/null 2>&1 || { echo "(Re)creating $(VENV) with $(HOST_PYTHON)"; \
		rm -rf $(VENV) && $(HOST_PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# The lock files, fully pinned with hashes, one per audience: requirements.txt (synthesis: the CDK app and
# constructs_lib), requirements-dev.txt (everything: the [validate], [tools] and [dev] extras, installed by
# make install with --require-hashes; the editable install then builds with the lock's setuptools, without
# isolation, and pip stays the venv's own, so nothing unhashed is fetched), and what each runtime outside
# the app runs (the pipeline's smoke test, installed there with --require-hashes; the Lambda's boto3, a
# record: the runtime provides its own), both held to the dev lock's versions, which the tests run.
# Universal: one resolution for every platform and every Python from 3.11 on, with markers where they
# differ (uv's --universal). Existing pins stay unless UPGRADE=1; needs PyPI. tests/cli/test_locks.py
# checks them against their inputs offline.
LOCK := $(BIN)/uv pip compile --quiet --universal --generate-hashes --python-version 3.11 \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
lock: install
	$(LOCK) pyproject.toml --extra dev -o requirements-dev.txt
	$(LOCK) pyproject.toml -c requirements-dev.txt -o requirements.txt
	$(LOCK) stacks/pipeline_runtime/requirements.in -c requirements-dev.txt -o stacks/pipeline_runtime/requirements.txt
	$(LOCK) lambda_handlers/requirements.in -c requirements-dev.txt -o lambda_handlers/requirements.txt

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Three workers on two cores: the suite waits more than it computes (polls, paces, servers; 590 CPU-s in a
# 770 s run on two workers), and --no-loadscope-reorder keeps tests/conftest.py's longest-first order,
# which xdist would otherwise replace by the number of tests per file.
test: install lint
	$(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder

# Writes the local data files config/$(ENV).yaml uploads, where they do not exist yet.
sample-data: install
	$(BIN)/python -m personalize_tools.sample_data --env $(ENV)

# `make synth ENV=NAME` for one environment's stage; `make synth PIPELINE=NAME` for a rollout pipeline.
synth: install sample-data
	npx cdk synth --quiet $(if $(PIPELINE),-c pipeline=$(PIPELINE),-c env=$(ENV))

config-schema: install
	$(BIN)/python -m config > config/schema.json

emulator: install
	$(BIN)/python -m personalize_tools.emulator --port $(PORT)

# The local rehearsal (docs/local-deploy.md): services stay up after `make demo` until `make demo-stop`.
demo: install
	$(BIN)/python -m personalize_tools.demo --env $(ENV)

deploy-local: install
	$(BIN)/python -m personalize_tools.localdeploy deploy --env $(ENV)

destroy: install
	$(BIN)/python -m personalize_tools.localdeploy destroy --env $(ENV)

status: install
	$(BIN)/python -m personalize_tools.localdeploy status

# Delivers uploads to the incoming locations and runs the import flow (docs/local-deploy.md), until Ctrl-C.
run-events: install
	$(BIN)/python -m personalize_tools.localdeploy run-events $(if $(TIME_SCALE),--time-scale $(TIME_SCALE))

demo-stop: install
	$(BIN)/python -m personalize_tools.localdeploy services stop

validate-data: install sample-data
	$(BIN)/python -m personalize_tools.validate --env $(ENV)

# Speed and memory as ratios against baselines measured in the same run (benchmarks/).
bench: install
	$(BIN)/python -m benchmarks.bench_deploy
	$(BIN)/python -m benchmarks.bench_validate
	$(BIN)/python -m benchmarks.bench_synth
	$(BIN)/python -m benchmarks.bench_iam
	$(BIN)/python -m benchmarks.bench_record
	$(BIN)/python -m benchmarks.bench_import_checks

clean:
	-$(BIN)/python -m personalize_tools.localdeploy services stop
	rm -rf cdk.out .personalize-local .mypy_cache .ruff_cache

# clean, and the installed .venv and node_modules too: the next make installs from scratch.
distclean: clean
	rm -rf $(VENV) node_modules
