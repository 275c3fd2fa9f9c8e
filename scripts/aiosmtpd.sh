#!/usr/bin/env bash
# The SMTP server (PyPI `aiosmtpd`) that the SMTP adapter's tests send to through
# scripts/smtp_sink.py, installed once under ~/.cache/openinsure/aiosmtpd.
#
#   scripts/aiosmtpd.sh install   # pip install --target (cached)
#   scripts/aiosmtpd.sh path      # prints the directory for PYTHONPATH
set -euo pipefail
CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
VERSION=1.4.6
DIR="$CACHE/aiosmtpd-$VERSION"

case "${1:-install}" in
  path) echo "$DIR" ;;
  install)
    if PYTHONPATH="$DIR" python3 -c "import aiosmtpd.controller" 2>/dev/null; then
      echo "[aiosmtpd.sh] aiosmtpd $VERSION is installed" >&2
    else
      command -v python3 >/dev/null || { echo "[aiosmtpd.sh] python3 is needed" >&2; exit 1; }
      mkdir -p "$DIR"
      python3 -m pip install --quiet --disable-pip-version-check --target "$DIR" "aiosmtpd==$VERSION" >&2
      echo "[aiosmtpd.sh] installed aiosmtpd $VERSION in $DIR" >&2
    fi
    ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
