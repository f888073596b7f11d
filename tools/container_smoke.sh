#!/usr/bin/env bash
# Builds both container images with podman and runs them for real (tests/images): a control and an
# edge container on 127.0.0.1, the CLI against the control container, a WOPI round trip through the
# edge. As root, installs podman/runc/debootstrap from Debian when missing and makes (once, cached in
# ~/.cache/wopi-proxy) a local Debian base: no Docker Hub or Docker engine needed.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory .venv/.installed
export WOPI_PROXY_REQUIRE_IMAGES=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider tests/images "$@"
