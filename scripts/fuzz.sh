#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan+UBSan) into ${FUZZ_BUILD_DIR:-build-fuzz},
# replays every seed and regression input, then fuzzes each target for FUZZ_SECONDS (default 60).
# Targets: prom_json, selector, config (or name some as arguments). Exits non-zero on a crash,
# leak, timeout or sanitizer report; the failing input is kept under <build>/artifacts/<target>/
# and belongs in fuzz/regressions/<target>/ once the bug is fixed.
# Needs Debian's clang and libclang-rt-14-dev (scripts/install-deps.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(prom_json selector config)

CC=clang CXX=clang++ cmake -S "$ROOT/fuzz" -B "$BUILD" -G Ninja >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target "${TARGETS[@]/%/_fuzzer}"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in "${TARGETS[@]}"; do
  bin="$BUILD/${t}_fuzzer"
  seeds="$ROOT/fuzz/corpus/$t"
  regress="$ROOT/fuzz/regressions/$t"
  work="$BUILD/work/$t"
  artifacts="$BUILD/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  # Replay: every seed and every input that once crashed runs once and must pass.
  mapfile -t inputs < <(find "$seeds" "$regress" -type f ! -name '.*' | sort)
  echo "fuzz: $t: replaying ${#inputs[@]} seed and regression inputs"
  if ! "$bin" -artifact_prefix="$artifacts/" "${inputs[@]}" >"$artifacts/replay.log" 2>&1; then
    echo "fuzz: $t: FAILED replaying inputs; see $artifacts/replay.log"
    tail -40 "$artifacts/replay.log"
    status=1
    continue
  fi
  # Fuzz: new inputs go to a scratch corpus in the build dir, never into the repository.
  echo "fuzz: $t: fuzzing for ${SECONDS_EACH}s"
  if "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds" \
      >"$artifacts/fuzz.log" 2>&1; then
    echo "fuzz: $t: ok, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
      "$artifacts/fuzz.log" | grep -o '[0-9]*$') runs, corpus $(find "$work" -type f | wc -l) files"
  else
    echo "fuzz: $t: FAILED; crashing input in $artifacts/ (add it to fuzz/regressions/$t/ with the fix)"
    grep -E 'ERROR|SUMMARY|contract violated|runtime error' "$artifacts/fuzz.log" | head -20
    status=1
  fi
done
exit $status
