#!/usr/bin/env bash
# Configures and builds promfeed (daemon, tests, benchmarks) into ${BUILD_DIR:-build}.
# Extra arguments go to cmake's configure step, e.g. -DPROMFEED_SANITIZE=address,undefined.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja "$@"
cmake --build "$BUILD_DIR" -j "$(nproc)"
