#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (Zig for the TigerBeetle
# client, libclang; the Node.js Yjs clients of tests/yjs from npm; MariaDB when none listens on
# 127.0.0.1:3306), builds and starts a TigerBeetle server on loopback, runs every test of the
# workspace with every feature against it, MariaDB and NATS JetStream, and stops the TigerBeetle
# server. Then the
# Cloudflare Worker end to end under `wrangler dev` (scripts/workers.sh e2e: its tools installed
# and cached under ~/.cache/openinsure the first time).
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -- -p openinsure-ledger    # extra arguments go to cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/tigerbeetle.sh install >/dev/null
scripts/yjs.sh install
export OPENINSURE_REQUIRE_YJS=1
scripts/tigerbeetle.sh build
eval "$(scripts/tigerbeetle.sh env)"

# not on tmpfs: TigerBeetle needs Direct IO
RUN_DIR="$(mktemp -d "${OPENINSURE_CACHE:-$HOME/.cache/openinsure}/test-run.XXXXXX")"
PORT="${TIGERBEETLE_TEST_PORT:-3033}"
cleanup() { scripts/tigerbeetle.sh stop --dir "$RUN_DIR" >/dev/null 2>&1 || true; rm -rf "$RUN_DIR"; }
trap cleanup EXIT
address_line="$(scripts/tigerbeetle.sh start --port "$PORT" --dir "$RUN_DIR" | grep '^TIGERBEETLE_ADDRESS=')"
export TIGERBEETLE_ADDRESS="${address_line#TIGERBEETLE_ADDRESS=}"
export OPENINSURE_REQUIRE_TIGERBEETLE=1
echo "[test.sh] TigerBeetle at $TIGERBEETLE_ADDRESS"

# the MySQL-protocol suites run on MariaDB (the machine's, or one installed and started here);
# each test makes a fresh database, and none may be skipped
scripts/mariadb.sh ensure
export OPENINSURE_MYSQL_URL="${OPENINSURE_MYSQL_URL:-$(scripts/mariadb.sh url)}"
export OPENINSURE_REQUIRE_MYSQL=1

# the event bus on NATS JetStream (the machine's, or one installed and started here); the tests
# that start and stop servers of their own need `nats-server`
scripts/nats.sh ensure
export OPENINSURE_NATS_URL="${OPENINSURE_NATS_URL:-$(scripts/nats.sh url)}"
export OPENINSURE_REQUIRE_NATS=1
export NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}"

# the Standard Webhooks reference library (PyPI), which the signature tests check ours with
scripts/standardwebhooks.sh install
export OPENINSURE_STANDARDWEBHOOKS="$(scripts/standardwebhooks.sh path)"
export OPENINSURE_REQUIRE_STANDARDWEBHOOKS=1

# a real SMTP server (aiosmtpd from PyPI, run by scripts/smtp_sink.py) for the SMTP adapter's tests
scripts/aiosmtpd.sh install
export OPENINSURE_AIOSMTPD="$(scripts/aiosmtpd.sh path)"
export OPENINSURE_REQUIRE_AIOSMTPD=1

if [ "${1:-}" = "--" ]; then shift; fi
cargo test --workspace --all-features "$@"

# the Worker end to end (not when only some tests were asked for)
if [ "$#" -eq 0 ]; then
  scripts/workers.sh e2e
fi
