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
#   scripts/workers.sh e2e         # the end-to-end test (examples/workers/e2e.mjs): TigerBeetle,
#                                  # `openinsure ledger-proxy` and `openinsure serve` on a fresh
#                                  # MariaDB database, the Worker under `wrangler dev` on it
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
TOOLS="$CACHE/workers-tools"
EXAMPLE=examples/workers
WORKER_BUILD_VERSION=0.8.7

log() { echo "[workers.sh] $*" >&2; }
usage() { echo "usage: scripts/workers.sh install|build|env|e2e" >&2; exit 64; }

# waits for a line starting with $2 in file $1 (a process's output); prints the rest of the line
wait_for_line() {
  local file="$1" prefix="$2" i
  for i in $(seq 1 600); do
    if grep -q "^$prefix" "$file" 2>/dev/null; then
      grep -m1 "^$prefix" "$file" | sed "s|^$prefix||"
      return 0
    fi
    sleep 0.1
  done
  echo "scripts/workers.sh: timed out waiting for '$prefix' in $file:" >&2
  cat "$file" >&2
  return 1
}

e2e() {
  install
  eval "$(environment)"
  scripts/tigerbeetle.sh install >/dev/null
  scripts/tigerbeetle.sh build
  eval "$(scripts/tigerbeetle.sh env)"
  log "building the Worker"
  worker-build --profile worker --out-dir ../../examples/workers/build adapters/workers
  log "building the Worker's conformance variant (a test build: the store suites inside the Worker)"
  worker-build --profile worker --no-opt --out-dir ../../examples/workers/build-conformance adapters/workers \
    --features conformance
  log "building openinsure (with TigerBeetle)"
  cargo build -q -p openinsure-cli --features tigerbeetle
  local bin
  bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/openinsure"

  # globals: the EXIT trap reads them
  RUN="$(mktemp -d "$CACHE/workers-e2e.XXXXXX")"
  PIDS=()
  DB="openinsure_workers_$(date +%s)_$$"
  local run="$RUN" db="$DB"
  scripts/mariadb.sh ensure
  local server_url="${OPENINSURE_MYSQL_URL:-$(scripts/mariadb.sh url)}"
  server_url="${server_url%/*}"
  MYSQL=(mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root -N -B)
  local mysql=("${MYSQL[@]}")
  cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
    sleep 1
    # wrangler may outlive its TERM (workerd children): the whole group, for good
    for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
    scripts/tigerbeetle.sh stop --dir "$RUN" >/dev/null 2>&1 || true
    "${MYSQL[@]}" -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
    # the last run's logs stay for a look (wrangler's, the proxy's, serve's)
    rm -rf "$CACHE/workers-e2e-logs" && mkdir -p "$CACHE/workers-e2e-logs"
    cp "$RUN"/*.log "$CACHE/workers-e2e-logs/" 2>/dev/null || true
    rm -rf "$RUN"
  }
  trap cleanup EXIT
  "${mysql[@]}" -e "CREATE DATABASE $db"
  # Hyperdrive (and wrangler's local stand-in) wants a password: an application user of the
  # test's own, with mysql_native_password
  local app_password
  app_password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  for h in localhost 127.0.0.1 '%'; do
    "${mysql[@]}" -e "CREATE USER IF NOT EXISTS 'openinsure_e2e'@'$h' IDENTIFIED BY '$app_password';
      ALTER USER 'openinsure_e2e'@'$h' IDENTIFIED BY '$app_password';
      GRANT ALL ON \`$db\`.* TO 'openinsure_e2e'@'$h'"
  done
  local app_url="mysql://openinsure_e2e:$app_password@127.0.0.1:3306/$db"
  local tb
  tb="$(scripts/tigerbeetle.sh start --port "${TIGERBEETLE_E2E_PORT:-3036}" --dir "$run" | grep '^TIGERBEETLE_ADDRESS=')"
  tb="${tb#TIGERBEETLE_ADDRESS=}"

  local service_key key_file="$run/signing-key"
  service_key="e2e-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  OPENINSURE_LEDGER_SERVICE_KEY="$service_key" setsid "$bin" ledger-proxy --addr 127.0.0.1:0 --tigerbeetle "$tb" \
    > "$run/proxy.log" 2>&1 &
  PIDS+=($!)
  local proxy_url
  proxy_url="$(wait_for_line "$run/proxy.log" "ledger proxy on ")"

  OPENINSURE_LOG=warn setsid "$bin" serve --addr 127.0.0.1:0 --database "$server_url/$db" --signing-key-file "$key_file" \
    --tigerbeetle "$tb" --rate-limit 0 > "$run/serve.log" 2>&1 &
  PIDS+=($!)
  local native
  native="http://$(wait_for_line "$run/serve.log" "listening on http://" | cut -d' ' -f1)"
  log "native host at $native, ledger proxy at $proxy_url"

  local port="${WORKERS_E2E_PORT:-8799}"
  scripts/yjs.sh install
  printf 'OPENINSURE_SIGNING_KEY=%s\nLEDGER_SERVICE_KEY=%s\n' "$(cat "$key_file")" "$service_key" > "$EXAMPLE/.dev.vars"
  rm -rf "$EXAMPLE/.wrangler"
  # the edge config's D1 schema, in the local state wrangler dev then uses
  wrangler d1 migrations apply openinsure-edge --local --config "$EXAMPLE/wrangler.toml" > "$run/d1.log" 2>&1 \
    || { cat "$run/d1.log" >&2; exit 1; }
  start_wrangler() {
    CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB="$app_url" setsid wrangler dev --config "$EXAMPLE/wrangler.toml" \
      --local --ip 127.0.0.1 --port "$port" --show-interactive-dev-session=false --test-scheduled \
      --var "LEDGER_PROXY_URL:$proxy_url" --var "PUBLIC_WS_ORIGIN:ws://127.0.0.1:$port" > "$run/wrangler.log" 2>&1 &
    WRANGLER_PID=$!
    PIDS+=("$WRANGLER_PID")
    wait_for_line "$run/wrangler.log" ".*Ready on " >/dev/null
  }
  start_wrangler
  log "the Worker is up on 127.0.0.1:$port"

  local org=0192f0c0-0000-7000-8000-0000000000a0 other=0192f0c0-0000-7000-8000-0000000000b0
  local adjuster=0192f0c0-0000-7000-8000-0000000000c1
  tok() { "$bin" token --signing-key-file "$key_file" "$@"; }
  local tokens
  local underwriter2=0192f0c0-0000-7000-8000-0000000000a3 viewer=0192f0c0-0000-7000-8000-0000000000d1
  tokens="$(printf '{"producer":"%s","underwriter":"%s","underwriter2":"%s","underwriter2Id":"%s","viewer":"%s","viewerId":"%s","service":"%s","supervisor":"%s","adjuster":"%s","adjusterId":"%s","finance":"%s","stranger":"%s"}' \
    "$(tok --org $org --role producer)" \
    "$(tok --org $org --role underwriter --user 0192f0c0-0000-7000-8000-0000000000a2)" \
    "$(tok --org $org --role underwriter --user $underwriter2)" "$underwriter2" \
    "$(tok --org $org --role producer --user $viewer)" "$viewer" \
    "$(tok --org $org --role service)" \
    "$(tok --org $org --role claims_supervisor)" \
    "$(tok --org $org --role adjuster --user $adjuster)" "$adjuster" \
    "$(tok --org $org --role finance_analyst)" \
    "$(tok --org $other --role producer)")"

  # serve prepares its statements (sqlx): stopped while the Worker alone talks to the database
  kill -TERM -- "-${PIDS[1]}" 2>/dev/null || true
  sleep 1
  local prepared_before
  prepared_before="$("${mysql[@]}" -e "SHOW GLOBAL STATUS LIKE 'Com_stmt_prepare'" | cut -f2)"
  local e2e_env=(WORKER_URL="http://127.0.0.1:$port" TOKENS="$tokens" SUBMISSION="$PWD/examples/submissions/acme.json"
    YJS_CLIENT="$PWD/tests/yjs/client.mjs" ROOM_FILE="$run/room.json")
  env "${e2e_env[@]}" PHASE=worker node "$EXAMPLE/e2e.mjs"
  # deal rooms on their Durable Objects; then the objects evicted (wrangler restarted on the same
  # local state) and the room reloaded
  env "${e2e_env[@]}" PHASE=rooms node "$EXAMPLE/e2e.mjs"
  kill -TERM -- "-$WRANGLER_PID" 2>/dev/null || true
  sleep 1
  kill -KILL -- "-$WRANGLER_PID" 2>/dev/null || true
  start_wrangler
  env "${e2e_env[@]}" PHASE=reload node "$EXAMPLE/e2e.mjs"

  # the store conformance suites inside the Worker (its test build), on the same database
  local cport=$((port + 1))
  wrangler d1 migrations apply openinsure-edge --local --persist-to "$run/conformance-state" \
    --config "$EXAMPLE/wrangler.toml" >> "$run/d1.log" 2>&1 || { cat "$run/d1.log" >&2; exit 1; }
  CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB="$app_url" setsid wrangler dev --config "$EXAMPLE/wrangler.toml" \
    "$PWD/$EXAMPLE/build-conformance/index.js" --persist-to "$run/conformance-state" \
    --local --ip 127.0.0.1 --port "$cport" --show-interactive-dev-session=false \
    --var "LEDGER_PROXY_URL:$proxy_url" > "$run/conformance.log" 2>&1 &
  PIDS+=($!)
  wait_for_line "$run/conformance.log" ".*Ready on " >/dev/null
  local verdict
  verdict="$(curl -sS -X POST --max-time 120 "http://127.0.0.1:$cport/__conformance?run=$(date +%s)" || true)"
  if [ "$verdict" != "every store suite passed" ]; then
    echo "scripts/workers.sh: the store suites failed inside the Worker: $verdict" >&2
    grep -i "panicked\|error" "$run/conformance.log" | head -20 >&2
    exit 1
  fi
  log "every store conformance suite passed inside the Worker, through Hyperdrive"
  local prepared_after
  prepared_after="$("${mysql[@]}" -e "SHOW GLOBAL STATUS LIKE 'Com_stmt_prepare'" | cut -f2)"
  if [ "$prepared_after" != "$prepared_before" ]; then
    echo "scripts/workers.sh: MariaDB prepared $((prepared_after - prepared_before)) statements during the Worker's run" >&2
    exit 1
  fi
  log "no prepared statement reached MariaDB during the Worker's run"
  # the edge stores hold what they should (so the scan below looks at something) and no PHI value
  # the test wrote; the rest of the local state (the rooms' objects, the queue) is scanned too
  local state="$EXAMPLE/.wrangler/state/v3"
  if ! grep -rqa "/rates/" "$state/d1"; then
    echo "scripts/workers.sh: D1 holds no rate tables' copy: was it read on the quotes?" >&2
    exit 1
  fi
  if ! grep -rqa '"role":"producer"' "$state/kv"; then
    echo "scripts/workers.sh: KV holds no session: were sessions shared?" >&2
    exit 1
  fi
  local phi
  for phi in "Jane Roe" "1984-06-02" "123-45-6789" "S52.501A" "closed reduction, cast"; do
    if grep -rlaF "$phi" "$EXAMPLE/.wrangler" 2>/dev/null; then
      echo "scripts/workers.sh: the PHI value \`$phi\` is in the Worker's local state (above)" >&2
      exit 1
    fi
  done
  log "D1 holds the rate tables' copy and KV the sessions; no PHI value in D1, KV or any local state"

  # the same requests on serve, on the same database: equal worksheets, latency side by side
  OPENINSURE_LOG=warn setsid "$bin" serve --addr 127.0.0.1:0 --database "$server_url/$db" --signing-key-file "$key_file" \
    --tigerbeetle "$tb" --rate-limit 0 > "$run/serve2.log" 2>&1 &
  PIDS+=($!)
  native="http://$(wait_for_line "$run/serve2.log" "listening on http://" | cut -d' ' -f1)"
  WORKER_URL="http://127.0.0.1:$port" NATIVE_URL="$native" TOKENS="$tokens" \
    SUBMISSION="$PWD/examples/submissions/acme.json" REPORT="$CACHE/workers-e2e-report.json" PHASE=compare \
    node "$EXAMPLE/e2e.mjs"
  log "bundle: $(gzip -9 -c "$EXAMPLE/build/index_bg.wasm" 2>/dev/null | wc -c) bytes of gzipped wasm"
}

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
    worker-build --profile worker --out-dir ../../examples/workers/build adapters/workers
    ;;
  e2e) e2e ;;
  *) usage ;;
esac
