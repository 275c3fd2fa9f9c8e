#!/usr/bin/env bash
# The crates a Cloudflare Workers host builds on, checked for wasm32-unknown-unknown: the domain
# crates, the application (API) layer and the in-memory adapter. Installs the target with rustup.
#
#   scripts/wasm.sh check
set -euo pipefail
cd "$(dirname "$0")/.."

CRATES=(openinsure-core openinsure-rating openinsure-ledger openinsure-hipaa openinsure-dealroom openinsure-auth openinsure-webhooks openinsure openinsure-memory)

case "${1:-}" in
  check)
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
      rustup target add wasm32-unknown-unknown
    fi
    args=()
    for c in "${CRATES[@]}"; do args+=(-p "$c"); done
    cargo check --target wasm32-unknown-unknown --all-features "${args[@]}"
    # the system of record as Workers reach it: the wire client, no sqlx
    cargo check --target wasm32-unknown-unknown -p openinsure-sql --no-default-features --features wire
    # the Worker itself
    cargo clippy --target wasm32-unknown-unknown -p openinsure-workers -- -D warnings
    ;;
  *) echo "usage: scripts/wasm.sh check" >&2; exit 64 ;;
esac
