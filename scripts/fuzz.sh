#!/usr/bin/env bash
# Fuzzing for OpenInsure: cargo-fuzz (libFuzzer) targets in fuzz/, on the stable toolchain.
#
#   scripts/fuzz.sh install            # cargo-fuzz into the cache (once)
#   scripts/fuzz.sh run [SECONDS]      # build and run every target for SECONDS each (default 60)
#   scripts/fuzz.sh list               # the targets
#
# run fuzzes a temporary copy of the committed corpus (fuzz/corpus/<target>), so the tree stays
# clean; it exits non-zero on any crash, timeout or out-of-memory, and leaves the input that did
# it in fuzz/artifacts/<target>/ (cargo fuzz run --sanitizer none <target> <file> replays it).
#
# On stable Rust, targets are built with --sanitizer none: cargo-fuzz's default (address) needs
# -Zsanitizer, a nightly flag. Everything else cargo-fuzz passes (-Cpasses=sancov-module and
# the -sanitizer-coverage LLVM options) works on stable. Builds are release builds with debug
# assertions and overflow checks (cargo-fuzz's default), as the server is built with overflow checks.
#
# Everything lives under ${OPENINSURE_CACHE:-$HOME/.cache/openinsure}; the build goes to
# ${CARGO_TARGET_DIR:-fuzz/target}. FUZZ_ARGS adds libFuzzer flags (e.g. -jobs=2 -workers=2).
set -euo pipefail

CARGO_FUZZ_VERSION="0.13.2"

CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
TOOLS="$CACHE/tools"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="$ROOT/fuzz"
DEFAULT_SECONDS=60

log() { printf '[fuzz.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $0 <command> [options]

commands:
  install            install cargo-fuzz ${CARGO_FUZZ_VERSION} into ${TOOLS} (cached)
  run [SECONDS]      build every target in fuzz/ and fuzz each for SECONDS (default ${DEFAULT_SECONDS})
                     over a copy of its committed corpus; non-zero exit on any crash/timeout/oom
  list               print the targets

cache: ${CACHE} (set OPENINSURE_CACHE to move it); FUZZ_ARGS adds libFuzzer flags
EOF
}

cargo_fuzz_path() {
    local bin="$TOOLS/bin/cargo-fuzz"
    if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "cargo-fuzz ${CARGO_FUZZ_VERSION}"; then
        echo "$bin"
    fi
}

cmd_install() {
    command -v cargo >/dev/null 2>&1 || die "cargo not found"
    if [ -n "$(cargo_fuzz_path)" ]; then
        log "cargo-fuzz ${CARGO_FUZZ_VERSION} already installed"
    else
        mkdir -p "$TOOLS"
        log "cargo install cargo-fuzz ${CARGO_FUZZ_VERSION} (a few minutes)"
        # a target dir of its own: never the workspace's, whatever CARGO_TARGET_DIR says
        CARGO_TARGET_DIR="$CACHE/cargo-fuzz-build" \
            cargo install cargo-fuzz --version "=${CARGO_FUZZ_VERSION}" --locked --root "$TOOLS" >&2
        rm -rf "$CACHE/cargo-fuzz-build"
        [ -n "$(cargo_fuzz_path)" ] || die "cargo-fuzz installed but not found in $TOOLS/bin"
    fi
    echo "$TOOLS/bin/cargo-fuzz"
}

require_cargo_fuzz() {
    [ -n "$(cargo_fuzz_path)" ] || die "cargo-fuzz not installed: run '$0 install' first"
    export PATH="$TOOLS/bin:$PATH"
}

targets() {
    local f
    for f in "$FUZZ_DIR"/fuzz_targets/*.rs; do
        [ -e "$f" ] || continue
        basename "$f" .rs
    done
}

cmd_list() {
    targets
}

cmd_run() {
    local seconds="${1:-$DEFAULT_SECONDS}"
    case "$seconds" in '' | *[!0-9]*) die "bad SECONDS: $seconds" ;; esac
    [ "$seconds" -ge 1 ] || die "SECONDS must be at least 1"
    require_cargo_fuzz
    [ -f "$FUZZ_DIR/Cargo.toml" ] || die "no fuzz/Cargo.toml in $ROOT"

    local -a names=()
    mapfile -t names < <(targets)
    [ "${#names[@]}" -gt 0 ] || die "no targets in $FUZZ_DIR/fuzz_targets"

    local -a extra=()
    if [ -n "${FUZZ_ARGS:-}" ]; then
        read -r -a extra <<<"$FUZZ_ARGS"
    fi

    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/openinsure-fuzz.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT

    cd "$FUZZ_DIR"
    local name failed=0
    for name in "${names[@]}"; do
        log "building $name"
        cargo fuzz build --sanitizer none "$name" >&2

        # a copy of the committed corpus: new inputs land in the copy, not in the tree
        mkdir -p "$work/$name"
        if [ -d "corpus/$name" ]; then
            cp -R "corpus/$name/." "$work/$name/"
        fi
        log "fuzzing $name for ${seconds} s"
        local start=$SECONDS
        if cargo fuzz run --sanitizer none "$name" "$work/$name" -- \
            -max_total_time="$seconds" -timeout=2 -rss_limit_mb=2048 -max_len=65536 \
            -print_final_stats=1 "${extra[@]}" >&2; then
            log "$name: no crash, timeout or oom in $((SECONDS - start)) s"
        else
            log "$name FAILED: see fuzz/artifacts/$name/ (replay: cargo fuzz run --sanitizer none $name <file>)"
            failed=1
        fi
    done
    [ "$failed" -eq 0 ] || die "a target failed"
}

main() {
    local cmd="${1:-}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
    install) cmd_install "$@" ;;
    run) cmd_run "$@" ;;
    list) cmd_list "$@" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
    esac
}

# "; exit" on the same line: bash stops here even if this file is edited while it runs.
main "$@"; exit
