# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAGE ?= dev
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run test fuzz lint package deploy replay-stream-failures bench token pay ship requests clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip<26.3'  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# aws-sam-translator and checkov pin older boto3/pydantic than the app: they get a venv of their own
INFRA_VENV := $(VENV)/infra-tools
$(INFRA_VENV)/.installed: infra/requirements-tools.txt
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet -r infra/requirements-tools.txt
	@touch $@

## run: start the local stack (AWS emulated on 127.0.0.1, demo data, API on :8000)
run: $(VENV)/.installed
	$(PY) -m devstack

## test: lint, the whole test suite, cfn-lint on the packaged template and on its plain CloudFormation translation,
##       checkov on the translation (.checkov.yaml: each skipped check and why), and the fuzz run
test: $(VENV)/.installed $(INFRA_VENV)/.installed lint package
	$(VENV)/bin/cfn-lint build/$(STAGE)/sam.json
	$(INFRA_VENV)/bin/python infra/translate.py build/$(STAGE)/sam.json build/$(STAGE)/cloudformation.json
	$(VENV)/bin/cfn-lint build/$(STAGE)/cloudformation.json
	$(INFRA_VENV)/bin/checkov --config-file .checkov.yaml --file build/$(STAGE)/cloudformation.json
	$(PY) -m pytest -q -n auto  # one worker per core, each with its own emulator (tests/conftest.py: stack)
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

## deploy: package STAGE and create/update its stack orders-api-STAGE through the artifact bucket BUCKET
##         (make deploy STAGE=dev|prod BUCKET=my-bucket; DRY_RUN=1 prints the aws commands instead)
deploy: $(VENV)/.installed
	@test -n "$(BUCKET)" || { echo "make deploy: BUCKET=<artifact bucket> is required (an S3 bucket you own in the stack's region), e.g. make deploy STAGE=$(STAGE) BUCKET=my-orders-artifacts" >&2; exit 2; }
	$(MAKE) package STAGE=$(STAGE)
	$(PY) infra/deploy.py $(STAGE) --bucket '$(BUCKET)' $(if $(DRY_RUN),--dry-run)

## replay-stream-failures: re-drive the records a stream handler gave up on (STREAM=orders|products, STAGE=dev|prod)
##         from the stack's on-failure queue, while the stream still holds them (24 h); DRY_RUN=1 only lists them
replay-stream-failures: $(VENV)/.installed
	$(PY) infra/replay_stream_failures.py $(STREAM) --stack orders-api-$(STAGE) $(if $(DRY_RUN),--dry-run)

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
