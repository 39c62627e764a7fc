# Every target sets up what it needs: `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
export PYTHONPATH := $(CURDIR)/django_app:$(CURDIR)
# JUnit XML of every test run lands here (gitignored), for CI systems to show.
REPORTS := reports
# npm ci writes this file last: its date says node_modules/ matches package-lock.json.
NODE_TOOLS := node_modules/.package-lock.json
# The git ref `make contracts-compat` compares the working tree with; MODE=consumers lets a
# breaking change pass when it breaks no pact interaction (the pacts at PACTS_REF).
BASE ?= HEAD
MODE ?= strict
PACTS_REF ?= WORKTREE
# `make can-i-deploy`: the pacts at each consumer ref against the contracts at each provider ref
# (git refs, space-separated; WORKTREE is the working tree).
CONSUMER_REFS ?= HEAD WORKTREE
PROVIDER_REFS ?= HEAD WORKTREE

.DEFAULT_GOAL := help
.PHONY: help install install-bench node-tools demo playground test test-unit test-integration test-browser docs diagrams pacts contracts lint-contracts contracts-compat can-i-deploy lint format bench soak mutation stubs clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## Create .venv and install the project with its dev tools

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install-bench: $(VENV)/.installed-bench ## install, plus the bench extra (the peer library bench_peer.py runs)

$(VENV)/.installed-bench: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install --quiet -e '.[dev,bench]'
	touch $@

node-tools: $(NODE_TOOLS) ## Install the npm tools (spectral) into node_modules/ from package-lock.json

$(NODE_TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# make demo STACK=real: PostgreSQL and RabbitMQ as the integration tests get them, workers as processes
STACK ?= embedded
demo: install ## Run every scene on the stubs (STACK=embedded|real) and write reports/demo*/index.html
	$(PY) -m project.demo --stack $(STACK)

playground: install ## The playground page (orders, faults, live sagas) on embedded defaults; prints its URL and a login
	$(PY) -m project.playground

# make mutation TARGET=outcomes: one target only (python -m tools.mutation --list names them)
TARGET ?=
mutation: install ## Mutation testing (mutmut) of the outcome rules and the transport against their own unit tests; prints what survived
	$(PY) -m tools.mutation $(TARGET)

stubs: install ## Start the four stub services in the foreground
	$(PY) -m mock_services

lint: install ## ruff (lint + format check), import-linter (layers) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy packages/django-interlink/src/django_interlink django_app/shop django_app/project django_app/tests mock_services integration_tests browser_tests bench tools

format: install ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lint-contracts: install $(NODE_TOOLS) ## Lint the contracts: spectral (OpenAPI + AsyncAPI), event schemas against their metaschema
	@mkdir -p $(REPORTS)
	node_modules/.bin/spectral lint --ruleset contracts/.spectral.yaml --fail-severity=warn \
		--format stylish --format junit --output.junit $(REPORTS)/contracts-lint.xml \
		contracts/*.yaml contracts/events/asyncapi.yaml
	$(VENV)/bin/check-jsonschema --check-metaschema contracts/events/schemas/*.json

pacts: install ## Write contracts/pacts/ from the shop's real clients and event code (consumer-driven pacts)
	$(PY) -m tools.pacts write

# The last step checks the AsyncAPI document on live brokers, started as test-integration starts
# them: one testcase per message per broker, relayed from the outbox and fuzzed at the consumer.
contracts: install lint-contracts ## Validate and lint the contracts, verify the stubs and the Django API against them (schemathesis, drift), check that the contracts agree with each other (the door and every flow), the pacts both ways, every AsyncAPI message on live RabbitMQ and Redis
	$(PY) -m mock_services.verify --validate-only
	$(PY) -m tools.compat.agree
	$(PY) -m tools.pacts check
	$(PYTEST) mock_services/tests tools/tests django_app/tests/shop/test_api_schemathesis.py -m "not integration" \
		-k "(contract or drift or schemathesis or compat) and not pacts and not claims" --junitxml=$(REPORTS)/contracts.xml
	$(PYTEST) tools/tests/test_pacts.py tools/tests/test_pacts_check.py tools/tests/test_pacts_can_i_deploy.py \
		tools/tests/test_contract_claims.py --junitxml=$(REPORTS)/pacts.xml
	$(PYTEST) integration_tests/asyncapi_live --junitxml=$(REPORTS)/asyncapi-live.xml

contracts-compat: install ## Fail on a contract change that breaks a consumer of BASE (BASE=<git ref>, default HEAD; MODE=strict|consumers)
	$(PY) -m tools.compat --base $(BASE) --mode $(MODE) --pacts-ref $(PACTS_REF) --junit $(REPORTS)/contracts-compat.xml

can-i-deploy: install ## The pacts at CONSUMER_REFS against the contracts at PROVIDER_REFS: verdict table, Markdown and JUnit in reports/
	$(PY) -m tools.pacts can-i-deploy $(foreach ref,$(CONSUMER_REFS),--consumer-ref=$(ref)) \
		$(foreach ref,$(PROVIDER_REFS),--provider-ref=$(ref)) \
		--markdown $(REPORTS)/can-i-deploy.md --junit $(REPORTS)/can-i-deploy.xml

test-unit: install ## Unit and component tests (stubs on real sockets, SQLite)
	$(PYTEST) django_app/tests mock_services/tests tools/tests --junitxml=$(REPORTS)/unit.xml

test-integration: install ## Integration tests against real RabbitMQ, Redis, PostgreSQL (and Consul when available); the live AsyncAPI checks run in `make contracts`
	$(PYTEST) integration_tests --ignore=integration_tests/asyncapi_live --junitxml=$(REPORTS)/integration.xml

test-browser: install ## Pages in headless Chromium (Debian's /usr/bin/chromium, via Playwright); screenshots in reports/screenshots/
	$(PYTEST) browser_tests --junitxml=$(REPORTS)/browser.xml

docs: install ## Build the docs site with mkdocs --strict into build/site/ (no broken link, no missing page)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site

diagrams: install ## Regenerate the docs' diagrams (docs/diagrams/) from the code
	$(PY) -m tools.diagrams

test: lint contracts docs test-unit test-integration test-browser ## Everything: lint, contracts, unit and integration tests

# bench/bench_cluster.py starts its own three-node RabbitMQ cluster (as the integration tests do)
bench: install-bench ## Run every benchmark in bench/, write JSON under bench/results/ and docs/benchmarks.md's table from it
	@mkdir -p bench/results
	@set -e; for b in bench/bench_*.py; do \
		echo "== $$b"; start=$$SECONDS; $(PY) $$b; echo "== $$b took $$((SECONDS - start)) s"; \
	done
	$(PY) bench/table.py

# make soak SOAK_ARGS="--minutes 2 --broker redis": see bench/soak.py --help
SOAK_ARGS ?=
soak: install ## The whole stack at a steady order rate for 10 min: do tables, streams and memory level off? (bench/results/soak.*)
	$(PY) bench/soak.py $(SOAK_ARGS)

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache django_app/db.sqlite3
