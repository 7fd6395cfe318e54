# Two commands on a fresh machine:  make scenario NAME=proxy-resolve   and   make test
# Both bootstrap .venv (and the lab makes its certs in certs/ at run time).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NAME   ?= proxy-resolve

.PHONY: scenario lab run-all test test-image image kube-play browser lint typecheck bench bench-capacity mutation fuzz \
	clean curl8 curl8-if-possible web

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

## make curl8               Debian's bookworm-backports curl 8 in .curl/8 (beside the system's curl; no root)
curl8:
	@tools/fetch-curl8 .curl/8

# make test replays the catalog with curl 8 too: fetched on the first run; offline, those tests skip and say why.
curl8-if-possible:
	@test -x .curl/8/curl || tools/fetch-curl8 .curl/8 || echo "(the curl 8 tests will be skipped)"

# lab serve's browser terminal: xterm.js from the npm registry into web/node_modules (git-ignored), pinned by
# web/package-lock.json, as .venv is by pyproject.toml. npm comes with Node.js (Debian: apt-get install npm).
web/node_modules/.installed: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && echo "installing npm for lab serve's browser terminal (first run only) ..." \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; } \
	  || { echo "make web: needs npm (Node.js): sudo apt-get install npm" >&2; exit 2; }
	@echo "installing xterm.js into web/node_modules (first run only) ..."
	@cd web && npm ci --ignore-scripts --no-audit --no-fund --silent
	@touch $@

## make web                  xterm.js for lab serve (npm ci into web/node_modules)
web: web/node_modules/.installed

## make test                 lint, type-check, unit and real-curl tests (TEST_JOBS=1: in one process)
TEST_JOBS ?= auto
test: $(VENV) web browser curl8-if-possible lint typecheck
	@$(BIN)/pytest -q -n $(TEST_JOBS)

## make bench               mTLS handshakes/s: the lab's load balancer vs nginx (installs nginx-light), start-up,
##                          and capacity: N learners' labs at once (BENCH_LEARNERS=1,10,20,30 BENCH_PACED=30;
##                          BENCH_QUICK=1 for about a minute), and what a lab serve session costs against a bare lab up
bench: $(VENV) web
	@command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)
	@$(BIN)/python -m bench
	@$(BIN)/python -m bench.capacity $(if $(BENCH_QUICK),--quick)
	@$(BIN)/python -m bench.serve

## make bench-capacity      only the capacity benchmark (same variables)
bench-capacity: $(VENV)
	@$(BIN)/python -m bench.capacity $(if $(BENCH_QUICK),--quick)

## make image              the container image localhost/routing-lab:latest (podman; offline-capable)
image: $(VENV) web
	@deploy/image.sh

## make test-image         build the image, then the slow container tests (lab run --all in the image,
##                          the Kubernetes manifests under podman kube play)
test-image: image
	@CONTAINERS_CONF=$(CURDIR)/deploy/containers.conf $(BIN)/pytest -q -m container

## make kube-play           the Kubernetes manifests on this machine: 2 learners' pods (podman kube play),
##                          a scenario replayed in one, then both removed
kube-play: image
	@deploy/kubernetes/play.sh

## make mutation            plant each bug of bench/mutants.py, run the tests that must catch it (not in make test)
mutation: $(VENV)
	@$(BIN)/python -m bench.mutation

## make fuzz                10,000 hostile inputs per parser and scenario loader, 2,000 per host kind (bench/results/fuzz.*)
fuzz: $(VENV)
	@$(BIN)/python -m bench.fuzz

clean:
	rm -rf $(VENV) .curl web/node_modules .mypy_cache .ruff_cache .pytest_cache certs/*.crt certs/*.key certs/hosts certs/manifest.json
