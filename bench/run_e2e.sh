#!/usr/bin/env bash
# End to end: promfeed reader vs plain Python vs prometheus-api-client vs TensorFlow I/O,
# plus the transport limit and 64 concurrent streams. Usage: bench/run_e2e.sh [e2e.py flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build_targets daemon/promfeed
PY="$(bench_venv)"
tfio_venv
export PROMFEED_BIN="$BUILD_DIR/daemon/promfeed" TF_CPP_MIN_LOG_LEVEL=2
exec "$PY" "$ROOT/bench/e2e.py" --tfio-venv "$BUILD_DIR/venv-tfio" "$@"
