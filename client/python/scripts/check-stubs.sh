#!/usr/bin/env bash
# Regenerates the promfeed.v1 Python stubs from proto/ into a temp dir and diffs them with the
# committed ones (client/python/src/promfeed/v1/). Exits 1 with a diff when they differ.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
PY="${PYTHON:-$BUILD_DIR/venv/bin/python}"
exec "$PY" "$ROOT/client/python/scripts/gen_proto.py" --check
