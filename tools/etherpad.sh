#!/usr/bin/env bash
# Installs the real Etherpad (ep_etherpad-lite from npm, the only version npm has) into
# .cache/etherpad-<version>/ laid out as upstream runs it, and links our plugin
# apps/etherpad/ep_wopi_proxy into it. Used by the bridge tests (tests/support/etherpad.py).
#
#   .cache/etherpad-1.8.14/src/                          the npm package, its dependencies installed
#   .cache/etherpad-1.8.14/node_modules/ep_etherpad-lite -> ../src
#   .cache/etherpad-1.8.14/node_modules/ep_wopi_proxy    -> <this checkout>/apps/etherpad/ep_wopi_proxy
#   .cache/etherpad-1.8.14/.installed                    stamp, written last (holds the version)
#
# Idempotent: a finished install (stamp present) is kept; an interrupted one (no stamp) is redone
# from scratch. Serialised with flock, so two pytest-xdist workers may call it at once. The first
# install takes a few minutes (~490 npm packages); later calls only re-point the plugin link.
# Progress goes to stderr; on success the install folder is printed on stdout.
set -euo pipefail
VERSION=1.8.14
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="$ROOT/.cache"
DEST="$CACHE/etherpad-$VERSION"
STAMP="$DEST/.installed"
PLUGIN="$ROOT/apps/etherpad/ep_wopi_proxy"

say() { echo "etherpad.sh: $*" >&2; }
for tool in node npm flock tar; do
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is not installed"; exit 3; }
done
[ -f "$PLUGIN/ep.json" ] || { say "plugin folder $PLUGIN is missing"; exit 2; }

mkdir -p "$CACHE"
exec 9>"$CACHE/etherpad-$VERSION.lock"
if ! flock -n 9; then
  say "another install holds $CACHE/etherpad-$VERSION.lock; waiting"
  flock 9
fi

if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$VERSION" ]; then
  started=$(date +%s)
  say "installing ep_etherpad-lite@$VERSION into $DEST (a few minutes)"
  rm -rf "$DEST"
  mkdir -p "$DEST/src" "$DEST/node_modules"
  work=$(mktemp -d "$CACHE/etherpad-pack.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "ep_etherpad-lite@$VERSION" >/dev/null)
  tar xzf "$work/ep_etherpad-lite-$VERSION.tgz" -C "$DEST/src" --strip-components=1
  say "npm install in src/ (dependencies only)"
  (cd "$DEST/src" && npm install --omit=dev --legacy-peer-deps --no-audit --no-fund --loglevel=error) >&2
  ln -s ../src "$DEST/node_modules/ep_etherpad-lite"
  echo "$VERSION" > "$STAMP.tmp"
  mv "$STAMP.tmp" "$STAMP"
  say "installed in $(( $(date +%s) - started )) s"
fi

# Our plugin: an absolute link to this checkout, re-pointed when the checkout moved (the link is
# replaced atomically, so an Etherpad starting meanwhile never sees it missing).
link="$DEST/node_modules/ep_wopi_proxy"
if [ "$(readlink "$link" 2>/dev/null || true)" != "$PLUGIN" ]; then
  ln -sfn "$PLUGIN" "$link.tmp"
  mv -T "$link.tmp" "$link"
  say "plugin ep_wopi_proxy -> $PLUGIN"
fi
echo "$DEST"
