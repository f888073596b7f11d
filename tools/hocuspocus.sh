#!/usr/bin/env bash
# Installs the Hocuspocus 3.4.4 server wopi-proxy bridges (apps/hocuspocus: package.json + the
# committed package-lock.json) into .cache/hocuspocus-3.4.4/ with `npm ci`, for the tests
# (tests/support/hocuspocus.py runs apps/hocuspocus/server.mjs against it). Idempotent: the stamp,
# written last, holds the lock file's hash, so a half-finished install or a changed lock reinstalls
# and anything else returns at once. flock serialises parallel callers (pytest-xdist workers).
# sqlite3 (a native module) is fetched prebuilt or compiled with node-gyp: needs python3, make, g++.
set -euo pipefail
VERSION=3.4.4
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="$ROOT/apps/hocuspocus"
CACHE="$ROOT/.cache/hocuspocus-$VERSION"
STAMP="$CACHE/.installed"
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "hocuspocus.sh: $tool is not installed" >&2; exit 1; }
done
want="$(cat "$APP/package.json" "$APP/package-lock.json" | sha256sum | cut -d' ' -f1)"
mkdir -p "$ROOT/.cache"
exec 9>"$ROOT/.cache/hocuspocus-$VERSION.lock"
flock 9
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
echo "installing Hocuspocus $VERSION into $CACHE (npm ci)" >&2
rm -f "$STAMP"
mkdir -p "$CACHE"
cp "$APP/package.json" "$APP/package-lock.json" "$CACHE/"
started=$SECONDS
(cd "$CACHE" && npm ci --no-audit --no-fund --loglevel=error >"$CACHE/npm-ci.log" 2>&1) || {
  echo "hocuspocus.sh: npm ci failed; last lines of $CACHE/npm-ci.log:" >&2
  tail -n 30 "$CACHE/npm-ci.log" >&2
  exit 1
}
# sqlite3 falls back to compiling when no prebuilt binary downloads; prove it loads before stamping.
(cd "$CACHE" && node -e "require('sqlite3')") || { echo "hocuspocus.sh: sqlite3 does not load" >&2; exit 1; }
echo "$want" >"$STAMP"
echo "Hocuspocus $VERSION installed in $((SECONDS - started)) s" >&2
