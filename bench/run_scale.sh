#!/usr/bin/env bash
# Scale: daemon CPU and RSS polling 100k series at 1 s from a fake upstream.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build_targets daemon/promfeed
PY="$(bench_venv)"
export PROMFEED_BIN="$BUILD_DIR/daemon/promfeed"
exec "$PY" "$ROOT/bench/scale.py" "$@"
