#!/usr/bin/env bash
# Creates or updates the Python venv at ${BUILD_DIR:-build}/venv for the promfeed reader,
# its tests and the tutorial. Idempotent: re-running only installs what changed.
# Versions are pinned in client/python/requirements.lock.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
VENV="$BUILD_DIR/venv"
LOCK="$ROOT/client/python/requirements.lock"
PYTHON="${PYTHON:-python3}"

log() { echo "python-env: $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV with $($PYTHON --version 2>&1)"
  mkdir -p "$BUILD_DIR"
  "$PYTHON" -m venv "$VENV"
else
  log "venv exists: $VENV"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
STAMP="$VENV/.promfeed-lock.sha256"
want="$(sha256sum "$LOCK" "$ROOT/client/python/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
    && "$VENV/bin/python" -c 'import promfeed' 2>/dev/null; then
  log "pinned packages already installed ($LOCK unchanged)"
else
  log "installing pinned packages from $LOCK"
  "${PIP[@]}" install -q --upgrade pip
  "${PIP[@]}" install -q -r "$LOCK"
  log "installing client/python (editable, extras [tf,dev]) with constraints $LOCK"
  "${PIP[@]}" install -q -c "$LOCK" -e "$ROOT/client/python[tf,dev]"
  echo "$want" > "$STAMP"
fi
# The reader's C++ stream transport, when scripts/build.sh built it into $BUILD_DIR/python
# (client/python/native); without it the reader uses grpcio.
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$BUILD_DIR/python" > "$SITE/promfeed-native.pth"
if "$VENV/bin/python" -c 'import _promfeed_native' 2>/dev/null; then
  log "C++ stream transport: $BUILD_DIR/python"
else
  log "C++ stream transport not built (scripts/build.sh builds it); streams use grpcio"
fi
log "installed:"
"${PIP[@]}" list 2>/dev/null | grep -iE '^(grpcio|grpcio-tools|protobuf|numpy|tensorflow[-_]cpu|keras|pytest|ruff|PyYAML|promfeed) ' \
  | sed 's/^/  /'
log "done; activate with: source $VENV/bin/activate"
