#!/usr/bin/env bash
# Runs the TensorFlow I/O Prometheus tutorial (client/python/examples/prometheus_tutorial.py)
# end to end: node-exporter, Prometheus (1 s scrape) and the promfeed daemon on free ports on
# 127.0.0.1 in a temp dir, readiness waited on with deadlines, everything stopped by PID.
# Needs an existing build: the daemon binary and the venv (scripts/python-env.sh).
# Exits with the example's status. Extra arguments go to the example (e.g. --epochs 5).
# Env: BUILD_DIR (default build), PROMFEED_BIN, PROMETHEUS_BIN, NODE_EXPORTER_BIN, KEEP_TMP=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
PY="$BUILD_DIR/venv/bin/python"
export PROMFEED_BIN="${PROMFEED_BIN:-$BUILD_DIR/daemon/promfeed}"

[ -x "$PY" ] || { echo "run-tutorial: no venv at $BUILD_DIR/venv; run scripts/python-env.sh" >&2; exit 2; }
[ -x "$PROMFEED_BIN" ] || { echo "run-tutorial: no daemon binary at $PROMFEED_BIN; build it first" >&2; exit 2; }

TMP="$(mktemp -d -t promfeed-tutorial.XXXXXX)"
cleanup() { if [ "${KEEP_TMP:-0}" = 1 ]; then echo "run-tutorial: kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
echo "run-tutorial: working in $TMP"

cd "$ROOT"
set +e
"$PY" - "$TMP" "$@" <<'PYEOF'
import subprocess, sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.harness import procs

tmp = Path(sys.argv[1])
args = sys.argv[2:]
rc = 1
try:
    with procs.start_node_exporter(tmp / "node-exporter") as ne:
        print(f"run-tutorial: node-exporter pid {ne.pid} at {ne.address}", flush=True)
        with procs.start_prometheus(tmp / "prometheus", scrape_interval="1s",
                                    targets={"node": [ne.address]}) as prom:
            print(f"run-tutorial: prometheus pid {prom.pid} at {prom.url} (up for both jobs)",
                  flush=True)
            config = {
                "global": {"poll_interval": "1s", "backfill": "10m"},
                "upstream": {"url": prom.url, "timeout": "5s"},
                "inputs": [
                    {"selector": 'prometheus_http_requests_total{handler="/metrics"}'},
                    {"selector": "go_memstats_gc_sys_bytes"},
                    {"selector": "go_memstats_alloc_bytes"},
                ],
                "storage": {"retention": "30m", "max_series": 10000},
                "log": {"level": "info", "format": "logfmt"},
            }
            with procs.start_daemon(config, tmp / "promfeed") as d:
                print(f"run-tutorial: promfeed pid {d.pid} at {d.target} (ready)", flush=True)
                ex = ["client/python/examples/prometheus_tutorial.py", "--target", d.target]
                rc = subprocess.call([sys.executable, *ex, *args])
                if rc != 0:
                    for p in (d, prom, ne):
                        print(p.describe(), file=sys.stderr)
            print(f"run-tutorial: promfeed exited with {d.exit_code}", flush=True)
except procs.ProcError as e:
    print(f"run-tutorial: {e}", file=sys.stderr)
    rc = 3
sys.exit(rc)
PYEOF
rc=$?
set -e
echo "run-tutorial: example exited with $rc"
exit $rc
