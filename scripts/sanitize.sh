#!/usr/bin/env bash
# Runs the tests under sanitizers, each in its own build directory:
#   asan:  ASan+UBSan build (${ASAN_BUILD_DIR:-build-asan}) of the daemon and unit tests; runs
#          ctest -L unit, then the integration tests against the instrumented daemon.
#   tsan:  TSan build (${TSAN_BUILD_DIR:-build-tsan}) of the concurrent store, window sampling
#          and gRPC stream tests (ring_buffer, series_store, window_cursor, spare_threads,
#          metric_feed_service, stream_cache) and of the Python reader's C++ stream transport
#          (native_stream) only.
# Usage: scripts/sanitize.sh [asan] [tsan]   (default: both). Exits non-zero on any test
# failure or sanitizer report; reports are kept under <build>/sanitizer-logs/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
abs() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
ASAN_BUILD="$(abs "${ASAN_BUILD_DIR:-build-asan}")"
TSAN_BUILD="$(abs "${TSAN_BUILD_DIR:-build-tsan}")"
PY="${PYTHON:-$ROOT/build/venv/bin/python}"
MODES=("$@")
[ ${#MODES[@]} -gt 0 ] || MODES=(asan tsan)

configure() {  # configure <dir> <sanitizers>
  cmake -S "$ROOT" -B "$1" -G Ninja -DPROMFEED_SANITIZE="$2" -DPROMFEED_BUILD_BENCHMARKS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
}

# Fails when the sanitizer runtime wrote any report file into <dir>.
no_reports() {
  local files
  files="$(find "$1" -type f -size +0 2>/dev/null || true)"
  if [ -n "$files" ]; then
    echo "sanitize: sanitizer reports:"
    for f in $files; do echo "--- $f"; head -60 "$f"; done
    return 1
  fi
}

run_asan() {
  configure "$ASAN_BUILD" address,undefined
  cmake --build "$ASAN_BUILD" -j "$(nproc)"
  local logs="$ASAN_BUILD/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  # Reports go to files (per process, daemon included) so that a report in a child process
  # fails the run even when the test that started it passed.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$logs/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
  local rc=0
  ctest --test-dir "$ASAN_BUILD" -L unit --output-on-failure -j 2 || rc=1
  PROMFEED_BIN="$ASAN_BUILD/daemon/promfeed" PROMFEED_REQUIRE_DAEMON=1 \
    "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/integration" || rc=1
  no_reports "$logs" || rc=1
  unset ASAN_OPTIONS UBSAN_OPTIONS
  return $rc
}

run_tsan() {
  configure "$TSAN_BUILD" thread
  cmake --build "$TSAN_BUILD" -j "$(nproc)" \
    --target ring_buffer_test series_store_test metric_feed_service_test window_cursor_test \
    spare_threads_test stream_cache_test native_stream_test
  local logs="$TSAN_BUILD/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  # Debian's gRPC, abseil, upb and protobuf are not built with TSan: their internal
  # synchronisation (refcounts, heap reuse) is invisible to it, so it reports races on memory
  # they free and reuse. Suppress reports with a frame inside those libraries (race: matches
  # function, file or module names; the module names catch frames without symbols, e.g. a
  # std::function destroyed by libgrpc++); a race between promfeed frames alone is still
  # reported. history_size=7: both stacks of a report are kept (the default lost the older).
  # thread: gRPC's own threads (its executor, resolver) may still be winding down when a test
  # process exits after a refused connection: reported as a "thread leak" of gRPC, not ours.
  cat >"$TSAN_BUILD/tsan.supp" <<'SUPP'
called_from_lib:libgrpc.so
called_from_lib:libgrpc++.so
called_from_lib:libgpr.so
called_from_lib:libabsl_synchronization.so
called_from_lib:libabsl_graphcycles_internal.so
called_from_lib:libabsl_status.so
race:^grpc_core::
race:^grpc::
race:^gpr_
race:^absl::
race:libabsl_
race:libupb.so
race:libgrpc.so
race:libgrpc++.so
race:libgpr.so
race:^google::protobuf::
deadlock:^grpc_core::
thread:grpc_core::Thread::Thread
SUPP
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=7:suppressions=$TSAN_BUILD/tsan.supp:log_path=$logs/tsan"
  local rc=0
  ctest --test-dir "$TSAN_BUILD" -L unit \
    -R 'RingBuffer|SeriesStore|MetricFeedService|WindowCursor|SpareThreads|StreamCache|NativeStream' \
    --output-on-failure -j 2 || rc=1
  no_reports "$logs" || rc=1
  unset TSAN_OPTIONS
  return $rc
}

status=0
for m in "${MODES[@]}"; do
  case "$m" in
    asan) echo "==== sanitize: ASan+UBSan (unit + integration) ===="; run_asan || status=1 ;;
    tsan) echo "==== sanitize: TSan (store + server) ===="; run_tsan || status=1 ;;
    *) echo "sanitize: unknown mode '$m' (use asan or tsan)" >&2; exit 2 ;;
  esac
done
exit $status
