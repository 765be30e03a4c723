# Shared by bench/run_*.sh: paths, the build of the needed targets and the venvs.
# BUILD_DIR (default build) holds the CMake build; venvs go beside it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
export BUILD_DIR

log() { echo "bench: $*" >&2; }

# Configures (Release-like, benchmarks on) if needed and builds the given targets.
build_targets() {
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -G Ninja -B "$BUILD_DIR" -S "$ROOT" -DPROMFEED_BUILD_BENCHMARKS=ON >/dev/null
  fi
  ninja -C "$BUILD_DIR" "$@" >&2
}

# build/venv-bench: the reader's pinned packages + bench/requirements.lock (prometheus-api-client,
# pandas); the reader's pins win (-c).
bench_venv() {
  local venv="$BUILD_DIR/venv-bench" stamp want
  stamp="$venv/.bench-lock.sha256"
  want="$(cat "$ROOT/client/python/requirements.lock" "$ROOT/bench/requirements.lock" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "creating $venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/client/python/requirements.lock" \
      -c "$ROOT/client/python/requirements.lock" -r "$ROOT/bench/requirements.lock" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -c "$ROOT/client/python/requirements.lock" \
      -e "$ROOT/client/python[tf]" >&2
    echo "$want" > "$stamp"
  fi
  # The reader's C++ stream transport (client/python/native), on the path as in
  # scripts/python-env.sh; built here when CMake could configure it.
  if ninja -C "$BUILD_DIR" -t targets all 2>/dev/null | grep -q '^_promfeed_native:'; then
    ninja -C "$BUILD_DIR" _promfeed_native >&2
  fi
  echo "$BUILD_DIR/python" > "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/promfeed-native.pth"
  echo "$venv/bin/python"
}

# build/venv-tfio: TensorFlow 2.16 + tensorflow-io 0.37.1. Failure is recorded, not fatal:
# the e2e table then shows the exact error.
tfio_venv() {
  local venv="$BUILD_DIR/venv-tfio" stamp want
  stamp="$venv/.tfio-lock.sha256"
  want="$(sha256sum "$ROOT/bench/requirements-tfio.lock" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "creating $venv"
    python3 -m venv "$venv"
    if "$venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/bench/requirements-tfio.lock" \
        > "$venv/install.log" 2>&1; then
      echo "$want" > "$stamp"
    else
      log "tensorflow-io install failed; see $venv/install.log"
    fi
  fi
}
