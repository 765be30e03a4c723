"""End-to-end benchmark: deliver T x F windowed samples into tf.data, four ways, in one run.

Same Prometheus, same series, same grid (1 s step, [t0, t0 + (T-1) s]), same windows
(W rows, shift 1, next row as y). Every method ends in the same consumer: a tf.data.Dataset
of (x [W, F], y [1, F]) float32 windows read in batches of 256.

  a. promfeed: promfeed.tf.windows(batch_size=256) against the daemon (which backfilled from
     Prometheus at start; that one-off cost is reported separately); a2: the same unbatched,
     followed by the user's .batch(256);
  b. plain Python: one query_range over HTTP (urllib), json, numpy grid + sliding windows;
  c. prometheus-api-client + pandas (MetricRangeDataFrame, pivot), as its users do;
  d. TensorFlow I/O from_prometheus (own venv, TF 2.16), on a smaller slice: it makes one
     request per series per second of data; per-sample rates are compared.

Also: a bare gRPC stream of the same StreamWindows bytes (the reader's window-1 rows stream,
captured once and replayed from a Python gRPC server, raw bytes, no decoding) over loopback,
the daemon's own stream received raw, and the reader's rows into tf.data (promfeed.tf.rows),
each measured over --transport-streams streams in a row (best of --repeat), with client and
server CPU seconds, for the transport-limit target; the reader is also run against the bare
replay (which answers ListSeries too), to show its own cost apart from the daemon's; and the
aggregate rate of 64 concurrent StreamWindows streams (raw receive, 4 processes x 16 threads).

Two daemons poll the same Prometheus: one as configured by default, which keeps a finished
stream over history and writes it again for the same request (its stream cache: each epoch
after the first), and one with server.stream_cache_bytes 0, which samples every stream from
its rings (a first read). Methods a-d and the concurrent streams use the second.

Data: OpenMetrics generated here, turned into TSDB blocks by promtool, served at once.
Run: bench/run_e2e.sh (sets up the venvs and calls this with build/venv-bench).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent import futures
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import procs  # noqa: E402

METRIC = "bench_metric"
BATCH = 256


# ---- data ------------------------------------------------------------------------------------
def write_openmetrics(path: Path, n_series: int, t_first_s: int, t_last_s: int) -> int:
    """Gauges `bench_metric{instance="host-NNNN",job="bench"}` at every second in
    [t_first_s, t_last_s]; each series is its own random walk. Returns samples written."""
    rng = np.random.default_rng(42)
    n_t = t_last_s - t_first_s + 1
    ts = [str(t) for t in range(t_first_s, t_last_s + 1)]
    with path.open("w") as f:
        f.write(f"# HELP {METRIC} Synthetic benchmark gauge.\n# TYPE {METRIC} gauge\n")
        for i in range(n_series):
            vals = np.round(1000 + np.cumsum(rng.normal(0, 1, n_t)), 3)
            head = f'{METRIC}{{instance="host-{i:04d}",job="bench"}} '
            f.write("".join(f"{head}{v!r} {t}\n" for v, t in zip(vals.tolist(), ts, strict=True)))
        f.write("# EOF\n")
    return n_series * n_t


# ---- the tf.data tails ----------------------------------------------------------------------
def keras_windows(grid: np.ndarray, w: int) -> Any:
    """The Keras way to window a [T, F] grid: batches of (x [B, W, F], y [B, F] = next row)."""
    import tensorflow as tf

    return tf.keras.utils.timeseries_dataset_from_array(
        grid[:-1], grid[w:], sequence_length=w, batch_size=BATCH, shuffle=False
    )


def consume(ds: Any) -> tuple[int, float]:
    """Reads every batch like a training loop; returns (windows, checksum of last x rows)."""
    n, total = 0, 0.0
    for x, _y in ds:
        n += int(x.shape[0])
        total += float(np.nansum(x.numpy()[:, -1, :], dtype=np.float64))
    return n, total


# ---- the methods -----------------------------------------------------------------------------
def run_promfeed(
    target: str, t0_ms: int, t1_ms: int, w: int, batched: bool = True
) -> tuple[int, float]:
    """promfeed.tf.windows(batch_size=256) (batches built by the reader), or with
    batched=False the unbatched dataset followed by the user's .batch(256)."""
    import promfeed.tf as ptf

    kw = dict(window=w, horizon=1, step="1s", fill="nan", start=t0_ms, end=t1_ms)
    if batched:
        return consume(ptf.windows(target, METRIC, batch_size=BATCH, **kw))
    return consume(ptf.windows(target, METRIC, **kw).batch(BATCH))


def promfeed_grid(target: str, t0_ms: int, t1_ms: int) -> np.ndarray:
    """The [T, F] grid as numpy through the reader (window 1: each row once)."""
    import promfeed

    with promfeed.Client(target) as c:
        b = c.windows(METRIC, window=1, step="1s", start=t0_ms, end=t1_ms).read_all()
    return b.x[:, 0, :]


def promfeed_rows_numpy(target: str, t0_ms: int, t1_ms: int, streams: int) -> int:
    """The reader's grid rows [R, F] as numpy only (WindowStream.iter_rows, zero-copy views),
    `streams` streams one after another. Returns the samples delivered."""
    import promfeed

    n = 0
    with promfeed.Client(target) as c:
        for _ in range(streams):
            with c.windows(METRIC, window=1, step="1s", start=t0_ms, end=t1_ms) as stream:
                for step in stream.iter_rows():
                    n += step.values.size
    return n


def promfeed_rows_dataset(target: str, t0_ms: int, t1_ms: int, streams: int) -> Any:
    """The reader's rows() dataset (blocks of grid rows into tf.data as they arrive) over
    `streams` streams one after another (each repetition opens a stream, as each epoch of a
    training run does). Built once, like a training run's dataset; count_rows iterates it."""
    import promfeed.tf as ptf

    return ptf.rows(target, METRIC, step="1s", start=t0_ms, end=t1_ms).repeat(streams)


@contextlib.contextmanager
def grpcio_transport() -> Any:
    """Clients made inside use grpcio for streams, not the C++ transport (PROMFEED_NATIVE=0)."""
    old = os.environ.get("PROMFEED_NATIVE")
    os.environ["PROMFEED_NATIVE"] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["PROMFEED_NATIVE"]
        else:
            os.environ["PROMFEED_NATIVE"] = old


def count_rows(ds: Any) -> int:
    """Iterates a rows() dataset; returns the samples delivered."""
    n = 0
    for _, values in ds:
        n += int(values.shape[0]) * int(values.shape[1])
    return n


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_get(url: str, params: dict[str, str]) -> bytes:
    q = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}?{q}", timeout=600) as r:
        return r.read()


def run_plain(prom: str, t0_ms: int, t1_ms: int, w: int, timing: dict[str, float]) -> Any:
    a = time.perf_counter()
    body = http_get(
        f"{prom}/api/v1/query_range",
        {"query": METRIC, "start": str(t0_ms / 1000), "end": str(t1_ms / 1000), "step": "1"},
    )
    b = time.perf_counter()
    result = json.loads(body)["data"]["result"]
    result.sort(key=lambda s: sorted(s["metric"].items()))
    n_t = (t1_ms - t0_ms) // 1000 + 1
    grid = np.full((n_t, len(result)), np.nan, np.float32)
    for j, s in enumerate(result):
        vals = s["values"]
        ts = np.fromiter((v[0] for v in vals), np.float64, len(vals))
        idx = np.round(ts - t0_ms / 1000).astype(np.int64)  # 1 s step
        grid[idx, j] = np.fromiter(map(float, (v[1] for v in vals)), np.float64, len(vals))
    c = time.perf_counter()
    out = consume(keras_windows(grid, w))
    timing.update(http_s=b - a, parse_s=c - b, tf_s=time.perf_counter() - c, mb=len(body) / 1e6)
    return out


def run_pac(prom: str, t0_ms: int, t1_ms: int, w: int) -> tuple[int, float]:
    import datetime as dt

    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

    pc = PrometheusConnect(url=prom, disable_ssl=True)
    res = pc.custom_query_range(
        METRIC,
        start_time=dt.datetime.fromtimestamp(t0_ms / 1000, dt.timezone.utc),
        end_time=dt.datetime.fromtimestamp(t1_ms / 1000, dt.timezone.utc),
        step="1",
    )
    df = MetricRangeDataFrame(res)
    grid_df = df.pivot_table(index=df.index, columns="instance", values="value")
    grid = grid_df.sort_index(axis=1).to_numpy(np.float32)
    return consume(keras_windows(grid, w))


TFIO_SCRIPT = r"""
import json, sys, time
import numpy as np
import tensorflow_io as tfio
endpoint, query, length, offset_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
a = time.perf_counter()
ds = tfio.experimental.IODataset.from_prometheus(query, length, offset=offset_ms,
                                                 endpoint=endpoint)
n = 0
vals = 0
for t, v in ds:
    n += 1
    for job in v.values():
        for inst in job.values():
            for m in inst.values():
                vals += 1
print(json.dumps({"elements": n, "values": vals, "seconds": time.perf_counter() - a}))
"""


OTHER_READER_SCRIPT = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
import numpy as np
import tensorflow as tf
import promfeed
import promfeed.tf as ptf
from e2e import BATCH, METRIC, consume
target, t0, t1, w, n_str, rep = sys.argv[3], *map(int, sys.argv[4:9])
def windows():
    ds = ptf.windows(target, METRIC, window=w, horizon=1, step="1s", fill="nan", start=t0, end=t1)
    return consume(ds.batch(BATCH))
def rows():
    c = promfeed.Client(target)
    f = len(c.series(METRIC))
    def gen():
        for _ in range(n_str):
            for b in c.windows(METRIC, window=1, step="1s", start=t0, end=t1):
                yield b.x[:, 0, :]
    ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec((None, f), tf.float32))
    n = sum(int(r.shape[0]) * f for r in ds)
    c.close()
    return n
out = {}
for name, fn in (("windows", windows), ("rows", rows)):
    best = None
    for _ in range(rep):
        a = time.perf_counter()
        res = fn()
        t = time.perf_counter() - a
        if best is None or t < best[0]:
            best = (t, res)
    out[name] = best
print(json.dumps({"promfeed": promfeed.__file__, **out}))
"""


def run_other_reader(
    src: str, target: str, t0_ms: int, t1_ms: int, w: int, n_str: int, repeat: int
) -> dict[str, Any]:
    """(a) and the rows-into-tf.data measurement with another version of the reader (its
    `src` directory holding the `promfeed` package, e.g. the one before a change), in a
    subprocess of this venv, in the same run. Uses only the API that version had:
    promfeed.tf.windows(...).batch(256) and iterating Client.windows."""
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            OTHER_READER_SCRIPT,
            src,
            str(Path(__file__).resolve().parent),
            target,
            *map(str, (t0_ms, t1_ms, w, n_str, repeat)),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        return {"error": " | ".join(lines[-3:]) or f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_tfio(venv: Path, prom: str, n_series: int, length_s: int, end_ms: int) -> dict[str, Any]:
    py = venv / "bin" / "python"
    if not py.exists():
        return {"error": f"{py} missing (bench/run_e2e.sh creates it)"}
    sel = "|".join(f"host-{i:04d}" for i in range(n_series))
    query = f'{METRIC}{{instance=~"{sel}"}}'
    p = subprocess.run(
        [str(py), "-c", TFIO_SCRIPT, prom, query, str(length_s), str(end_ms)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        return {"error": " | ".join(lines[-3:]) or f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- bare gRPC transport of the same bytes ---------------------------------------------------
METHOD = "/promfeed.v1.MetricFeed/StreamWindows"


def stream_request(t0_ms: int, t1_ms: int, window: int) -> bytes:
    """The serialized StreamWindows request for METRIC's float32 grid at 1 s over [t0, t1]."""
    from promfeed.v1 import metric_feed_pb2 as pb

    return pb.StreamWindowsRequest(
        features=[METRIC],
        step_ms=1000,
        window=window,
        start_ms=t0_ms,
        end_ms=t1_ms,
        dtype=pb.FLOAT32,
    ).SerializeToString()


def capture_stream(target: str, t0_ms: int, t1_ms: int, window: int) -> list[bytes]:
    import grpc

    req = stream_request(t0_ms, t1_ms, window)
    opts = [("grpc.max_receive_message_length", 256 << 20)]
    with grpc.insecure_channel(target, options=opts) as ch:
        call = ch.unary_stream(
            METHOD,
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        return list(call(req))


def capture_series(target: str) -> bytes:
    """The daemon's ListSeries answer for METRIC (what the reader asks before a stream)."""
    import grpc

    from promfeed.v1 import metric_feed_pb2 as pb

    with grpc.insecure_channel(target) as ch:
        call = ch.unary_unary(
            "/promfeed.v1.MetricFeed/ListSeries",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=lambda b: b,
        )
        return call(pb.ListSeriesRequest(selectors=[METRIC]))


def _replay_server(msgs: list[bytes], series: bytes, port_q: Any) -> None:
    """A bare gRPC server: StreamWindows answers `msgs`, ListSeries `series`, whatever the
    request (so the reader's rows() runs against it unchanged)."""
    import grpc

    def handler(_req: bytes, _ctx: Any) -> Any:
        yield from msgs

    rpc = grpc.unary_stream_rpc_method_handler(
        handler, request_deserializer=lambda b: b, response_serializer=lambda b: b
    )
    list_rpc = grpc.unary_unary_rpc_method_handler(
        lambda _req, _ctx: series, request_deserializer=lambda b: b, response_serializer=lambda b: b
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_send_message_length", 256 << 20)],
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "promfeed.v1.MetricFeed", {"StreamWindows": rpc, "ListSeries": list_rpc}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port_q.put(port)
    server.wait_for_termination()


def raw_receive(target: str, req_bytes: bytes, streams: int = 1) -> tuple[int, int]:
    """Receives `streams` StreamWindows streams (one after another, one channel) as raw
    bytes; returns (messages, bytes)."""
    import grpc

    opts = [("grpc.max_receive_message_length", 256 << 20)]
    with grpc.insecure_channel(target, options=opts) as ch:
        call = ch.unary_stream(
            METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        n = nb = 0
        for _ in range(streams):
            for m in call(req_bytes):
                n += 1
                nb += len(m)
        return n, nb


def native_receive(target: str, req_bytes: bytes, streams: int = 1) -> tuple[int, int]:
    """raw_receive with a C++ gRPC client (the reader's transport, _promfeed_native): each
    stream received by a C++ thread and dropped there, no Python per message. The stricter
    bare-stream baseline: what gRPC itself delivers over loopback."""
    import _promfeed_native

    ch = _promfeed_native.Channel(target, b"", b"", b"", False, 256 << 20)
    n = nb = 0
    for _ in range(streams):
        s = ch.stream(METHOD, req_bytes, [], False, 4)
        m, b = s.drain()
        code, details = s.status()
        assert code == 0, (code, details)
        n += m
        nb += b
    return n, nb


def _stream_worker(target: str, req_bytes: bytes, threads: int, out_q: Any) -> None:
    with futures.ThreadPoolExecutor(threads) as ex:
        res = list(ex.map(lambda _: raw_receive(target, req_bytes), range(threads)))
    out_q.put(sum(nb for _, nb in res))


def concurrent_streams(target: str, req_bytes: bytes, procs_n: int, threads: int) -> float:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ps = [
        ctx.Process(target=_stream_worker, args=(target, req_bytes, threads, q))
        for _ in range(procs_n)
    ]
    a = time.perf_counter()
    for p in ps:
        p.start()
    total = sum(q.get(timeout=900) for _ in ps)
    wall = time.perf_counter() - a
    for p in ps:
        p.join()
    return wall if total > 0 else math.nan


# ---- driver ----------------------------------------------------------------------------------
def best_of(n: int, fn: Any) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(n):
        a = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - a)
    return min(times), out


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(wd) for c, wd in zip(r, widths, strict=False)) + " |"

    sep = "|" + "|".join("-" * (wd + 2) for wd in widths) + "|"
    return "\n".join([line(header), sep, *[line(r) for r in rows]])


def methods_a_to_d(
    args: Any,
    daemon: Any,
    prom: Any,
    t0_ms: int,
    t1_ms: int,
    rows: list[list[str]],
    results: dict[str, Any],
    timing: dict[str, float],
) -> float:
    """Methods a to d into `rows`, `results` and `timing`; returns (a)'s seconds."""
    n_f, w = args.series, args.window
    n_t = args.minutes * 60
    samples = n_t * n_f
    windows_want = n_t - w
    # a. promfeed
    ta, (na, ca) = best_of(args.repeat, lambda: run_promfeed(daemon.target, t0_ms, t1_ms, w))
    ta2, (na2, ca2) = best_of(
        args.repeat, lambda: run_promfeed(daemon.target, t0_ms, t1_ms, w, batched=False)
    )
    # The [T, F] grid as numpy only (no windows, no TensorFlow).
    tga, _grid = best_of(args.repeat, lambda: promfeed_grid(daemon.target, t0_ms, t1_ms))
    results["grid_s"] = tga
    # b. plain
    tb, (nb, cb) = best_of(args.repeat, lambda: run_plain(prom.url, t0_ms, t1_ms, w, timing))
    # c. prometheus-api-client + pandas
    try:
        tc, (nc, cc) = best_of(1, lambda: run_pac(prom.url, t0_ms, t1_ms, w))
    except Exception as e:  # report, do not hide
        tc, nc, cc = math.nan, 0, math.nan
        results["pac_error"] = repr(e)
    for name, t, n, c in (
        ("a. promfeed reader (batch_size=256)", ta, na, ca),
        ("a2. promfeed reader, unbatched + .batch(256)", ta2, na2, ca2),
        ("b. plain Python (urllib+json+numpy)", tb, nb, cb),
        ("c. prometheus-api-client + pandas", tc, nc, cc),
    ):
        ok = n == windows_want and (math.isclose(c, ca, rel_tol=1e-6) if n else False)
        rows.append(
            [
                name,
                f"{t:.3f}",
                f"{samples / t / 1e6:.2f}" if t == t else "n/a",
                f"{tb / t:.1f}x" if t == t else "n/a",
                f"{n}",
                "yes" if ok else "NO",
            ]
        )
    results.update(
        promfeed_s=ta,
        promfeed_checksum=ca,
        promfeed_unbatched_s=ta2,
        plain_s=tb,
        pac_s=tc,
        plain_timing=timing,
    )

    # d. TensorFlow I/O on a slice, and promfeed on the same slice.
    fs, ls = args.tfio_series, args.tfio_seconds
    tfio = run_tfio(Path(args.tfio_venv), prom.url, fs, ls, t1_ms)
    results["tfio"] = tfio
    slice_sel = f'{METRIC}{{instance=~"{"|".join(f"host-{i:04d}" for i in range(fs))}"}}'

    def promfeed_slice() -> int:
        import promfeed

        with promfeed.Client(daemon.target) as c:
            b = c.windows(
                slice_sel,
                window=1,
                step="1s",
                start=t1_ms - (ls - 1) * 1000,
                end=t1_ms,
                dtype=np.float64,
            ).read_all()
        return int(b.x.size)

    tsl, nsl = best_of(args.repeat, promfeed_slice)
    if "error" in tfio:
        tfio_row = [
            "d. TensorFlow I/O from_prometheus",
            "error",
            "n/a",
            "n/a",
            "0",
            tfio["error"][:200],
        ]
    else:
        rate = tfio["values"] / tfio["seconds"]
        tfio_row = [
            "d. TensorFlow I/O from_prometheus",
            f"{tfio['seconds']:.3f}",
            f"{rate / 1e6:.4f}",
            f"promfeed is {samples / ta / rate:.0f}x",
            str(tfio["values"]),
            f"{fs} series x {ls} s",
        ]
    rows.append(tfio_row)
    rows.append(
        [
            "a'. promfeed on the tfio slice (Client.windows)",
            f"{tsl:.4f}",
            f"{nsl / tsl / 1e6:.3f}",
            "",
            str(nsl),
            f"{fs} series x {ls} s",
        ]
    )

    return ta


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=30)
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tfio-series", type=int, default=10)
    ap.add_argument("--tfio-seconds", type=int, default=60)
    ap.add_argument("--tfio-venv", default=str(REPO / "build" / "venv-tfio"))
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument(
        "--transport-streams",
        type=int,
        default=20,
        help="streams read one after another per transport-limit measurement",
    )
    ap.add_argument(
        "--before-reader",
        default="",
        help="a directory holding another promfeed package (e.g. `git archive` of an earlier "
        "client/python/src): its (a) and rows-into-tf.data figures are measured in the same run",
    )
    ap.add_argument(
        "--before-daemon",
        default="",
        help="another promfeed daemon binary (e.g. a copy built from an earlier commit): a "
        "second daemon on the same data; its raw stream and the reader's rows into tf.data "
        "from it are measured in the same run, interleaved with this daemon's",
    )
    ap.add_argument(
        "--transport-only",
        action="store_true",
        help="only the transport-limit table (skips methods a to d and the concurrent streams)",
    )
    ap.add_argument("--workdir", default="")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    wd = Path(args.workdir or tempfile.mkdtemp(prefix="promfeed-e2e-"))
    wd.mkdir(parents=True, exist_ok=True)
    n_f, w = args.series, args.window
    n_t = args.minutes * 60
    # The grid ends 10 min ago so that it lies in the TSDB blocks, not in Prometheus's head.
    t1_s = int(time.time()) // 60 * 60 - 600
    t0_s = t1_s - n_t + 1
    t0_ms, t1_ms = t0_s * 1000, t1_s * 1000
    om = wd / "data.om"
    log = lambda *a: print("e2e:", *a, file=sys.stderr, flush=True)  # noqa: E731

    a = time.perf_counter()
    n_samples = write_openmetrics(om, n_f, t0_s - 120, t1_s)
    log(
        f"wrote {n_samples} samples ({om.stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - a:.1f} s"
    )
    data_dir = wd / "prom" / "prometheus-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    a = time.perf_counter()
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(data_dir)],
        check=True,
        capture_output=True,
    )
    log(f"promtool blocks in {time.perf_counter() - a:.1f} s")
    om.unlink()

    prom = procs.start_prometheus(
        wd / "prom",
        scrape_interval="1s",
        extra_args=["--storage.tsdb.retention.time=3650d", "--query.max-samples=200000000"],
    )
    results: dict[str, Any] = {}
    rows: list[list[str]] = []
    daemon = daemon_sampled = daemon_before = None
    try:
        hist_m = args.minutes + 25
        cfg = {
            "global": {"poll_interval": "1s", "backfill": f"{hist_m}m"},
            "upstream": {"url": prom.url, "timeout": "120s"},
            "inputs": [
                {"selector": METRIC},
                {"selector": '{job="prometheus",__name__=~"up|process_.*|go_goroutines"}'},
            ],
            "storage": {"retention": f"{hist_m}m", "max_series": 100000},
            "log": {"level": "info", "format": "logfmt"},
        }
        a = time.perf_counter()
        daemon = procs.start_daemon(cfg, wd / "daemon", timeout=600)
        backfill_s = time.perf_counter() - a
        log(f"daemon ready (backfill incl. start) in {backfill_s:.1f} s")
        results["backfill_s"] = backfill_s
        # The same daemon without its stream cache: every stream sampled from the rings, as
        # the first read of a range is (the kept-stream daemon writes later reads from memory).
        daemon_sampled = procs.start_daemon(
            {**cfg, "server": {"stream_cache_bytes": 0}}, wd / "daemon-sampled", timeout=600
        )

        samples = n_t * n_f
        windows_want = n_t - w
        if args.before_daemon:
            a = time.perf_counter()
            daemon_before = procs.start_daemon(
                cfg, wd / "daemon-before", timeout=600, binary=args.before_daemon
            )
            log(f"daemon before ready in {time.perf_counter() - a:.1f} s")
        timing: dict[str, float] = {}
        if args.transport_only:
            ta = math.nan
        else:
            # First reads, as a single training epoch makes them.
            ta = methods_a_to_d(args, daemon_sampled, prom, t0_ms, t1_ms, rows, results, timing)

        # Transport limit: the reader's rows stream (window 1) replayed by a bare gRPC server,
        # N streams one after another per measurement (a single stream is ~20 ms: too noisy).
        n_str = args.transport_streams
        msgs = capture_stream(daemon.target, t0_ms, t1_ms, 1)
        sizes = sorted(len(m) for m in msgs)
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        series = capture_series(daemon.target)
        server = ctx.Process(target=_replay_server, args=(msgs, series, q), daemon=True)
        server.start()
        port = q.get(timeout=60)
        rows_req = stream_request(t0_ms, t1_ms, 1)

        def once(fn: Any, pid: int | None) -> tuple[float, float, float, Any]:
            """Wall seconds, and this process's / pid's CPU seconds, of one call of fn."""
            c0, p0 = time.process_time(), proc_cpu_s(pid) if pid else 0.0
            a = time.perf_counter()
            out = fn()
            wall = time.perf_counter() - a
            c1, p1 = time.process_time(), proc_cpu_s(pid) if pid else 0.0
            return wall, c1 - c0, p1 - p0, out

        # Every stream below, measured in turn, --repeat rounds, best of each: a noisy spell
        # on this shared machine then hits all of them alike, not one.
        bare_target = f"127.0.0.1:{port}"
        ds_ = daemon_sampled
        a = time.perf_counter()
        ds_rows = promfeed_rows_dataset(daemon.target, t0_ms, t1_ms, n_str)
        rows_build_s = time.perf_counter() - a
        ds_rows_sampled = promfeed_rows_dataset(ds_.target, t0_ms, t1_ms, n_str)
        ds_bare = promfeed_rows_dataset(bare_target, t0_ms, t1_ms, n_str)
        with grpcio_transport():  # the reader's fallback transport, for comparison
            ds_bare_g = promfeed_rows_dataset(bare_target, t0_ms, t1_ms, n_str)

        def rows_numpy_grpcio() -> int:
            with grpcio_transport():
                return promfeed_rows_numpy(bare_target, t0_ms, t1_ms, n_str)

        runs: dict[str, tuple[Any, int]] = {
            "bare": (lambda: raw_receive(bare_target, rows_req, n_str), server.pid),
            "bare_cc": (lambda: native_receive(bare_target, rows_req, n_str), server.pid),
            "raw": (lambda: raw_receive(daemon.target, rows_req, n_str), daemon.pid),
            "raw_sampled": (lambda: raw_receive(ds_.target, rows_req, n_str), ds_.pid),
            # The reader's own cost: the same rows stream from the bare replay.
            "rows_bare_np": (
                lambda: promfeed_rows_numpy(bare_target, t0_ms, t1_ms, n_str),
                server.pid,
            ),
            "rows_bare": (lambda: count_rows(ds_bare), server.pid),
            "rows_bare_np_g": (rows_numpy_grpcio, server.pid),
            "rows_bare_g": (lambda: count_rows(ds_bare_g), server.pid),
            "rows_m": (lambda: count_rows(ds_rows), daemon.pid),
            "rows_sampled": (lambda: count_rows(ds_rows_sampled), ds_.pid),
        }
        if daemon_before is not None:
            db = daemon_before
            ds_b = promfeed_rows_dataset(db.target, t0_ms, t1_ms, n_str)
            runs["raw_b"] = (lambda: raw_receive(db.target, rows_req, n_str), db.pid)
            runs["rows_b"] = (lambda: count_rows(ds_b), db.pid)
        best = {k: (math.inf, 0.0, 0.0, None) for k in runs}
        for _ in range(args.repeat):
            for k, (fn, pid) in runs.items():
                m = once(fn, pid)
                if m[0] < best[k][0]:
                    best[k] = m
        server.kill()
        bare, bare_cc = best["bare"], best["bare_cc"]
        raw, raw_sampled = best["raw"], best["raw_sampled"]
        rows_bare_np, rows_bare = best["rows_bare_np"], best["rows_bare"]
        rows_bare_np_g, rows_bare_g = best["rows_bare_np_g"], best["rows_bare_g"]
        rows_m, rows_sampled = best["rows_m"], best["rows_sampled"]
        assert bare_cc[3] == bare[3], (bare_cc[3], bare[3])
        assert rows_bare_g[3] == rows_bare[3] == rows_bare_np[3], (rows_bare_g[3], rows_bare[3])
        assert rows_sampled[3] == samples * n_str, (rows_sampled[3], samples * n_str)
        if daemon_before is not None:
            raw_b, rows_b = best["raw_b"], best["rows_b"]
            assert rows_b[3] == samples * n_str, (rows_b[3], samples * n_str)
        before: dict[str, Any] = {}
        if args.before_reader:
            before = run_other_reader(
                args.before_reader, daemon.target, t0_ms, t1_ms, w, n_str, args.repeat
            )
            results["before_reader"] = before
            if daemon_before is not None:
                # Reader and daemon both before: the baseline of the whole path.
                before_both = run_other_reader(
                    args.before_reader, db.target, t0_ms, t1_ms, w, n_str, args.repeat
                )
                results["before_reader_before_daemon"] = before_both
        tbare, traw, trows = bare[0], raw[0], rows_m[0]
        nbytes = bare[3][1] // n_str
        nmsgs = bare[3][0] // n_str
        assert rows_m[3] == samples * n_str, (rows_m[3], samples * n_str)
        results.update(
            transport_streams=n_str,
            bare_s=tbare,
            bare_cc_s=bare_cc[0],
            bare_bytes=nbytes,
            daemon_raw_s=traw,
            daemon_raw_sampled_s=raw_sampled[0],
            rows_tf_s=trows,
            rows_tf_sampled_s=rows_sampled[0],
            rows_build_s=rows_build_s,
            message_sizes=sizes,
            rows_bare_numpy_s=rows_bare_np[0],
            rows_bare_tf_s=rows_bare[0],
            rows_bare_numpy_grpcio_s=rows_bare_np_g[0],
            rows_bare_tf_grpcio_s=rows_bare_g[0],
            cpu={
                "bare": bare[1:3],
                "bare_cc": bare_cc[1:3],
                "daemon_raw": raw[1:3],
                "daemon_raw_sampled": raw_sampled[1:3],
                "rows_tf": rows_m[1:3],
                "rows_tf_sampled": rows_sampled[1:3],
            },
        )
        tot = samples * n_str

        def trow(name: str, m: tuple) -> list[str]:
            return [
                name,
                f"{m[0]:.3f}",
                f"{tot / m[0] / 1e6:.2f}",
                f"{nbytes * n_str / m[0] / 1e6:.0f}",
                f"{nmsgs * n_str / m[0]:.0f}",
                f"{m[1]:.2f}" if m[1] == m[1] else "",
                f"{m[2]:.2f}" if m[2] else "",
                f"{tbare / m[0]:.2f}",
                f"{bare_cc[0] / m[0]:.2f}",
            ]

        named = [
            ("bare gRPC replay of the same bytes (raw receive, grpcio)", bare),
            ("  the same, received by a C++ gRPC client", bare_cc),
            ("daemon StreamWindows, raw receive (no decode), kept stream", raw),
            ("  the same, stream cache off (every stream sampled)", raw_sampled),
        ]
        if daemon_before is not None:
            named.append(("  daemon before, raw receive", raw_b))
        named += [
            ("promfeed reader: rows() into tf.data, kept stream", rows_m),
            ("  the same, stream cache off (every stream sampled)", rows_sampled),
            ("  reader on the bare replay: rows as numpy", rows_bare_np),
            ("  reader on the bare replay: rows() into tf.data", rows_bare),
            ("  reader on the bare replay, grpcio transport: rows as numpy", rows_bare_np_g),
            ("  reader on the bare replay, grpcio transport: rows() into tf.data", rows_bare_g),
        ]
        if daemon_before is not None:
            named.append(("  same, daemon before (--before-daemon)", rows_b))
            results["cpu"].update(daemon_before_raw=raw_b[1:3], rows_tf_daemon_before=rows_b[1:3])
        for label, key in (
            ("  same, reader before (--before-reader)", "before_reader"),
            ("  reader before on daemon before (both before)", "before_reader_before_daemon"),
        ):
            other = results.get(key, {})
            if other and "error" not in other:
                named.append((label, (other["rows"][0], math.nan, 0.0)))
        transport = [trow(name, m) for name, m in named]
        transport_note = (
            f"{n_str} streams of {samples:,} samples one after another per measurement; every "
            f"row measured in turn, {args.repeat} rounds, best of each; per stream {nmsgs} "
            f"messages, {nbytes / 1e6:.1f} MB (message sizes "
            f"{sizes[0]:,} to {sizes[-1]:,} B, median {sizes[len(sizes) // 2]:,} B). "
            f"rows(): the dataset is built once ({rows_build_s * 1e3:.0f} ms: ListSeries and "
            "tf.data set-up) and iterated per measurement, as a training run's epochs do. "
            "Kept stream: the daemon samples the first stream and writes the others from its "
            "stream cache, as for each epoch after the first; stream cache off: a second daemon "
            "over the same data with server.stream_cache_bytes 0 samples every stream from its "
            "rings, as for a first read (methods a-d use that daemon)."
        )
        if not args.transport_only:
            transport_note += (
                f" W=60 windows into tf.data (a): {samples / ta / 1e6:.2f} M samples/s, "
                f"{(samples / ta) / (samples / tbare * n_str):.2f} of bare."
            )

        conc: list[list[str]] = []
        nproc = 4
        if not args.transport_only:
            # 64 concurrent streams (raw receive).
            sreq = stream_request(t0_ms, t1_ms, w + 1)
            tcon = concurrent_streams(ds_.target, sreq, nproc, args.streams // nproc)
            results.update(concurrent_s=tcon)
            conc = [
                [
                    str(args.streams),
                    f"{tcon:.2f}",
                    f"{args.streams * samples / tcon / 1e6:.1f}",
                    f"{args.streams * nbytes / tcon / 1e6:.0f}",
                ]
            ]
    finally:
        if daemon is not None:
            daemon.stop()
        if daemon_sampled is not None:
            daemon_sampled.stop()
        if daemon_before is not None:
            daemon_before.stop()
        prom.stop()

    if not args.transport_only:
        print(
            f"\nEnd to end: {n_f} series x {n_t} s at 1 s = {samples:,} samples; W={w}, "
            f"shift 1, {windows_want} windows of (x [{w}, {n_f}], y [1, {n_f}]) float32 into "
            f"tf.data; best of {args.repeat} (c: 1 run)\n"
        )
        print(
            table(
                rows,
                ["method", "seconds", "Msamples/s", "vs plain", "windows / values", "same data"],
            )
        )
        print(
            f"\nplain Python breakdown: HTTP {timing['http_s']:.2f} s for "
            f"{timing['mb']:.0f} MB JSON, json+numpy {timing['parse_s']:.2f} s, "
            f"tf.data {timing['tf_s']:.2f} s"
        )
        print(
            f"promfeed daemon start to ready (backfill of {n_f} + self series): "
            f"{results['backfill_s']:.1f} s (one-off)"
        )
        if "pac_error" in results:
            print("prometheus-api-client error:", results["pac_error"])
        print(
            f"\nThe grid as numpy [T, F] (no windows, no TensorFlow): promfeed reader "
            f"{results['grid_s']:.3f} s; plain Python HTTP + json + numpy "
            f"{timing['http_s'] + timing['parse_s']:.2f} s "
            f"({(timing['http_s'] + timing['parse_s']) / results['grid_s']:.0f}x)"
        )
    print("\nTransport limit (same run, same bytes):\n")
    print(
        table(
            transport,
            [
                "stream",
                "seconds",
                "Msamples/s",
                "MB/s",
                "messages/s",
                "client CPU s",
                "server CPU s",
                "of bare (grpcio)",
                "of bare (C++)",
            ],
        )
    )
    print("\n" + transport_note)
    before = results.get("before_reader")
    if before:
        if "error" in before:
            print(f"\nreader before ({args.before_reader}): error {before['error']}")
        else:
            tw, (nw, cw) = before["windows"]
            ca = results.get("promfeed_checksum", math.nan)
            tb = results.get("plain_s", math.nan)
            same = nw == windows_want and math.isclose(cw, ca, rel_tol=1e-6)
            print(
                f"\nreader before ({before['promfeed']}), same run: (a) "
                f"windows(...).batch(256) {tw:.3f} s ({tb / tw:.1f}x plain, same data: "
                f"{'yes' if same else 'NO'}); rows into tf.data {before['rows'][0]:.3f} s for "
                f"{n_str} streams ({results['bare_s'] / before['rows'][0]:.2f} of bare)"
            )
    if conc:
        print(
            f"\nConcurrent StreamWindows streams (each the full {samples:,} samples, raw receive, "
            f"{nproc} processes, stream cache off: every stream sampled):\n"
        )
        print(table(conc, ["streams", "seconds", "aggregate Msamples/s", "aggregate MB/s"]))
    (wd / "results.json").write_text(json.dumps(results, indent=1, default=str))
    if not args.keep:
        shutil.rmtree(wd, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
