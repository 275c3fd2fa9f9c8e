#!/usr/bin/env bash
# The OpenAPI document against the server it describes: schemathesis (PyPI) generates requests
# from `GET /openapi.json` of a running `openinsure serve` and fails on any 5xx, any response that
# does not match its documented schema, and any status the document does not list.
#
#   scripts/schemathesis.sh install          # a venv under ~/.cache/openinsure (pinned version)
#   scripts/schemathesis.sh run [SECONDS]    # build, start serve on a free port, test, stop (default 120 s)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
VENV="$CACHE/schemathesis-$VERSION"
ST="$VENV/bin/schemathesis"

usage() { echo "usage: scripts/schemathesis.sh install | run [SECONDS]" >&2; exit 64; }

install() {
  if [ -x "$ST" ]; then return; fi
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

run() {
  local seconds="${1:-120}"
  install
  cargo build --quiet -p openinsure-cli
  local bin
  bin="${CARGO_TARGET_DIR:-target}/debug/openinsure"
  DIR="$(mktemp -d)"
  local dir="$DIR"
  local port; port="$(free_port)"
  export OPENINSURE_SIGNING_KEY_FILE="$dir/key"
  "$bin" serve --addr "127.0.0.1:$port" --rate-limit 0 --data-dir "$dir/data" >"$dir/serve.log" 2>&1 &
  PID=$!
  trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  # the example org serve sets up; an admin with MFA may call every route
  local token; token="$("$bin" token --org 0192f0c0-0000-7000-8000-0000000000a0 --role admin --mfa)"
  echo "[schemathesis.sh] $VERSION against 127.0.0.1:$port for ${seconds}s"
  (cd "$dir" && "$ST" run "http://127.0.0.1:$port/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --phases examples,coverage,fuzzing \
    --max-time "$seconds" \
    --warnings off)
  if grep -q "panicked" "$dir/serve.log"; then
    echo "[schemathesis.sh] the server panicked:" >&2
    grep -A5 panicked "$dir/serve.log" >&2
    exit 1
  fi
}

case "${1:-}" in
  install) install ;;
  run) shift; run "$@" ;;
  *) usage ;;
esac
