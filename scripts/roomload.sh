#!/usr/bin/env bash
# Deal room load on loopback: one room, CLIENTS WebSocket clients (default 50).
#   1. chat through `openinsure serve` (closed loop: each client sends its next message when the
#      server's copy of its last one arrives; every client receives every message);
#   2. Yjs updates relayed by `openinsure serve`, every client sending one every INTERVAL_MS;
#   3. the same Yjs load relayed by `@y/websocket-server` (npm, Node.js), in the same run;
# then the ratio of updates delivered per second, ours to theirs. Installs what it needs.
#
#   scripts/roomload.sh                      # 50 clients, 10 s per phase, an update every 20 ms each
#   CLIENTS=50 SECONDS_PER_PHASE=20 INTERVAL_MS=10 scripts/roomload.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${CLIENTS:-50}
SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-10}
INTERVAL_MS=${INTERVAL_MS:-20}
PORT=${PORT:-18795}
YPORT=${YPORT:-18796}

scripts/yjs.sh install >/dev/null
cargo build --release -q -p openinsure-cli -p openinsure-benches --bin openinsure --bin room-load

WORK=$(mktemp -d)
KEY="$WORK/key"
OPENINSURE_LOG=warn target/release/openinsure serve --addr "127.0.0.1:$PORT" --rate-limit 0 --empty --database memory \
  --signing-key-file "$KEY" >"$WORK/serve.log" 2>&1 &
SERVER=$!
node tests/yjs/ywss.mjs "$YPORT" >"$WORK/ywss.log" 2>&1 &
YSERVER=$!
trap 'kill $SERVER $YSERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && grep -q listening "$WORK/ywss.log" && break
  sleep 0.1
done

LOAD=target/release/room-load
echo "== chat through openinsure serve ($CLIENTS clients, ${SECONDS_PER_PHASE}s)"
"$LOAD" openinsure "http://127.0.0.1:$PORT" "$KEY" chat "$CLIENTS" "$SECONDS_PER_PHASE" | tee "$WORK/chat.json"
echo "== Yjs updates relayed by openinsure serve (one every ${INTERVAL_MS} ms per client)"
"$LOAD" openinsure "http://127.0.0.1:$PORT" "$KEY" yjs "$CLIENTS" "$SECONDS_PER_PHASE" "$INTERVAL_MS" | tee "$WORK/ours.json"
echo "== Yjs updates relayed by @y/websocket-server (same load)"
"$LOAD" y-websocket "ws://127.0.0.1:$YPORT/load-room" "$CLIENTS" "$SECONDS_PER_PHASE" "$INTERVAL_MS" | tee "$WORK/theirs.json"
python3 - "$WORK/ours.json" "$WORK/theirs.json" <<'PY'
import json, sys
ours, theirs = (json.load(open(p)) for p in sys.argv[1:3])
ratio = ours["deliveredPerSec"] / max(theirs["deliveredPerSec"], 1)
print(f"== Yjs updates delivered per second: openinsure {ours['deliveredPerSec']}, "
      f"@y/websocket-server {theirs['deliveredPerSec']}: ratio {ratio:.2f}; "
      f"p99 {ours['p99Us'] / 1000:.1f} ms vs {theirs['p99Us'] / 1000:.1f} ms")
PY
