# wsproxy.nginx: one entry point for people and CI.
#   make demo   a real proxy configured by site.yml, ending with a real WebSocket handshake
#   make test   lint, unit/property/differential tests, the ecosystem gates, the ansible-core compatibility matrix,
#               every Molecule scenario, bench smoke
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
BIN       := $(VENV)/bin
SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv host clients images lint unit compat molecule gates bench bench-smoke test demo demo-clean clean

help:
	@echo "make demo        configure a real nginx proxy with site.yml and shake hands through it"
	@echo "make test        lint, unit/property/differential tests, gates, compat matrix, every Molecule scenario, bench smoke"
	@echo "make unit        only the tests under tests/ (no containers)"
	@echo "make compat      the ansible-core matrix (noxfile.py): unit tests, install, converge, handshakes per line"
	@echo "make molecule    only the Molecule scenarios ($(SCENARIOS))"
	@echo "make bench       benchmarks: the seed's config vs the role, results in bench/results/"
	@echo "make lint        ruff, yamllint, ansible-lint (production profile)"
	@echo "make gates       ansible-test sanity, antsibull-changelog, the execution environment"
	@echo "make demo-clean  remove the demo containers"

# The virtualenv is rebuilt whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV)/.installed

host:
	scripts/ensure-host.sh

# What only the tests need: the real clients (Chromium, wscat), shellcheck, and the npm packages of tests/apps
# (Socket.IO, ws: the third-party replicas and clients of molecule/replicas) in .cache/npm-apps.
clients:
	scripts/ensure-clients.sh

images: host
	tests/images/build.sh

# ansible-lint gets an ANSIBLE_HOME of its own: a copy of this collection that a tool installed into
# ~/.ansible/collections must not shadow the checkout.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/yamllint --strict .
	ANSIBLE_HOME=$(CURDIR)/.cache/ansible-lint-home $(BIN)/ansible-lint --offline --nocolor -q

unit: venv host
	$(BIN)/pytest tests -q -n 2

# Every ansible-core line that meta/runtime.yml claims, each in its own virtualenv (.nox/), on pinned requirements.
compat: venv images
	$(BIN)/nox -s compat

molecule: venv images clients
	@for s in $(SCENARIOS); do \
	  echo "=== molecule test -s $$s"; \
	  $(BIN)/molecule test -s $$s || exit 1; \
	done

gates: venv clients
	scripts/gates.sh

bench: venv images
	bench/run.sh

bench-smoke: venv images
	bench/run.sh --smoke

# Fast checks first (seconds), then unit tests (minutes), the gates (about a minute), the compatibility matrix
# (a container per ansible-core line), and last the container-heavy Molecule scenarios and the bench smoke.
test: clients lint unit gates compat molecule bench-smoke

# make unit has run tests/unit in .venv: the compat line with .venv's very runtime skips running them again.
test: export WSPROXY_UNIT_RAN_IN_VENV := 1

demo: venv images
	scripts/demo.sh

demo-clean:
	scripts/demo.sh --clean

clean: demo-clean
	rm -rf $(VENV) .cache .nox
