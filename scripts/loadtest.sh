#!/usr/bin/env bash
# Load test of `openinsure serve` with wrk on loopback: requests per second and latency
# percentiles (p99) for quote and for bind. Installs wrk from Debian when missing.
#
#   scripts/loadtest.sh                 # 10 s per phase, 64 connections, 2 wrk threads
#   DURATION=30s CONNECTIONS=128 BINDS=200000 scripts/loadtest.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
BIND_DURATION=${BIND_DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BINDS=${BINDS:-60000}
PORT=${PORT:-18790}

if ! command -v wrk >/dev/null; then
  echo "[loadtest] installing wrk" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi
cargo build --release -q -p openinsure-cli

LOAD_DIR=$(mktemp -d)
export LOAD_DIR THREADS
export KEY_FILE="$LOAD_DIR/signing-key"
OPENINSURE_LOG=warn target/release/openinsure serve --addr "127.0.0.1:$PORT" --rate-limit 0 --empty \
  --signing-key-file "$KEY_FILE" >"$LOAD_DIR/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$LOAD_DIR"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

python3 scripts/load/prepare.py "127.0.0.1:$PORT" "$LOAD_DIR" "$BINDS"

echo "== quote: POST /v1/submissions/:id/quote ($DURATION, $CONNECTIONS connections, $THREADS threads)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/load/quote.lua "http://127.0.0.1:$PORT"
echo
echo "== bind: POST /v1/submissions/:id/bind, each submission once ($BIND_DURATION)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$BIND_DURATION" --latency -s scripts/load/bind.lua "http://127.0.0.1:$PORT"
