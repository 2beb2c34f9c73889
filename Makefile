# Two commands set everything up on a fresh machine (Python 3.11, Node 20, registry access):
#   make synth   install pinned deps, then `cdk synth` the default configuration into cdk.out/
#   make test    install pinned deps, then lint, type-check and run the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter the venvs are made with (asked only when one is made): python3, or a build of
# the same version on this machine that runs Python at least 10 % faster (tools/pick_python.py,
# ADR 0037: Debian's python3.11 runs the functions' tests in about 17 % less time than pyenv's).
# make PYTHON=python3 (or any path) takes that one instead, unmeasured.
PYTHON ?= $(shell python3 tools/pick_python.py || echo python3)
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

.PHONY: help install bytecode synth test lint typecheck unit bench cost clean diagram bootstrap deploy diff destroy new-project

help:
	@echo "make synth [CONFIG=path.yaml]  synthesize the app into cdk.out/"
	@echo "make test                      ruff, mypy and the pytest suite (nag, cfn-lint, checkov)"
	@echo "make bench                     synth-time and template-size benchmark"
	@echo "make cost [CONFIG=..] [REGION=r] synth, then the monthly idle cost per stack"
	@echo "make clean                     remove cdk.out and caches (keeps the venvs)"
	@echo "make diagram                   regenerate docs/architecture.md (both topologies, offline)"
	@echo "make bootstrap [CONFIG=..]      cdk bootstrap the accounts your credentials reach"
	@echo "make deploy [CONFIG=..]         deploy (standalone) or deploy the delivery pipeline"
	@echo "make diff [CONFIG=..]           what a deploy would change"
	@echo "make destroy [CONFIG=..]        endpoint stacks, then the stacks; lists what it keeps"
	@echo "  (each takes ENV=<environment|tooling> and DRY_RUN=1; mlops --help for the rest)"
	@echo "make new-project NAME=n FRAMEWORK=f PROBLEM=p [PIPELINE=custom] [CONFIG=..]  scaffold a model project"

# uv installs the same pinned requirements as pip, in parallel: about a minute instead of four
# on a fresh machine (the 1.5 GB of aws-cdk-lib, sagemaker, xgboost, moto, ...).
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv

$(UV):
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# --compile-bytecode: the dependencies are compiled once, at install, not again by every synth
# and test subprocess (8.9 s of a synth where bytecode is not written, e.g. on CI machines).
$(PY_STAMP): requirements.txt requirements-dev.txt ml/requirements.txt projects/demand/requirements.txt constructs/pyproject.toml pyproject.toml | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(VENV)/bin/python -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The skeletons' own test environments (tools/skeleton_envs.py, ADR 0035): a venv per framework
# the platform's tests train, with exactly what a scaffolded project's requirement files install.
SKELETON_STAMP := .venv-skeletons/.installed
$(SKELETON_STAMP): tools/skeleton_envs.py $(wildcard mlops_cli/skeletons/frameworks/*/requirements.txt.tmpl) mlops_cli/skeletons/common/requirements-dev.txt.tmpl $(PY_STAMP)
	python -m tools.skeleton_envs
	touch $@

# .venv's Python; no pip (uv installs; ensurepip's pip and setuptools took 3 s): checkov's findings
# over the suite's templates are the same without them (4,012 results, 2026-12-08).
$(CHECKOV_STAMP): requirements-checkov.txt | $(UV)
	test -x $(CHECKOV_VENV)/bin/python || $(VENV)/bin/python -m venv --without-pip $(CHECKOV_VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.txt
	touch $@

# The platform's own modules, compiled beside their sources as --compile-bytecode does for the
# dependencies: where bytecode is not written (PYTHONDONTWRITEBYTECODE=1, as on many CI machines)
# every synth and every test subprocess compiled them again, about 0.3 s each. Files whose
# bytecode is current are skipped; __pycache__ is git-ignored and left out of assets and memo keys.
PLATFORM_CODE := app.py stacks constructs/mlops_constructs mlops_cli tools
bytecode: $(PY_STAMP)
	@python -m compileall -q -j0 $(PLATFORM_CODE) > /dev/null

install: $(PY_STAMP) $(NODE_STAMP) $(CHECKOV_STAMP) $(SKELETON_STAMP) bytecode

synth: $(PY_STAMP) $(NODE_STAMP) bytecode
	rm -rf cdk.out  # a previous configuration's stages would linger
	cdk synth --quiet $(if $(CONFIG),-c config=$(CONFIG))
	@echo "templates in cdk.out/ ($$(ls cdk.out/assembly-*/*.template.json | wc -l) stacks)"

lint: $(PY_STAMP)
	ruff check .
	ruff format --check .

# Each example project is type-checked on its own: their entry points share module names.
# mypy reads aws-cdk-lib's packages through stubs without their type-checking-only imports of
# every service module (tools/mypy_overlay.py, ADR 0030), with two workers (mypy's
# --num-workers, one per core): 101 s -> 22 s without a mypy cache.
MYPY_OVERLAY := .mypy_cache/overlay
typecheck: $(PY_STAMP)
	@python -m tools.mypy_overlay $(MYPY_OVERLAY)
	MYPYPATH=$(MYPY_OVERLAY) mypy --num-workers 2
	MYPYPATH=$(MYPY_OVERLAY) mypy constructs/tests/conftest.py  # left out above: see pyproject.toml
	MYPYPATH=projects/demand/src:projects/demand/tests mypy --cache-dir .mypy_cache/demand --strict --ignore-missing-imports projects/demand/src projects/demand/tests

# Two pytest processes at once, one per core (a single pytest process keeps about one of the two
# busy): the tests that synthesize the app (one jsii, the session's syntheses, the linters over
# their templates) and those that need no synthesis (the functions, the ML projects, the mlops
# command, and a few files that synthesize small apps of their own). The first's report follows
# the second's. tests/test_suite_split.py keeps the split honest: no test in NO_SYNTH_TESTS asks
# for the session's synthesized apps. Any other module may run in either half, whichever evens
# them out: tests/test_cli_import.py (about 8 s) runs with the synthesizing half,
# tests/test_builtin_check.py (a fresh app process, about 5 s), tests/test_scale_to_zero.py and
# tests/test_model_endpoint.py (small apps, about 3 s and 1.5 s) and tests/test_kit.py (no
# synthesis, about 10 s) with the other. test_kit.py moved back when the skeletons' own tests
# came to run in their own environments (ADR 0035), test_builtin_check.py over when the venvs
# came to run on a faster Python (ADR 0037): each time the other half had become the shorter
# (docs/cost-and-speed.md, 2026-12-08).
NO_SYNTH_TESTS := lambda ml/tests projects/demand/tests constructs/tests tests/test_cli_code.py \
	tests/test_cli_invoke.py tests/test_cli_release.py tests/test_cli_run.py tests/test_cli_status.py \
	tests/test_scaffold.py tests/test_memo.py tests/test_deploy_guide.py tests/test_aws_facts.py \
	tests/test_config_hints.py \
	tests/test_etl_script.py tests/test_monitoring_code.py tests/test_suite_split.py \
	tests/test_package_model.py tests/test_lambda_layers.py tests/test_moto_memo.py \
	tests/test_scale_to_zero.py tests/test_model_endpoint.py tests/test_workers.py \
	tests/test_skeleton_envs.py tests/test_kit.py tests/test_pick_python.py tests/test_builtin_check.py
SYNTH_LOG := $(CURDIR)/.pytest-synthesis.log
unit: install
	@pytest tests $(addprefix --ignore-glob=,$(filter tests/%,$(NO_SYNTH_TESTS))) > $(SYNTH_LOG) 2>&1 & \
	synthesis=$$!; \
	pytest $(NO_SYNTH_TESTS); others=$$?; \
	wait $$synthesis; status=$$?; \
	echo "=== the tests that synthesize the app (ran alongside) ==="; cat $(SYNTH_LOG); rm -f $(SYNTH_LOG); \
	test $$others -eq 0 -a $$status -eq 0

test: lint typecheck unit

bench: $(PY_STAMP) bytecode
	python benchmarks/synth_benchmark.py

cost: synth
	python -m tools.idle_cost $(if $(REGION),--region $(REGION))

# The architecture diagrams, generated from the synthesized app (tests/test_architecture.py
# fails when the committed file no longer matches).
diagram: $(PY_STAMP) bytecode
	python -m tools.diagram --write docs/architecture.md

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache

# Deploy, diff and tear down, in the order the configured topology needs (README "Deploy to
# AWS"): `mlops` (mlops_cli/) runs the CDK CLI with your credentials. ENV=<name> (or tooling)
# limits a command to one environment; DRY_RUN=1 prints the steps and touches nothing.
bootstrap deploy diff destroy: $(PY_STAMP) $(NODE_STAMP) bytecode
	mlops $(if $(CONFIG),--config $(CONFIG)) $@ $(if $(ENV),--environment $(ENV)) $(if $(DRY_RUN),--dry-run) $(ARGS)

# A model project from the platform's skeletons (README "Onboard a team"): with CONFIG, its entry
# is added to that file once the whole configuration validates; without, it is printed.
# PIPELINE=custom: the project builds its own training pipeline (pipeline/definition.py).
new-project: $(PY_STAMP)
	mlops $(if $(CONFIG),--config $(CONFIG)) new-project $(NAME) --framework $(FRAMEWORK) --problem $(PROBLEM) $(if $(PIPELINE),--pipeline $(PIPELINE)) $(if $(CONFIG),--write-config $(CONFIG))
