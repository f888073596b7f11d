#!/usr/bin/env bash
# Installs the bridged apps the tests run for real (Etherpad 1.8.14, Hocuspocus 3.4.4) into .cache/,
# side by side: both mostly wait on the npm registry. Without node and npm this does nothing and the
# bridge tests skip; a failed install fails only where the tests require the app
# (WOPI_PROXY_REQUIRE_ETHERPAD / WOPI_PROXY_REQUIRE_HOCUSPOCUS = 1, as in .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node_apps: node or npm missing: bridge tests with real apps will skip (or fail where required)" >&2
  exit 0
fi
bash tools/etherpad.sh >/dev/null & etherpad=$!
bash tools/hocuspocus.sh >/dev/null & hocuspocus=$!
status=0
if ! wait "$etherpad"; then
  echo "node_apps: the Etherpad install failed" >&2
  [ "${WOPI_PROXY_REQUIRE_ETHERPAD:-}" = 1 ] && status=1
fi
if ! wait "$hocuspocus"; then
  echo "node_apps: the Hocuspocus install failed" >&2
  [ "${WOPI_PROXY_REQUIRE_HOCUSPOCUS:-}" = 1 ] && status=1
fi
exit "$status"
