#!/usr/bin/env bash
# System packages some tests use against real components: PostgreSQL (store and lock tests),
# Chromium and its driver (the host page and Etherpad's UI in a real browser) and, when WOPI_PROXY_REQUIRE_IMAGES=1, podman, runc
# and debootstrap (tests/images builds and runs the container images). Installed from Debian's
# packages when running as root and missing; otherwise those tests skip (unless
# WOPI_PROXY_REQUIRE_* says they must run).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)  # the Etherpad UI test drives Chromium
if [ "${WOPI_PROXY_REQUIRE_IMAGES:-}" = 1 ]; then
  for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
  done
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${missing[*]} not installed (needs root and apt-get); the tests that use them will skip" >&2
  exit 0
fi
echo "installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
