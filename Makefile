# Every target sets up what it needs: `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
export PYTHONPATH := $(CURDIR)/django_app:$(CURDIR)

.DEFAULT_GOAL := help
.PHONY: help install install-bench demo test test-unit test-integration contracts lint format bench stubs clean

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

demo: install ## Start the stubs and run the order flow through the Django clients (embedded defaults)
	$(PY) -m project.demo

stubs: install ## Start the four stub services in the foreground
	$(PY) -m mock_services

lint: install ## ruff (lint + format check), import-linter (layers) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy django_app/microservices django_app/shop django_app/project django_app/tests mock_services integration_tests bench

format: install ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

contracts: install ## Validate every OpenAPI document and verify the stubs against them (schemathesis)
	$(PY) -m mock_services.verify --validate-only
	$(PYTEST) mock_services/tests -m "not integration" -k "contract or drift or schemathesis"

test-unit: install ## Unit and component tests (stubs on real sockets, SQLite)
	$(PYTEST) django_app/tests mock_services/tests

test-integration: install ## Integration tests against real RabbitMQ, Redis, PostgreSQL (and Consul when available)
	$(PYTEST) integration_tests

test: lint contracts test-unit test-integration ## Everything: lint, contracts, unit and integration tests

bench: install-bench ## Run every benchmark in bench/ and write JSON under bench/results/
	@mkdir -p bench/results
	@set -e; for b in bench/bench_*.py; do \
		echo "== $$b"; start=$$SECONDS; $(PY) $$b; echo "== $$b took $$((SECONDS - start)) s"; \
	done

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache django_app/db.sqlite3
