"""Where the reader's time goes on the transport-limit stream, part by part (one table).

The same data as bench/e2e.py's transport table (1,000 series x 30 min at 1 s, float32,
window 1): a daemon's StreamWindows answer is captured once and replayed by a bare gRPC
server, so the daemon's cost stays out. Then, in one run, N streams one after another
each, every part in turn, best of 5 rounds:
  bare            raw receive of the replayed bytes (the limit), by grpcio and by a C++
                  client (the reader's C++ transport dropping each message)
  reader, numpy   WindowStream.iter_rows: the reader's stream path, zero-copy rows
  rows() body     rows()'s generator without tf.data: the rows copied into 4 MiB blocks
  rows() dataset  promfeed.tf.rows(...).repeat(N) into tf.data (what e2e.py measures)
  ready blocks    tf.data.from_generator over as many ready blocks, no network
  grpcio          the reader's two stream paths again with PROMFEED_NATIVE=0 (the fallback)

Usage: PROMFEED_BIN=<daemon> build/venv-bench/bin/python bench/transport_parts.py
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np

import e2e
from e2e import METRIC, procs


def capture(wd: Path, n_series: int, n_t: int) -> tuple[list[bytes], bytes, int, int]:
    """A daemon's window-1 stream and ListSeries answer for the generated data."""
    t1_s = int(time.time()) // 60 * 60 - 600
    t0_s = t1_s - n_t + 1
    om = wd / "data.om"
    e2e.write_openmetrics(om, n_series, t0_s - 120, t1_s)
    data = wd / "prom" / "prometheus-data"
    data.mkdir(parents=True)
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
        check=True,
        capture_output=True,
    )
    om.unlink()
    prom = procs.start_prometheus(
        wd / "prom",
        scrape_interval="1s",
        extra_args=["--storage.tsdb.retention.time=3650d", "--query.max-samples=200000000"],
    )
    try:
        hist = f"{n_t // 60 + 25}m"
        cfg = {
            "global": {"poll_interval": "1s", "backfill": hist},
            "upstream": {"url": prom.url, "timeout": "120s"},
            "inputs": [{"selector": METRIC}],
            "storage": {"retention": hist, "max_series": 100000},
        }
        daemon = procs.start_daemon(cfg, wd / "daemon", timeout=600)
        try:
            t0_ms, t1_ms = t0_s * 1000, t1_s * 1000
            msgs = e2e.capture_stream(daemon.target, t0_ms, t1_ms, 1)
            return msgs, e2e.capture_series(daemon.target), t0_ms, t1_ms
        finally:
            daemon.stop()
    finally:
        prom.stop()


def best_s(fns: list[Any], rounds: int = 5) -> list[float]:
    """Each fn's best time over `rounds` rounds that run every fn in turn (so a noisy spell
    on this shared machine hits all of them alike)."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], _timed(fn))
    return best


def _timed(fn: Any) -> float:
    a = time.perf_counter()
    fn()
    return time.perf_counter() - a


def main() -> int:
    n = 20
    with tempfile.TemporaryDirectory(prefix="promfeed-parts-") as tmp:
        msgs, series, t0_ms, t1_ms = capture(Path(tmp), 1000, 1800)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    server = ctx.Process(target=e2e._replay_server, args=(msgs, series, q), daemon=True)
    server.start()
    try:
        target = f"127.0.0.1:{q.get(timeout=60)}"
        import tensorflow as tf

        import promfeed
        import promfeed.tf as ptf

        req = e2e.stream_request(t0_ms, t1_ms, 1)
        client = promfeed.Client(target)
        cols = ptf.resolve_columns(client, [METRIC])
        expected = ptf.ExpectedColumns([s.key() for s in cols])
        max_rows = ptf._BLOCK_BYTES // (8 + 4 * len(cols))
        pools = (ptf._BufferPool(), ptf._BufferPool(), ptf._BufferPool())

        def blocks_of_one_stream() -> Any:  # rows()'s generator body
            with client.windows(
                [METRIC], window=1, step=1000, start=t0_ms, end=t1_ms, dtype=np.float32
            ) as stream:
                cmap = expected.column_map(stream.header.features)
                yield from ptf._row_blocks(stream, cmap, max_rows, False, pools)

        def body() -> None:
            for _ in range(n):
                for _ in blocks_of_one_stream():
                    pass

        ready = [b for b in blocks_of_one_stream()]
        spec = tuple(tf.TensorSpec((None, *b.shape[1:]), tf.as_dtype(b.dtype)) for b in ready[0])
        ready_ds = tf.data.Dataset.from_generator(
            lambda: (ready[i % len(ready)] for i in range(n * len(ready))), output_signature=spec
        ).prefetch(1)
        rows_ds = ptf.rows(target, METRIC, step="1s", start=t0_ms, end=t1_ms).repeat(n)
        with e2e.grpcio_transport():
            rows_ds_g = ptf.rows(target, METRIC, step="1s", start=t0_ms, end=t1_ms).repeat(n)

        def numpy_grpcio() -> None:
            with e2e.grpcio_transport():
                e2e.promfeed_rows_numpy(target, t0_ms, t1_ms, n)

        parts = [
            ("bare gRPC receive, grpcio", lambda: e2e.raw_receive(target, req, n)),
            ("bare gRPC receive, C++ client", lambda: e2e.native_receive(target, req, n)),
            (
                "reader: rows as numpy (iter_rows)",
                lambda: e2e.promfeed_rows_numpy(target, t0_ms, t1_ms, n),
            ),
            ("reader: rows() body, blocks without tf.data", body),
            ("reader: rows() into tf.data", lambda: e2e.count_rows(rows_ds)),
            ("tf.data alone: the same blocks, ready", lambda: e2e.count_rows(ready_ds)),
            ("grpcio transport: rows as numpy (iter_rows)", numpy_grpcio),
            ("grpcio transport: rows() into tf.data", lambda: e2e.count_rows(rows_ds_g)),
        ]
        times = list(zip([name for name, _ in parts], best_s([fn for _, fn in parts]), strict=True))
        bare, bare_cc = times[0][1], times[1][1]
        print(
            f"\n{n} streams of {len(cols)} series x {(t1_ms - t0_ms) // 1000 + 1} rows, "
            f"{sum(map(len, msgs)) / 1e6:.1f} MB each, from a bare replay; best of 5 rounds\n"
        )
        print(
            e2e.table(
                [[name, f"{s:.3f}", f"{bare / s:.2f}", f"{bare_cc / s:.2f}"] for name, s in times],
                ["part", "seconds", "of bare (grpcio)", "of bare (C++)"],
            )
        )
    finally:
        server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
