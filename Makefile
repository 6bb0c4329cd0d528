# Director of One — Integrations. `make dev` runs it locally; `make test` runs every test.
# Each target installs what it needs on a fresh machine (a project-local Python virtualenv
# for the AWS emulator and tools, npm packages for the browser tests).

SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3

.PHONY: dev watch test build bench deploy emulator tools clean-local

$(VENV)/.installed: infra/local/requirements.txt
	@echo "==> creating the Python virtualenv $(VENV) (moto server, cfn-lint)"
	@test -x $(VENV)/bin/pip || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	@touch $@

$(VENV)/.installed-build: $(VENV)/.installed infra/local/requirements-build.txt
	@echo "==> installing cargo-lambda and zig into $(VENV)"
	@$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements-build.txt
	@touch $@

tools: $(VENV)/.installed $(VENV)/.installed-build

## The API and the page on http://127.0.0.1:3000 against the local emulator.
## FAKE_PROVIDERS=1 also starts fake provider APIs and points the connectors at them.
dev: $(VENV)/.installed-build
	@infra/local/scripts/dev.sh

## One function at a time under `cargo lambda watch`, against the same emulator.
watch: $(VENV)/.installed-build
	@infra/local/scripts/watch.sh

## Every test: fmt, clippy, cfn-lint, unit, emulator, router and end-to-end tests.
test: $(VENV)/.installed
	@infra/local/scripts/test.sh

## Just the emulator, for running single tests by hand (AWS_ENDPOINT_URL=http://127.0.0.1:4566).
emulator: $(VENV)/.installed
	@source infra/local/scripts/env.sh && $(VENV)/bin/python infra/local/scripts/emulator.py -H 127.0.0.1 -p $${EMULATOR_PORT}

## Sync throughput (BatchWrite against per-item writes) and each function's init time and RSS.
bench: $(VENV)/.installed
	@infra/local/scripts/bench.sh

## Release packages for Lambda (arm64, LTO, stripped) under target/lambda/.
build: $(VENV)/.installed-build
	@infra/local/scripts/build.sh

## Deploy with SAM (needs AWS credentials and the SAM CLI), then upload the page.
deploy: $(VENV)/.installed-build
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" sam build --beta-features
	sam deploy --guided
	infra/deploy/deploy.sh

clean-local:
	rm -rf .local
