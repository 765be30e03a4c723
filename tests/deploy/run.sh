#!/usr/bin/env bash
# Runs the deployment tests (Kubernetes manifests, .deb package, Dockerfile) in their own venv
# at ${BUILD_DIR:-build}/deploy-venv with the pins of tests/deploy/requirements.txt.
# Needs a configured and built ${BUILD_DIR} (the .deb test packs its daemon with cpack).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
export BUILD_DIR
VENV="$BUILD_DIR/deploy-venv"
REQ="$ROOT/tests/deploy/requirements.txt"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$want" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/tests/deploy" "$@"
