#!/usr/bin/env bash
# Load test of `openinsure serve` with wrk on loopback: requests per second and latency
# percentiles (p99) for quote and for bind, on each system of record in turn: in memory, SQLite
# (a fresh data directory) and the MySQL protocol (a fresh database on the machine's MariaDB).
# Installs wrk from Debian when missing.
#
#   scripts/loadtest.sh                           # every backend, 10 s quotes, 5 s binds, 64 connections
#   BACKENDS="sqlite" BINDS=30000 scripts/loadtest.sh
#   MYSQL_URL=mysql://root@127.0.0.1:3306 scripts/loadtest.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
BIND_DURATION=${BIND_DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BINDS=${BINDS:-60000}
PORT=${PORT:-18790}
BACKENDS=${BACKENDS:-memory sqlite mysql}
MYSQL_URL=${MYSQL_URL:-mysql://root@127.0.0.1:3306}

if ! command -v wrk >/dev/null; then
  echo "[loadtest] installing wrk" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi
cargo build --release -q -p openinsure-cli

LOAD_DIR=$(mktemp -d)
export LOAD_DIR THREADS
export KEY_FILE="$LOAD_DIR/signing-key"
SERVER=""
MYSQL_DB=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  [ -n "$MYSQL_DB" ] && mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $MYSQL_DB" 2>/dev/null || true
  rm -rf "$LOAD_DIR"
}
trap cleanup EXIT

for backend in $BACKENDS; do
  case "$backend" in
    memory) database="memory" ;;
    sqlite) database="sqlite://$LOAD_DIR/sqlite/openinsure.db"; mkdir -p "$LOAD_DIR/sqlite" ;;
    mysql)
      MYSQL_DB="openinsure_load_$$"
      mysql -h127.0.0.1 -uroot -e "CREATE DATABASE $MYSQL_DB"
      database="$MYSQL_URL/$MYSQL_DB" ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  OPENINSURE_LOG=warn target/release/openinsure serve --addr "127.0.0.1:$PORT" --rate-limit 0 --empty \
    --database "$database" --signing-key-file "$KEY_FILE" >"$LOAD_DIR/serve-$backend.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done

  python3 scripts/load/prepare.py "127.0.0.1:$PORT" "$LOAD_DIR" "$BINDS"

  echo "== [$backend] quote: POST /v1/submissions/:id/quote ($DURATION, $CONNECTIONS connections, $THREADS threads)"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/load/quote.lua "http://127.0.0.1:$PORT"
  echo
  echo "== [$backend] bind: POST /v1/submissions/:id/bind, each submission once ($BIND_DURATION)"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$BIND_DURATION" --latency -s scripts/load/bind.lua "http://127.0.0.1:$PORT"
  echo
  kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=""
  if [ "$backend" = mysql ]; then mysql -h127.0.0.1 -uroot -e "DROP DATABASE $MYSQL_DB"; MYSQL_DB=""; fi
done
