#!/usr/bin/env bash
# Runs every promfeed test on a fresh machine: installs Debian and PyPI dependencies, builds,
# then runs the C++ unit tests (ctest), the integration tests against a real Prometheus,
# node-exporter and daemon (pytest), the Python reader's tests, and the format/stub checks.
# Exits non-zero when anything fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
cd "$ROOT"

step() { printf '\n==== %s ====\n' "$*"; }

step "install Debian packages"
"$ROOT/scripts/install-deps.sh"
step "build"
"$ROOT/scripts/build.sh"
step "python venv"
"$ROOT/scripts/python-env.sh"
PY="$BUILD_DIR/venv/bin/python"

failed=()
run() {
  local name="$1"; shift
  step "$name"
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; failed+=("$name"); fi
}

run "C++ unit tests (ctest)" ctest --test-dir "$BUILD_DIR" -L unit --output-on-failure -j 2
# The Python suites require the daemon and the reader's C++ transport (both built above).
export PROMFEED_BIN="$BUILD_DIR/daemon/promfeed" PROMFEED_REQUIRE_DAEMON=1 PROMFEED_REQUIRE_NATIVE=1
run "integration tests (real Prometheus + daemon)" \
  "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/integration"
run "security tests" "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/security"
run "fault tests (outage, hostile upstream, 50 clients, SIGTERM)" \
  "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/faults"
run "fuzzing (libFuzzer, 20 s per target)" env FUZZ_SECONDS=20 "$ROOT/scripts/fuzz.sh"
run "operations tests (web, metrics, reload, systemd)" \
  "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/ops"
run "deployment tests (k8s manifests, .deb, Dockerfile)" "$ROOT/tests/deploy/run.sh"
run "Python reader tests" "$PY" -m pytest -q -p no:cacheprovider "$ROOT/client/python/tests"
if [ -x "$ROOT/client/python/scripts/check-stubs.sh" ]; then
  run "generated stubs match proto" "$ROOT/client/python/scripts/check-stubs.sh"
fi
# Two more builds (ASan+UBSan: unit + integration tests; TSan: store and gRPC stream tests).
run "sanitizers (ASan+UBSan, TSan)" env PYTHON="$PY" "$ROOT/scripts/sanitize.sh"
run "Python lint (ruff)" "$BUILD_DIR/venv/bin/ruff" check "$ROOT/client/python" "$ROOT/tests"
run "C++ format (clang-format)" "$ROOT/scripts/check-format.sh"

step "summary"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all test suites passed"
