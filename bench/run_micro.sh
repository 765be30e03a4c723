#!/usr/bin/env bash
# Micro-benchmarks (Google Benchmark): JSON decode, ring append, window building, selectors.
# Usage: bench/run_micro.sh [extra Google Benchmark flags]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
build_targets prom_json_bench store_bench window_bench selector_bench
for b in prom_json_bench store_bench window_bench selector_bench; do
  "$BUILD_DIR/bench/$b" --benchmark_min_time=0.5 "$@"
done
