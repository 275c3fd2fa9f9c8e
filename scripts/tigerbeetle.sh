#!/usr/bin/env bash
# TigerBeetle 0.16.78 for OpenInsure: install the toolchain, build the server
# from the source bundled in the crates.io crate tigerbeetle-unofficial-sys,
# and run a single-replica server on loopback for tests.
#
#   scripts/tigerbeetle.sh install                 # libclang-dev + zig 0.14.1 (PyPI ziglang)
#   scripts/tigerbeetle.sh build                   # server binary into the cache (once)
#   scripts/tigerbeetle.sh start [--port N] [--dir DIR]
#   scripts/tigerbeetle.sh stop  [--dir DIR]
#   eval "$(scripts/tigerbeetle.sh env)"           # ZIG_PATH etc. for the client crate
#
# Everything lives under ${OPENINSURE_CACHE:-$HOME/.cache/openinsure}.
# start also reads TIGERBEETLE_START_ARGS (extra flags for 'tigerbeetle start', e.g.
# --cache-grid=256MiB; never --development) and TIGERBEETLE_START_TIMEOUT (seconds, default 60).
# Only crates.io, PyPI and Debian's packages are used: no other downloads.
set -euo pipefail

TB_VERSION="0.16.78"
TB_SYS_CRATE="tigerbeetle-unofficial-sys"
TB_SYS_VERSION="0.14.28+${TB_VERSION}"
TB_GIT_COMMIT="c3d9b09dc88e94dde9ac915c6e94a4c650332080"
TB_CLIENT_MIN="0.16.4"
ZIG_VERSION="0.14.1"

CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
VENV="$CACHE/zig-${ZIG_VERSION}-venv"
TB_DIR="$CACHE/tigerbeetle-${TB_VERSION}"
TB_BIN="$TB_DIR/tigerbeetle"
DEFAULT_RUN_DIR="$CACHE/tigerbeetle-run"
DEFAULT_PORT=3033
START_TIMEOUT="${TIGERBEETLE_START_TIMEOUT:-60}"

log() { printf '[tigerbeetle.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $0 <command> [options]

commands:
  install                      install libclang-dev (Debian) and zig ${ZIG_VERSION} (PyPI) under the cache; prints the zig path
  build                        build the TigerBeetle ${TB_VERSION} server into ${TB_BIN} (cached)
  start [--port N] [--dir DIR] format a fresh data file in DIR and start a server on 127.0.0.1:N
                               (defaults: port ${DEFAULT_PORT}, dir ${DEFAULT_RUN_DIR});
                               prints TIGERBEETLE_ADDRESS=127.0.0.1:N
                               (TIGERBEETLE_START_ARGS adds flags to 'tigerbeetle start', e.g.
                               --cache-grid=256MiB; the default server holds ~3.1 GB of memory)
  stop [--dir DIR]             stop the server started in DIR and remove its data file
  env                          print export lines for the client crate's build (ZIG_PATH, ...)

cache: ${CACHE} (set OPENINSURE_CACHE to move it)
EOF
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# Path of the zig binary inside the venv, or empty.
zig_path() {
    local py="$VENV/bin/python"
    [ -x "$py" ] || return 0
    "$py" - <<'PY' 2>/dev/null || true
import os
try:
    import ziglang
except ImportError:
    raise SystemExit(0)
p = os.path.join(os.path.dirname(ziglang.__file__), "zig")
if os.access(p, os.X_OK):
    print(p)
PY
}

# A directory holding libclang.so, or empty (clang-sys often finds it alone).
libclang_dir() {
    local f
    if command -v llvm-config >/dev/null 2>&1; then
        f="$(llvm-config --libdir 2>/dev/null || true)"
        if [ -n "$f" ] && ls "$f"/libclang*.so* >/dev/null 2>&1; then
            echo "$f"
            return 0
        fi
    fi
    local best=""
    for f in /usr/lib/llvm-*/lib/libclang.so*; do
        [ -e "$f" ] || continue
        f="$(dirname "$f")"
        # keep the highest LLVM version
        if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$f" | sort -V | tail -n1)" = "$f" ]; then
            best="$f"
        fi
    done
    [ -z "$best" ] || echo "$best"
}

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -qq >&2
        apt_updated=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

cmd_install() {
    mkdir -p "$CACHE"

    # libclang for bindgen in the client crate's build script.
    if command -v dpkg-query >/dev/null 2>&1; then
        if deb_installed libclang-dev; then
            log "libclang-dev already installed"
        else
            apt_install libclang-dev
        fi
    else
        log "warning: not a Debian system; make sure libclang is installed for bindgen"
    fi

    # zig from PyPI, in a venv under the cache.
    local zig
    zig="$(zig_path)"
    if [ -n "$zig" ] && [ "$("$zig" version 2>/dev/null || true)" = "$ZIG_VERSION" ]; then
        log "zig ${ZIG_VERSION} already installed"
    else
        local py
        py="$(command -v python3 || true)"
        [ -n "$py" ] || die "python3 not found"
        if [ ! -x "$VENV/bin/python" ]; then
            log "creating venv $VENV"
            if ! "$py" -m venv "$VENV" >&2; then
                rm -rf "$VENV"
                if command -v dpkg-query >/dev/null 2>&1; then
                    apt_install python3-venv
                    "$py" -m venv "$VENV" >&2
                else
                    die "python3 -m venv failed"
                fi
            fi
        fi
        log "pip install ziglang==${ZIG_VERSION}"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            "ziglang==${ZIG_VERSION}" >&2
        zig="$(zig_path)"
        [ -n "$zig" ] || die "ziglang installed but its zig binary was not found"
        local v
        v="$("$zig" version)"
        [ "$v" = "$ZIG_VERSION" ] || die "zig reports version $v, expected $ZIG_VERSION"
    fi
    echo "$zig"
}

require_zig() {
    local zig
    zig="$(zig_path)"
    [ -n "$zig" ] || die "zig not installed: run '$0 install' first"
    echo "$zig"
}

tb_binary_ok() {
    [ -x "$TB_BIN" ] && "$TB_BIN" version 2>/dev/null | grep -q "$TB_VERSION"
}

# Print the path of the crate's unpacked source (fetching it via cargo if needed).
fetch_tb_source() {
    local work="$1"
    local cargo_home="${CARGO_HOME:-$HOME/.cargo}"
    local name="${TB_SYS_CRATE}-${TB_SYS_VERSION}"
    local d f

    command -v cargo >/dev/null 2>&1 || die "cargo not found"

    # A throwaway project that only depends on the crate: cargo fetch downloads it.
    mkdir -p "$work/fetch/src"
    cat >"$work/fetch/Cargo.toml" <<EOF
[package]
name = "tigerbeetle-source-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
${TB_SYS_CRATE} = "=${TB_SYS_VERSION%%+*}"

[workspace]
EOF
    echo 'fn main() {}' >"$work/fetch/src/main.rs"
    log "cargo fetch ${TB_SYS_CRATE} ${TB_SYS_VERSION}"
    (cd "$work/fetch" && cargo fetch --quiet >&2)

    # Prefer the .crate archive (always present after a fetch); unpack it ourselves.
    for f in "$cargo_home"/registry/cache/*/"$name.crate"; do
        if [ -f "$f" ]; then
            mkdir -p "$work/crate"
            tar -xzf "$f" -C "$work/crate"
            d="$work/crate/$name"
            if [ -d "$d/tigerbeetle" ]; then
                echo "$d/tigerbeetle"
                return 0
            fi
        fi
    done
    for d in "$cargo_home"/registry/src/*/"$name"; do
        if [ -d "$d/tigerbeetle" ]; then
            echo "$d/tigerbeetle"
            return 0
        fi
    done
    die "could not find ${name} (its tigerbeetle/ folder) under $cargo_home/registry"
}

cmd_build() {
    mkdir -p "$CACHE"
    if tb_binary_ok; then
        log "TigerBeetle ${TB_VERSION} already built: $TB_BIN"
        echo "$TB_BIN"
        return 0
    fi
    local zig
    zig="$(require_zig)"

    exec 9>"$CACHE/tigerbeetle-${TB_VERSION}.lock"
    log "waiting for build lock"
    flock 9
    if tb_binary_ok; then # built by a concurrent run meanwhile
        log "TigerBeetle ${TB_VERSION} already built: $TB_BIN"
        echo "$TB_BIN"
        return 0
    fi

    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/tigerbeetle-build.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT

    local src
    src="$(fetch_tb_source "$work")"
    log "source: $src"
    cp -R "$src" "$work/tigerbeetle"

    local start=$SECONDS
    log "zig build (takes several minutes; ~700 MB memory)"
    (
        cd "$work/tigerbeetle"
        ZIG_GLOBAL_CACHE_DIR="$work/zig-global-cache" \
            ZIG_LOCAL_CACHE_DIR="$work/zig-local-cache" \
            "$zig" build -Drelease \
            -Dconfig-release="$TB_VERSION" \
            -Dconfig-release-client-min="$TB_CLIENT_MIN" \
            -Dgit-commit="$TB_GIT_COMMIT" >&2
    )
    log "zig build took $((SECONDS - start)) s"

    local out=""
    for f in "$work/tigerbeetle/tigerbeetle" "$work/tigerbeetle/zig-out/bin/tigerbeetle"; do
        if [ -x "$f" ] && [ -f "$f" ]; then
            out="$f"
            break
        fi
    done
    [ -n "$out" ] || die "zig build finished but no tigerbeetle binary was found"

    mkdir -p "$TB_DIR"
    cp "$out" "$TB_BIN.tmp.$$"
    chmod 755 "$TB_BIN.tmp.$$"
    mv -f "$TB_BIN.tmp.$$" "$TB_BIN"
    tb_binary_ok || die "built binary does not report version $TB_VERSION"
    log "built: $("$TB_BIN" version | head -n1)"
    echo "$TB_BIN"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# Is pid $1 a tigerbeetle process (guards against a recycled pid)?
pid_is_tigerbeetle() {
    pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q tigerbeetle
}

cmd_start() {
    local port="$DEFAULT_PORT" dir="$DEFAULT_RUN_DIR"
    while [ $# -gt 0 ]; do
        case "$1" in
        --port) port="${2:?--port needs a value}"; shift 2 ;;
        --port=*) port="${1#*=}"; shift ;;
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --dir=*) dir="${1#*=}"; shift ;;
        *) usage; die "unknown option for start: $1" ;;
        esac
    done
    case "$port" in '' | *[!0-9]*) die "bad port: $port" ;; esac
    if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then die "bad port: $port"; fi
    tb_binary_ok || die "TigerBeetle not built: run '$0 build' first"

    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local pidfile="$dir/tigerbeetle.pid" data="$dir/0_0.tigerbeetle" logf="$dir/tigerbeetle.log"

    if [ -f "$pidfile" ]; then
        local old
        old="$(cat "$pidfile")"
        if pid_is_tigerbeetle "$old"; then
            die "a server is already running from $dir (pid $old): run '$0 stop --dir $dir' first"
        fi
        rm -f "$pidfile"
    fi
    if port_open "$port"; then
        die "port $port on 127.0.0.1 is already in use"
    fi

    # Extra start flags, e.g. TIGERBEETLE_START_ARGS=--cache-grid=256MiB to use less memory.
    local -a extra=()
    if [ -n "${TIGERBEETLE_START_ARGS:-}" ]; then
        read -r -a extra <<<"$TIGERBEETLE_START_ARGS"
    fi
    local a
    for a in "${extra[@]}"; do
        # --development caps a request at 32 KiB (a 1,000-transfer batch fails): never use it.
        [ "$a" != "--development" ] || die "refusing --development for start (32 KiB request cap)"
    done

    rm -f "$data"
    log "formatting $data"
    if ! "$TB_BIN" format --cluster=0 --replica=0 --replica-count=1 "$data" >"$logf" 2>&1; then
        cat "$logf" >&2
        rm -f "$data"
        die "format failed"
    fi

    log "starting server on 127.0.0.1:$port (log: $logf)"
    setsid "$TB_BIN" start --addresses="127.0.0.1:$port" "${extra[@]}" "$data" \
        </dev/null >>"$logf" 2>&1 &
    local pid=$!
    echo "$pid" >"$pidfile"

    local waited=0
    while ! port_open "$port"; do
        if ! pid_alive "$pid"; then
            log "server exited before accepting connections; its log:"
            cat "$logf" >&2
            rm -f "$pidfile" "$data"
            exit 1
        fi
        if [ "$waited" -ge $((START_TIMEOUT * 10)) ]; then
            log "server did not accept connections within ${START_TIMEOUT} s; its log:"
            cat "$logf" >&2
            kill "$pid" 2>/dev/null || true
            sleep 1
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$pidfile" "$data"
            exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    log "server up (pid $pid) after ~$((waited / 10)) s"
    echo "TIGERBEETLE_ADDRESS=127.0.0.1:$port"
}

cmd_stop() {
    local dir="$DEFAULT_RUN_DIR"
    while [ $# -gt 0 ]; do
        case "$1" in
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --dir=*) dir="${1#*=}"; shift ;;
        *) usage; die "unknown option for stop: $1" ;;
        esac
    done
    local pidfile="$dir/tigerbeetle.pid" data="$dir/0_0.tigerbeetle"
    if [ -f "$pidfile" ]; then
        local pid
        pid="$(cat "$pidfile")"
        if pid_is_tigerbeetle "$pid"; then
            log "stopping server (pid $pid)"
            kill "$pid" 2>/dev/null || true
            local _
            for _ in $(seq 1 100); do
                pid_alive "$pid" || break
                sleep 0.1
            done
            if pid_alive "$pid"; then
                log "server still running after 10 s: SIGKILL"
                kill -9 "$pid" 2>/dev/null || true
            fi
        else
            log "no running server for pid $pid"
        fi
        rm -f "$pidfile"
    else
        log "no pid file in $dir"
    fi
    rm -f "$data"
}

cmd_env() {
    local zig
    zig="$(require_zig)"
    printf 'export ZIG_PATH=%q\n' "$zig"
    local lc
    lc="$(libclang_dir)"
    if [ -n "$lc" ]; then
        printf 'export LIBCLANG_PATH=%q\n' "$lc"
    fi
    if tb_binary_ok; then
        printf 'export TIGERBEETLE_BIN=%q\n' "$TB_BIN"
    fi
}

main() {
    local cmd="${1:-}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
    install) cmd_install "$@" ;;
    build) cmd_build "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    env) cmd_env "$@" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
    esac
}

# "; exit" on the same line: bash stops here even if this file is edited while it runs.
main "$@"; exit
