#!/usr/bin/env bash
# The main job end to end on a fresh machine: installs dependencies, builds the daemon and the
# Python reader, starts a local Prometheus (scraping itself and node-exporter every second)
# and the daemon, then trains the TensorFlow I/O tutorial's LSTM from live metrics.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/python-env.sh"
exec "$ROOT/scripts/run-tutorial.sh"
