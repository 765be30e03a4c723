#!/usr/bin/env bash
# Live latency (scrape timestamp -> Python reader), p50/p99 at a 1 s poll interval.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build_targets daemon/promfeed
PY="$(bench_venv)"
export PROMFEED_BIN="$BUILD_DIR/daemon/promfeed"
exec "$PY" "$ROOT/bench/live_latency.py" "$@"
