# Two commands set everything up on a fresh machine (Python 3.11, Node 20, registry access):
#   make synth   install pinned deps, then `cdk synth` the default configuration into cdk.out/
#   make test    install pinned deps, then lint, type-check and run the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
CONFIG ?=

# jsii prints a banner per process on Node 20; the SageMaker SDK must never reach the network.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_EC2_METADATA_DISABLED := true
export SAGEMAKER_SUPPRESS_V2_WARNING := 1
# cdk.json runs `python app.py`: the venv's python must come first.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: help install synth test lint typecheck unit bench cost clean bootstrap deploy-delivery publish-source

help:
	@echo "make synth [CONFIG=path.yaml]  synthesize the app into cdk.out/"
	@echo "make test                      ruff, mypy and the pytest suite (nag, cfn-lint, checkov)"
	@echo "make bench                     synth-time and template-size benchmark"
	@echo "make cost [CONFIG=..] [REGION=r] synth, then the monthly idle cost per stack"
	@echo "make clean                     remove cdk.out and caches (keeps the venvs)"
	@echo "make bootstrap ACCOUNT=a REGION=r [TRUST=tooling-account]   cdk bootstrap an account"
	@echo "make deploy-delivery CONFIG=..  deploy the platform's pipeline (tooling account, once)"
	@echo "make publish-source CONFIG=..   upload this repository (git HEAD) to the pipeline's source"

# uv installs the same pinned requirements as pip, in parallel: about a minute instead of four
# on a fresh machine (the 1.5 GB of aws-cdk-lib, sagemaker, xgboost, moto, ...).
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv

$(UV):
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(PY_STAMP): requirements.txt requirements-dev.txt ml/requirements.txt projects/demand/requirements.txt constructs/pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(VENV)/bin/python -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHECKOV_STAMP): requirements-checkov.txt | $(UV)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.txt
	touch $@

install: $(PY_STAMP) $(NODE_STAMP) $(CHECKOV_STAMP)

synth: $(PY_STAMP) $(NODE_STAMP)
	rm -rf cdk.out  # a previous configuration's stages would linger
	cdk synth --quiet $(if $(CONFIG),-c config=$(CONFIG))
	@echo "templates in cdk.out/ ($$(ls cdk.out/assembly-*/*.template.json | wc -l) stacks)"

lint: $(PY_STAMP)
	ruff check .
	ruff format --check .

# Each example project is type-checked on its own: their entry points share module names.
typecheck: $(PY_STAMP)
	mypy
	MYPYPATH=projects/demand/src:projects/demand/tests mypy --strict --ignore-missing-imports projects/demand/src projects/demand/tests

unit: install
	pytest

test: lint typecheck unit

bench: $(PY_STAMP)
	python benchmarks/synth_benchmark.py

cost: synth
	python -m tools.idle_cost $(if $(REGION),--region $(REGION))

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache

# Multi-account delivery (README "Multi-account delivery", ADR 0010). An environment account
# trusts the tooling account's pipeline (TRUST) to deploy with EXECUTION_POLICY.
EXECUTION_POLICY ?= arn:aws:iam::aws:policy/AdministratorAccess
bootstrap: $(PY_STAMP) $(NODE_STAMP)
	@test -n "$(ACCOUNT)" -a -n "$(REGION)" || { echo "make bootstrap: set ACCOUNT=<12 digits> and REGION=<region>" >&2; exit 2; }
	cdk bootstrap aws://$(ACCOUNT)/$(REGION) $(if $(TRUST),--trust $(TRUST) --cloudformation-execution-policies $(EXECUTION_POLICY))

deploy-delivery: $(PY_STAMP) $(NODE_STAMP)
	@test -n "$(CONFIG)" || { echo "make deploy-delivery: set CONFIG=<the configuration with a delivery section>" >&2; exit 2; }
	cdk deploy Delivery -c config=$(CONFIG) --require-approval broadening

publish-source: $(PY_STAMP)
	@test -n "$(CONFIG)" || { echo "make publish-source: set CONFIG=<the configuration with a delivery section>" >&2; exit 2; }
	mkdir -p cdk.out
	git archive --format=zip --output cdk.out/platform-source.zip HEAD
	aws s3 cp cdk.out/platform-source.zip "$$(python -m tools.delivery source-uri $(CONFIG))"
