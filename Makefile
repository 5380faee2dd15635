# The two commands a newcomer needs:
#   make render   -- set up and run `otelwire render` on the shipped example (no cluster)
#   make test     -- the whole suite: lint, Go tests, unit + real-control-plane tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXAMPLE ?= manifests/examples/order-service.yaml

.PHONY: all render install lint test unit pytest gotest controlplane partners system-deps crd dashboards clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

render: $(STAMP)
	$(BIN)/otelwire render -f $(EXAMPLE)

crd: $(STAMP)
	$(BIN)/otelwire crd > crds/monitoredservices.otelwire.io.yaml

dashboards: $(STAMP)
	$(BIN)/python -c 'import otelwire.dashboards as d; print(d.operator_manifest(), end="")' > manifests/dashboards/operator-dashboard.yaml

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy --strict operator/ bench/

controlplane:
	tests/controlplane/build.sh

# The real programs the integrations are tested against (tests/partners/*/build.env).
partners:
	tests/partners/build.sh

system-deps:
	scripts/system-deps.sh

gotest:
	cd tools/otelvet && go test -timeout 20m ./...

# The pure, fast tests (under a minute on 2 cores): nothing built or installed beyond the venv.
unit: $(STAMP)
	$(BIN)/pytest -m 'not controlplane and not go and not binaries' tests/unit tests/shell tests/bench tests/e2e/test_kubeenv.py

pytest: $(STAMP) controlplane partners system-deps
	$(BIN)/pytest

test: lint gotest pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
