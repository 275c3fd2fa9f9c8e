#!/usr/bin/env bash
# Node.js side of the deal room real-time tests (tests/yjs): Yjs clients and the reference
# y-websocket server, pinned in tests/yjs/package-lock.json.
#
#   scripts/yjs.sh install     # npm ci in tests/yjs, unless node_modules is newer than the lock file
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=tests/yjs

usage() { echo "usage: scripts/yjs.sh install" >&2; exit 64; }

case "${1:-}" in
  install)
    command -v npm >/dev/null || { echo "scripts/yjs.sh: npm not found (Node.js 20+ needed)" >&2; exit 1; }
    if [ -f "$DIR/node_modules/.package-lock.json" ] && [ "$DIR/node_modules/.package-lock.json" -nt "$DIR/package-lock.json" ]; then
      echo "up to date"
    else
      (cd "$DIR" && npm ci --no-audit --no-fund --silent)
    fi
    ;;
  *) usage ;;
esac
