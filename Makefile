# The README's commands. Each target installs what it needs on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK := OutboundSms
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint unit integration infra e2e synth deploy bench clean browser

install: $(BIN)/.installed

# pip byte-compiles file by file as it installs; compileall does it afterwards on every core (half the time)
$(BIN)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile -r requirements.lock
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## make run: the whole service on this machine (ARGS="--port 9000 --receipt-delay 2" to tune)
run: $(BIN)/.installed
	$(BIN)/python -m local $(ARGS)

## make test: lint, types, then every test suite (unit, integration, infra, e2e), on two workers
## (a test file stays on one worker: its fixtures, and the local service an e2e file starts, are shared;
## the e2e files on the shared runtime are one unit; the order, the longest first, is in tests/conftest.py)
test: $(BIN)/.installed lint browser
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy functions local infra cli app.py

unit integration infra e2e: $(BIN)/.installed
	$(BIN)/python -m pytest tests/$@
e2e: browser

## make browser: Debian's Chromium, ChromeDriver and the console's font, for its browser test (once)
BROWSER_PACKAGES := chromium chromium-driver fonts-liberation
browser:
	@if [ "$$(dpkg-query -W -f='$${Status}\n' $(BROWSER_PACKAGES) 2>/dev/null | grep -c 'ok installed')" != 3 ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); \
	fi

## make synth: the CloudFormation template (cdk-nag runs inside synth), then cfn-lint on it
synth: $(BIN)/.installed node_modules/.installed
	npx cdk synth --quiet
	$(BIN)/cfn-lint cdk.out/$(STACK).template.json

## make deploy: needs AWS credentials and a bootstrapped account (npx cdk bootstrap)
deploy: $(BIN)/.installed node_modules/.installed
	npx cdk deploy $(STACK)

bench: $(BIN)/.installed
	@ls bench/*.py >/dev/null 2>&1 && for script in bench/*.py; do $(BIN)/python $$script; done || echo "no benchmarks yet"

clean:
	rm -rf $(VENV) node_modules cdk.out .local .pytest_cache .mypy_cache .ruff_cache
