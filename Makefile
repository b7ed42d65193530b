# cookiecutter-dvc-cml: `make demo` bakes and runs a project, `make test` tests the template.
.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV ?= .venv
BUILD ?= build
# The dvc-ml-kit wheel that generated projects pin, found through the standard find-links settings
# until it is on the public index (uv reads UV_FIND_LINKS, pip PIP_FIND_LINKS).
WHEELS := $(abspath $(BUILD)/wheels)
export UV_FIND_LINKS := $(WHEELS)
export PIP_FIND_LINKS := $(strip $(PIP_FIND_LINKS) $(WHEELS))
export PATH := $(abspath $(VENV))/bin:$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))
# DVC's usage analytics would try the network from every test run.
export DVC_NO_ANALYTICS := 1

.PHONY: help setup wheel demo test test-fast test-slow lint bench lock release-check release-bump clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: $(VENV)/.installed ## Create .venv with the template's tools (uv installs them)

# The package is installed editable, at the versions a generated project pins, for its own tests.
$(VENV)/.installed: requirements-dev.txt dvc-ml-kit/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(PYTHON) is older than Python 3.11: run make with PYTHON=python3.11 or newer"; \
	  exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
	mkdir -p $(WHEELS)
	python -m pip install --quiet --disable-pip-version-check "$$(grep '^uv==' requirements-dev.txt)"
	uv pip install --quiet --compile-bytecode -r requirements-dev.txt -e './dvc-ml-kit[dask]' \
	  -c "{{cookiecutter.project_slug}}/requirements/base.txt"
	@touch $@

wheel: setup ## Build the dvc-ml-kit wheel that generated projects install, into build/wheels
	rm -rf $(WHEELS) && mkdir -p $(WHEELS)
	uv build --quiet --wheel --out-dir $(WHEELS) dvc-ml-kit
	@# uv would keep installing its cached copy of an earlier build of the same version.
	uv cache clean --quiet dvc-ml-kit

demo: wheel ## Bake a project with the default answers into build/ and reproduce its pipeline
	rm -rf $(BUILD)/demo && mkdir -p $(BUILD)/demo
	cookiecutter --no-input --output-dir $(BUILD)/demo .
	cd $(BUILD)/demo/diagnosis-model && $(MAKE) --no-print-directory repro VENV=.venv

# TESTS: files or test ids to run instead of all (`make test-slow TESTS=tests/test_dask.py`).
TESTS ?=
test: wheel ## Run the template's and dvc-ml-kit's tests: fast (render, unit) and slow (run projects)
	pytest $(TESTS)

test-fast: wheel ## Only the fast tier
	pytest -m "not slow" $(TESTS)

test-slow: wheel ## Only the slow tier
	pytest -m slow $(TESTS)

# The generated package's modules hold no Jinja (relative imports), so they are linted unrendered;
# --config: the generated pyproject.toml beside them is a template, not TOML yet.
LINTED := hooks local_extensions.py .ci/release_check.py tests bench dvc-ml-kit "{{cookiecutter.project_slug}}/src"
lint: setup ## Check the template's own Python, and the generated package's, with ruff
	ruff check --config ruff.toml $(LINTED)
	ruff format --check --config ruff.toml $(LINTED)

# ROWS: sizes for the scale part (add 10000000 for 10M rows); RUNS: runs of each short measurement;
# CI_DATA: the data the CI part runs on (sample, and/or a number of synthetic rows).
ROWS ?= 10000,100000,1000000
RUNS ?= 3
CI_DATA ?= sample,1000000
# PARTS: which parts to measure (ci, overhead, setup, scale, dask; serve, about 90 s more: it bakes
# and reproduces a project to serve its model).
PARTS ?= ci,overhead,setup,scale,dask
bench: wheel ## Benchmark a generated project (CI cost, overhead, set-up, scale): table + JSON
	python bench/bench.py --rows $(ROWS) --runs $(RUNS) --ci-data $(CI_DATA) --parts $(PARTS) \
	  --out $(BUILD)/bench/results.json

# One pinned set per kind of remote (S3, GCS and Azure add DVC's plugin); the hook keeps one. Each
# is the generated project's own `make lock`; the Dask engine's pins and the stages' pins must
# come out the same whatever the remote.
PROJECT := "{{cookiecutter.project_slug}}"
lock: wheel ## Re-pin the generated project's requirements (make lock in a project per remote)
	rm -rf $(BUILD)/lock
	for remote in none s3 gs azure; do \
	  url=$$([ $$remote = none ] || echo $$remote://bucket); \
	  cookiecutter --no-input --output-dir $(BUILD)/lock/$$remote . dvc_remote=$$remote dvc_remote_url=$$url >/dev/null; \
	  $(MAKE) --no-print-directory -C $(BUILD)/lock/$$remote/diagnosis-model lock >/dev/null; \
	  cp $(BUILD)/lock/$$remote/diagnosis-model/requirements.txt $(PROJECT)/requirements/$${remote/none/base}.txt; \
	done
	for remote in s3 gs azure; do for file in requirements-dask.txt pipeline-requirements.txt; do \
	  cmp $(BUILD)/lock/none/diagnosis-model/$$file $(BUILD)/lock/$$remote/diagnosis-model/$$file; \
	done; done
	cp $(BUILD)/lock/none/diagnosis-model/requirements-dask.txt $(PROJECT)/requirements-dask.txt
	cp $(BUILD)/lock/none/diagnosis-model/pipeline-requirements.txt $(PROJECT)/pipeline-requirements.txt

# One version: the release tag (TAG=v<version>), dvc-ml-kit's version and the template's pins of it.
# The release workflow runs release-check on the tag it was pushed with; it needs no set-up.
release-check: ## Check that TAG, dvc-ml-kit's version and the template's pins agree
	$(PYTHON) .ci/release_check.py "$${TAG:-}"

release-bump: ## Set dvc-ml-kit's version to VERSION and re-pin the template with it (make lock)
	$(PYTHON) .ci/release_check.py --bump "$${VERSION:-}"
	$(MAKE) --no-print-directory lock

clean: ## Remove .venv and build/
	rm -rf $(VENV) $(BUILD)
