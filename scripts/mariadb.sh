#!/usr/bin/env bash
# A MariaDB server for the MySQL-protocol suites, on 127.0.0.1:3306 (root, no password).
#
#   scripts/mariadb.sh ensure    # use the one listening there; else install MariaDB from Debian
#                                # and start one with its data under ~/.cache/openinsure/mariadb
#   scripts/mariadb.sh url       # prints the URL the tests read (OPENINSURE_MYSQL_URL)
set -euo pipefail
CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
PORT="${OPENINSURE_MYSQL_PORT:-3306}"
URL="mysql://root@127.0.0.1:$PORT/test"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

case "${1:-ensure}" in
  url) echo "$URL" ;;
  ensure)
    if listening; then
      echo "[mariadb.sh] a server listens on 127.0.0.1:$PORT" >&2
    else
      if ! command -v mariadbd >/dev/null && ! command -v mysqld >/dev/null; then
        echo "[mariadb.sh] installing mariadb-server (Debian)" >&2
        sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
        $sudo_ apt-get update -qq >/dev/null && $sudo_ apt-get install -y -qq mariadb-server >/dev/null
      fi
      DATA="$CACHE/mariadb"
      if [ ! -d "$DATA/mysql" ]; then
        mkdir -p "$DATA"
        mariadb-install-db --user="$(id -un)" --datadir="$DATA" --auth-root-authentication-method=normal >/dev/null
      fi
      server=$(command -v mariadbd || command -v mysqld)
      "$server" --user="$(id -un)" --datadir="$DATA" --port="$PORT" --bind-address=127.0.0.1 \
        --socket="$DATA/mysqld.sock" --pid-file="$DATA/mysqld.pid" >"$DATA/server.log" 2>&1 &
      for _ in $(seq 1 100); do listening && break; sleep 0.2; done
      listening || { echo "[mariadb.sh] the server did not start; see $DATA/server.log" >&2; exit 1; }
      mariadb -h127.0.0.1 -P"$PORT" -uroot -e "CREATE DATABASE IF NOT EXISTS test" 2>/dev/null || true
      echo "[mariadb.sh] started MariaDB on 127.0.0.1:$PORT (data in $DATA)" >&2
    fi
    ;;
  *) echo "usage: $0 ensure|url" >&2; exit 2 ;;
esac
