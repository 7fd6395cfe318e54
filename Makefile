# Two commands on a fresh machine:  make scenario NAME=proxy-resolve   and   make test
# Both bootstrap .venv (and the lab makes its certs in certs/ at run time).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NAME   ?= proxy-resolve

.PHONY: scenario lab run-all test test-image image kube-play browser lint typecheck bench clean

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setting up $(VENV) (first run only) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(VENV): $(VENV)/.installed

## make scenario NAME=...   replay one scenario with the real curl
scenario: $(VENV)
	@$(BIN)/lab run $(NAME)

## make lab NAME=...        a shell inside the scenario's world
lab: $(VENV)
	@$(BIN)/lab up $(NAME)

run-all: $(VENV)
	@$(BIN)/lab run --all

lint: $(VENV)
	@$(BIN)/ruff check lab tests bench
	@$(BIN)/ruff format --check lab tests bench
	@$(BIN)/lint-imports --no-cache | grep -E "KEPT|BROKEN|->" ; $(BIN)/lint-imports --no-cache >/dev/null

typecheck: $(VENV)
	@$(BIN)/mypy

# The HTML report test renders in headless Chromium (Debian package `chromium`); as root we install it,
# otherwise that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && echo "installing chromium for the report test (first run only) ..." \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || true

## make test                 lint, type-check, unit and real-curl tests
test: $(VENV) browser lint typecheck
	@$(BIN)/pytest -q

## make bench               mTLS handshakes/s: the lab's load balancer vs nginx (installs nginx-light)
bench: $(VENV)
	@command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)
	@$(BIN)/python -m bench

## make image              the container image localhost/routing-lab:latest (podman; offline-capable)
image: $(VENV)
	@deploy/image.sh

## make test-image         build the image, then the slow container tests (lab run --all in the image)
test-image: image
	@CONTAINERS_CONF=$(CURDIR)/deploy/containers.conf $(BIN)/pytest -q -m container -p no:cacheprovider

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache certs/*.crt certs/*.key certs/hosts certs/manifest.json
