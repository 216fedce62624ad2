# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAGE ?= dev
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test fuzz lint package bench token pay ship requests clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

## run: start the local stack (AWS emulated on 127.0.0.1, demo data, API on :8000)
run: $(VENV)/.installed
	$(PY) -m devstack

## test: lint, the whole test suite, cfn-lint on the packaged template, and the fuzz run
test: $(VENV)/.installed lint package
	$(VENV)/bin/cfn-lint build/$(STAGE)/sam.json
	$(PY) -m pytest -q
	$(PY) -m tests.fuzz.run

## fuzz: schemathesis (every check) against a local stack of its own, as a customer and as staff
fuzz: $(VENV)/.installed
	$(PY) -m tests.fuzz.run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## package: the deployable SAM template and zip for STAGE (dev or prod), in build/STAGE, with the stage's
##          CORS_ALLOW_ORIGIN (.chalice/config.json) in the gateway's error responses
package: $(VENV)/.installed
	$(PY) infra/package.py $(STAGE)
	$(PY) infra/bytecode.py build/$(STAGE)/deployment.zip

## bench: cold start, DynamoDB calls per operation, throughput under contention
bench: $(VENV)/.installed
	$(PY) -m bench

## token: print an ID token of a demo account of the running stack (EMAIL=...)
token: $(VENV)/.installed
	@$(PY) -m devstack.token $(EMAIL)

## pay: play the customer paying ORDER on the running stack's Stripe stand-in (FAIL=1: the card is declined)
pay: $(VENV)/.installed
	@$(PY) -m devstack.pay $(ORDER) $(if $(FAIL),--fail)

## ship: post a fulfilment update for ORDER to the running stack's fulfilment-updates queue, as the warehouse would
##       (EVENT=picked|packed|shipped|delivered|returned, default shipped; CARRIER=..., TRACKING=... optional)
ship: $(VENV)/.installed
	@$(PY) -m devstack.warehouse ship $(ORDER) $(EVENT) $(if $(CARRIER),--carrier '$(CARRIER)') $(if $(TRACKING),--tracking '$(TRACKING)')

## requests: take and print the fulfilment requests waiting for the warehouse (one JSON line each)
requests: $(VENV)/.installed
	@$(PY) -m devstack.warehouse requests

clean:
	rm -rf build .devstack .pytest_cache .ruff_cache
