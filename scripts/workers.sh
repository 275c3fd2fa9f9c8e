#!/usr/bin/env bash
# The Cloudflare Workers host (adapters/workers, examples/workers), run locally under
# `wrangler dev`. Installs what it needs on a fresh machine, cached under ~/.cache/openinsure:
# the wasm32 target (rustup), worker-build and wasm-bindgen-cli (the version in Cargo.lock), and
# from npm (examples/workers/package-lock.json) wrangler, binaryen's wasm-opt and the test's Yjs
# clients. No Cloudflare account and no network beyond the package registries; telemetry off.
#
#   scripts/workers.sh install     # the tools (cached)
#   scripts/workers.sh build       # the Worker (release wasm, wasm-bindgen, wasm-opt)
#   scripts/workers.sh env         # the environment wrangler runs with (eval it)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
TOOLS="$CACHE/workers-tools"
EXAMPLE=examples/workers
WORKER_BUILD_VERSION=0.8.7

log() { echo "[workers.sh] $*" >&2; }
usage() { echo "usage: scripts/workers.sh install|build|env" >&2; exit 64; }

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

environment() {
  cat <<ENV
export PATH="$TOOLS/bin:$PWD/$EXAMPLE/node_modules/.bin:\$PATH"
export WASM_BINDGEN_BIN="$TOOLS/bin/wasm-bindgen"
export WASM_OPT_BIN="$PWD/$EXAMPLE/node_modules/.bin/wasm-opt"
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export WRANGLER_HIDE_BANNER=true
export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_LOG_PATH="$CACHE/wrangler-logs"
ENV
}

install() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  mkdir -p "$TOOLS"
  if ! "$TOOLS/bin/worker-build" --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
    log "cargo install worker-build $WORKER_BUILD_VERSION (several minutes, once)"
    cargo install --quiet --locked worker-build --version "$WORKER_BUILD_VERSION" --root "$TOOLS"
  fi
  local wb
  wb="$(wasm_bindgen_version)"
  if ! "$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $wb\$"; then
    log "cargo install wasm-bindgen-cli $wb (several minutes, once)"
    # not --locked: its own lock file pins crates this toolchain may refuse (workers-rs#882)
    cargo install --quiet wasm-bindgen-cli --version "$wb" --root "$TOOLS" --force
  fi
  command -v npm >/dev/null || { echo "scripts/workers.sh: npm not found (Node.js 20 needed)" >&2; exit 1; }
  if [ -f "$EXAMPLE/node_modules/.package-lock.json" ] && [ "$EXAMPLE/node_modules/.package-lock.json" -nt "$EXAMPLE/package-lock.json" ]; then
    log "npm packages up to date"
  else
    (cd "$EXAMPLE" && npm_config_cache="$CACHE/npm" npm ci --no-audit --no-fund --silent)
  fi
}

case "${1:-}" in
  install) install ;;
  env) environment ;;
  build)
    install
    eval "$(environment)"
    (cd "$EXAMPLE" && worker-build --release ../../adapters/workers)
    ;;
  *) usage ;;
esac
