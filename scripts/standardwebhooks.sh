#!/usr/bin/env bash
# The Standard Webhooks reference library (PyPI `standardwebhooks`), which the webhook tests check
# our signatures with, installed once under ~/.cache/openinsure/standardwebhooks.
#
#   scripts/standardwebhooks.sh install   # pip install --target (cached)
#   scripts/standardwebhooks.sh path      # prints the directory for PYTHONPATH
set -euo pipefail
CACHE="${OPENINSURE_CACHE:-$HOME/.cache/openinsure}"
VERSION=1.3.0
DIR="$CACHE/standardwebhooks-$VERSION"

case "${1:-install}" in
  path) echo "$DIR" ;;
  install)
    if PYTHONPATH="$DIR" python3 -c "import standardwebhooks.webhooks" 2>/dev/null; then
      echo "[standardwebhooks.sh] standardwebhooks $VERSION is installed" >&2
    else
      command -v python3 >/dev/null || { echo "[standardwebhooks.sh] python3 is needed" >&2; exit 1; }
      mkdir -p "$DIR"
      python3 -m pip install --quiet --disable-pip-version-check --target "$DIR" "standardwebhooks==$VERSION" >&2
      echo "[standardwebhooks.sh] installed standardwebhooks $VERSION in $DIR" >&2
    fi
    ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
