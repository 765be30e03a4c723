"""Scale: the daemon polling N series (default 100k) at 1 s from a fake upstream.

The fake upstream (a Python HTTP server in its own process) serves pre-rendered Prometheus
/api/v1/query responses: every series with its two newest samples (the daemon reads
`sel[2s]`), so Prometheus's own cost stays out of the figure. For the first --warm seconds it
answers with no series, so the daemon's RSS with an empty store is the baseline.

Measured from /proc/<pid>: daemon CPU (utime + stime) over --seconds, as cores; RSS before
and after; bytes held per sample = RSS growth / samples held (and the per-series share),
against the target 16 B per sample + 256 B per series. RSS "full" is one reading; the in-poll
peak (max over --peak-seconds of readings every 10 ms) is printed beside it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import procs  # noqa: E402

METRIC_NAMES = [
    "node_cpu_seconds_total",
    "node_network_receive_bytes_total",
    "node_disk_read_bytes_total",
    "coredns_dns_requests_total",
]
MODES = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]


def _serve(n_series: int, warm_until: float, port_q: Any) -> None:
    # Labels like node-exporter's: 5 labels per series.
    prefixes = []
    for i in range(n_series):
        lab = (
            f'"__name__":"{METRIC_NAMES[i % 4]}","cpu":"{(i // 32) % 64}",'
            f'"instance":"10.0.{(i // 2048) % 256}.{i // 2048 // 256}:9100","job":"node",'
            f'"mode":"{MODES[(i // 4) % 8]}"'
        )
        prefixes.append('{"metric":{' + lab + '},"values":[[')
    head = '{"status":"success","data":{"resultType":"matrix","result":['
    empty = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
    config = b'{"status":"success","data":{"yaml":"global:\\n  scrape_interval: 1s\\n"}}'
    prefixes_b = [p.encode() for p in prefixes]
    head_b = head.encode()
    cache: dict[int, bytes] = {}
    lock = threading.Lock()

    def render(t_s: int) -> bytes:
        with lock:
            if t_s not in cache:
                mid = f'{t_s - 1},"{t_s * 0.5:.1f}"],[{t_s},"{t_s * 0.5 + 0.5:.1f}"]]}}'.encode()
                cache[t_s] = head_b + (mid + b",").join(prefixes_b) + mid + b"]}}"
                for old in [k for k in cache if k < t_s - 2]:
                    del cache[old]
            return cache[t_s]

    def prerender() -> None:
        # Renders each second's body before the daemon asks for it, so the upstream's own
        # work stays out of the poll's latency.
        while True:
            render(int(time.time()) + 1)
            time.sleep(0.2)

    threading.Thread(target=prerender, daemon=True).start()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: Any) -> None:
            pass

        def _reply(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(config if "status/config" in self.path else empty)

        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(n).decode())
            if not self.path.startswith("/api/v1/query?") and self.path != "/api/v1/query":
                self._reply(empty)
                return
            if time.time() < warm_until:
                self._reply(empty)
                return
            t = float(form.get("time", [str(time.time())])[0])
            self._reply(render(int(t)))

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    port_q.put(srv.server_address[1])
    srv.serve_forever()


def proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds user+system, RSS bytes) of pid."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return cpu, rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--retention", type=int, default=60, help="seconds")
    ap.add_argument("--warm", type=int, default=8)
    ap.add_argument(
        "--peak-seconds", type=float, default=3.0, help="RSS sampled this long for the peak"
    )
    args = ap.parse_args()
    import promfeed

    wd = Path(tempfile.mkdtemp(prefix="promfeed-scale-"))
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    warm_until = time.time() + args.warm + 20  # the daemon start is inside this
    up = ctx.Process(target=_serve, args=(args.series, warm_until, q), daemon=True)
    up.start()
    port = q.get(timeout=60)
    daemon = None
    try:
        cfg = {
            "global": {"poll_interval": "1s", "backfill": "5s"},
            "upstream": {"url": f"http://127.0.0.1:{port}", "timeout": "10s"},
            "inputs": [{"selector": '{job="node"}'}],
            "storage": {"retention": f"{args.retention}s", "max_series": args.series + 1000},
            "log": {"level": "warn", "format": "logfmt"},
        }
        daemon = procs.start_daemon(cfg, wd / "daemon")
        pid = daemon.pid
        procs.wait_until(lambda: time.time() > warm_until - 1, 60, "warm-up")
        _, rss0 = proc_stat(pid)
        with promfeed.Client(daemon.target) as c:
            procs.wait_until(
                lambda: c.status().series_count >= args.series, 120, "all series held", interval=0.2
            )
            t_a = time.monotonic()
            cpu_a, _ = proc_stat(pid)
            st_a = c.status()
            time.sleep(args.seconds)
            cpu_b, _ = proc_stat(pid)
            t_b = time.monotonic()
            st_b = c.status()
            # Fill every ring (held = capacity) before measuring memory per sample.
            left = args.retention + 5 - args.seconds
            if left > 0:
                time.sleep(left)
            _, rss1 = proc_stat(pid)
            # RSS moves within a poll (the response body and decoder buffers exist only while
            # one is decoded): also sample it over a few polls for the in-poll peak.
            rss_peak = rss1
            t_end = time.monotonic() + args.peak_seconds
            while time.monotonic() < t_end:
                rss_peak = max(rss_peak, proc_stat(pid)[1])
                time.sleep(0.01)
            st_c = c.status()
    finally:
        if daemon is not None:
            daemon.stop()
        up.kill()

    cores = (cpu_b - cpu_a) / (t_b - t_a)
    polls = st_b.polls_total - st_a.polls_total
    fails = st_b.poll_failures_total - st_a.poll_failures_total
    held, n = st_c.samples_held, st_c.series_count
    growth = rss1 - rss0
    budget = 16 * held + 256 * n
    print(
        f"\nScale: {n:,} series polled every 1 s from a fake upstream, {args.seconds} s; "
        f"retention {args.retention} s\n"
    )
    print("| daemon CPU (cores) | polls | failed polls | last poll ms | target | holds |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {cores:.2f} | {polls} | {fails} | {st_b.last_poll_duration_ms} | <= 1.00 core | "
        f"{'yes' if cores <= 1.0 else 'NO'} |"
    )
    print(
        "\n| RSS empty MB | RSS full MB | samples held | bytes/sample (growth/held) | "
        "B/series at 16 B/sample | budget MB (16 B/sample + 256 B/series) | holds |"
    )
    print("|---|---|---|---|---|---|---|")
    per_series = (growth - 16 * held) / n
    print(
        f"| {rss0 / 1e6:.0f} | {rss1 / 1e6:.0f} | {held:,} | {growth / held:.1f} | "
        f"{per_series:.0f} | {budget / 1e6:.0f} | {'yes' if growth <= budget else 'NO'} |"
    )
    peak_growth = rss_peak - rss0
    print(
        f"\nIn-poll peak (max RSS sampled every 10 ms over {args.peak_seconds:g} s): "
        f"{rss_peak / 1e6:.0f} MB, {(peak_growth - 16 * held) / n:.0f} B/series at 16 B/sample, "
        f"budget {'holds' if peak_growth <= budget else 'exceeded'}"
    )
    print(f"\n(ring_bytes reported by the daemon: {st_c.ring_bytes / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
