#!/usr/bin/env bash
# A NATS server with JetStream for the event-bus tests, on 127.0.0.1:4222.
#
#   scripts/nats.sh ensure    # use the one listening there; else install nats-server from Debian
#                             # and start one with its JetStream data under ~/.cache/openinsure/nats
#   scripts/nats.sh url       # prints the URL the tests read (OPENINSURE_NATS_URL)
set -euo pipefail
CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
PORT="${OPENINSURE_NATS_PORT:-4222}"
URL="nats://127.0.0.1:$PORT"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

case "${1:-ensure}" in
  url) echo "$URL" ;;
  ensure)
    # the restart test starts servers of its own: the binary must be there either way
    if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
      echo "[nats.sh] installing nats-server (Debian)" >&2
      sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
      $sudo_ apt-get update -qq >/dev/null && $sudo_ apt-get install -y -qq nats-server >/dev/null
    fi
    if listening; then
      echo "[nats.sh] a server listens on 127.0.0.1:$PORT" >&2
    else
      server=$(command -v nats-server || echo /usr/sbin/nats-server)
      DATA="$CACHE/nats"
      mkdir -p "$DATA"
      setsid "$server" -a 127.0.0.1 -p "$PORT" -js -sd "$DATA" >"$DATA/server.log" 2>&1 < /dev/null &
      for _ in $(seq 1 100); do listening && break; sleep 0.1; done
      listening || { echo "[nats.sh] the server did not start; see $DATA/server.log" >&2; exit 1; }
      echo "[nats.sh] started NATS with JetStream on 127.0.0.1:$PORT (data in $DATA)" >&2
    fi
    ;;
  *) echo "usage: $0 ensure|url" >&2; exit 2 ;;
esac
