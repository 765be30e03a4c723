"""The reader against the real promfeed daemon, a real Prometheus (1 s scrape) and
node-exporter, all started by tests/harness on 127.0.0.1 with ports picked at run time.
Skipped when the daemon binary is missing (PROMFEED_REQUIRE_DAEMON=1 makes that a failure)."""

from __future__ import annotations

import gc
import math
import time

import grpc
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import promfeed
from promfeed import errors
from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc
from tests.harness import procs, promql

pytestmark = pytest.mark.integration

GAUGE = "go_memstats_gc_sys_bytes"
STEP = 1000


def wait_history(c: promfeed.Client, selector: str, seconds: int, timeout: float = 90) -> int:
    """Waits until the daemon holds `seconds` of complete rows for `selector`; returns the last
    complete grid time (ms, a multiple of STEP)."""

    def ok():
        st = c.status()
        s = c.series(selector)
        if not s or not st.ready:
            return None
        oldest = max(x.oldest_time_ms for x in s)
        end = (st.complete_through_ms // STEP) * STEP
        return end if end - oldest >= seconds * 1000 else None

    return procs.wait_until(ok, timeout, f"{seconds} s of history for {selector}", interval=0.5)


def wait_streams(c: promfeed.Client, want, timeout: float = 10.0) -> int:
    return procs.wait_until(
        lambda: (c.status().active_streams == want) or None,
        timeout,
        f"active_streams == {want} (now {c.status().active_streams})",
        interval=0.05,
    )


@pytest.fixture(scope="module")
def client(daemon):
    with promfeed.Client(daemon.target) as c:
        yield c


def test_read_range_equals_prometheus_samples_on_the_same_grid(client, prom_stack):
    end = wait_history(client, GAUGE, 20)
    start = end - 15 * STEP
    got = client.read_range(GAUGE, start=start, end=end, step=STEP)
    assert got.time_ms.tolist() == list(range(start, end + 1, STEP))
    assert {s.job for s in got.series} == {"prometheus", "node"}
    raw = promql.raw_samples(prom_stack.prometheus.url, GAUGE, end, 20)
    grid = got.time_ms.tolist()
    for j, s in enumerate(got.series):
        times, values = raw[s.key()]
        want = promql.grid_from_raw(times, values, grid, 2 * STEP)
        have = got.values[:, j].tolist()
        assert [math.isnan(v) for v in have] == [math.isnan(v) for v in want], (s, have, want)
        assert [v for v in have if not math.isnan(v)] == [v for v in want if not math.isnan(v)]
        assert got.mask[:, j].tolist() == [not math.isnan(v) for v in want]
        assert sum(not math.isnan(v) for v in want) >= len(grid) - 2


def test_expr_input_equals_prometheus_query_range(client, prom_stack):
    end = wait_history(client, "http_rate", 20)
    start = end - 15 * STEP
    got = client.read_range("http_rate", start=start, end=end, step=STEP)
    ref = promql.query_range(
        prom_stack.prometheus.url,
        "sum by (job) (rate(prometheus_http_requests_total[1m]))",
        start,
        end,
        STEP,
    )
    compared = 0
    for j, s in enumerate(got.series):
        assert s.name == "http_rate"
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "__name__"))
        want = ref[key]
        for t, v in zip(got.time_ms.tolist(), got.values[:, j].tolist(), strict=True):
            if not math.isnan(v) and t in want:
                assert v == want[t], (s, t, v, want[t])
                compared += 1
    assert compared >= 10


def test_windows_are_the_read_range_grid_in_sliding_windows(client):
    end = wait_history(client, GAUGE, 20)
    start = end - 15 * STEP
    grid = client.read_range(GAUGE, start=start, end=end, step=STEP)
    stream = client.windows(
        GAUGE,
        window=5,
        shift=2,
        step=STEP,
        start=start,
        end=end,
        dtype=np.float64,
        max_rows_per_message=3,
    )
    assert [s.key() for s in stream.features] == [s.key() for s in grid.series]
    assert stream.header.start_time_ms == start
    got = stream.read_all()
    ref = sliding_window_view(grid.values, 5, axis=0)[::2].swapaxes(1, 2)
    np.testing.assert_array_equal(got.x, ref)
    np.testing.assert_array_equal(got.time_ms[:, 0], grid.time_ms[::2][: len(ref)])
    assert stream.lost_windows_total == 0


def test_tf_rows_equal_the_rows_of_windows_of_one_row(client):
    tf = pytest.importorskip("tensorflow")
    import promfeed.tf

    end = wait_history(client, GAUGE, 20)
    kw = dict(step=STEP, start=end - 15 * STEP, end=end, max_rows_per_message=4)
    ref = client.windows(GAUGE, window=1, dtype=np.float64, **kw).read_all()
    ds, info = promfeed.tf.rows(
        client.target, GAUGE, dtype=tf.float64, with_mask=True, return_info=True, **kw
    )
    assert [s.key() for s in info.features] == [s.key() for s in client.series(GAUGE)]
    blocks = [tuple(a.numpy() for a in e) for e in ds]
    assert len(blocks) == 1  # 4 messages of 4 rows, coalesced into one block
    t, v, m = blocks[0]
    assert t.tolist() == list(range(end - 15 * STEP, end + 1, STEP))
    np.testing.assert_array_equal(t, ref.time_ms[:, 0])
    np.testing.assert_array_equal(v, ref.x[:, 0, :])
    ref_m = np.ones(ref.x.shape, np.bool_) if ref.mask is None else ref.mask
    np.testing.assert_array_equal(m, ref_m[:, 0, :])


def test_tfio_drop_in_gives_the_tutorial_structure_and_dtypes(client, prom_stack):
    tf = pytest.importorskip("tensorflow")
    from promfeed import tfio

    end = wait_history(client, GAUGE, 10)
    ds = tfio.experimental.IODataset.from_prometheus(
        GAUGE, 5, offset=end + STEP, endpoint=client.target
    )
    t_spec, v_spec = ds.element_spec
    assert t_spec == tf.TensorSpec([], tf.int64)
    assert set(v_spec) == {"prometheus", "node"}
    prom_inst = prom_stack.prometheus.address
    node_inst = prom_stack.node_exporter.address
    assert v_spec["prometheus"][prom_inst][GAUGE].dtype == tf.float64
    assert v_spec["node"][node_inst][GAUGE].shape == ()
    items = list(ds)
    assert [int(t) for t, _ in items] == list(range(end - 4 * STEP, end + 1, STEP))
    ref = client.read_range(f'{GAUGE}{{job="node"}}', start=end - 4 * STEP, end=end, step=STEP)
    got = [float(v["node"][node_inst][GAUGE]) for _, v in items]
    np.testing.assert_array_equal(got, ref.values[:, 0])


def test_tfio_series_that_differ_only_in_other_labels_do_not_collide(client, prom_stack):
    pytest.importorskip("tensorflow")
    from promfeed import tfio

    sel = "prometheus_http_requests_total"
    end = wait_history(client, sel, 5)
    with pytest.raises(errors.SeriesCollisionError, match="handler"):
        tfio.from_prometheus(sel, 3, offset=end + STEP, endpoint=client.target)
    ds = tfio.from_prometheus(
        sel, 3, offset=end + STEP, endpoint=client.target, on_collision="labels"
    )
    metrics = ds.element_spec[1]["prometheus"][prom_stack.prometheus.address]
    assert len(metrics) == len(client.series(sel)) >= 2
    assert all(k.startswith(sel + "{") and "handler=" in k for k in metrics)
    assert len(list(ds)) == 3


def test_model_fit_runs_on_promfeed_tf_windows(client):
    tf = pytest.importorskip("tensorflow")
    import promfeed.tf

    end = wait_history(client, GAUGE, 20)
    ds = promfeed.tf.windows(
        client.target,
        [GAUGE],
        window=4,
        shift=1,
        step="1s",
        horizon=1,
        start=end - 15 * STEP,
        end=end,
    )
    assert ds.element_spec[0].shape == (4, 2) and ds.element_spec[1].shape == (1, 2)
    ds = ds.map(lambda x, y: (x / 1e7, tf.reshape(y, [2]) / 1e7)).shuffle(32).batch(4).prefetch(2)
    model = tf.keras.Sequential(
        [tf.keras.Input((4, 2)), tf.keras.layers.LSTM(4), tf.keras.layers.Dense(2)]
    )
    model.compile(optimizer="adam", loss="mae")
    hist = model.fit(ds, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["loss"]).all()


def test_follow_yields_new_windows_as_time_passes(client):
    end = wait_history(client, GAUGE, 10)
    # Rows 3 s past now need samples not yet scraped: a row is never sent before the scrape
    # that gives its value (regular 1 s scrapes: not before its time less one second).
    edge = int(time.time() * 1000)
    newest = 0
    t0 = time.monotonic()
    with client.windows(
        GAUGE, window=2, start=end - 5 * STEP, follow=True, stream_timeout=-1, fill="previous"
    ) as s:
        for b in s:
            if len(b):
                newest = max(newest, int(b.time_ms[:, -1].max()))
            if newest >= edge + 3 * STEP or time.monotonic() - t0 > 20:
                break
    assert newest >= edge + 3 * STEP, f"no window 3 s past {edge} within 20 s"
    assert time.monotonic() - t0 >= 1.5


def test_follow_dataset_is_endless_until_its_iterator_goes(client):
    tf = pytest.importorskip("tensorflow")
    import promfeed.tf

    end = wait_history(client, GAUGE, 10)
    ds = promfeed.tf.windows(
        client.target,
        GAUGE,
        window=2,
        horizon=1,
        start=end - 5 * STEP,
        follow=True,
        stream_timeout=-1,
        fill="previous",
    )
    it = iter(ds)
    times = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        x, _ = next(it)
        assert x.shape == (2, 2) and x.dtype == tf.float32
        times.append(time.monotonic())
        if times[-1] - t0 > 2.5:
            break
    assert times[-1] - t0 > 2.5  # still yielding seconds after the history ran out
    del it


def test_stream_timeout_zero_stops_at_the_live_edge_and_n_ms_after_idle(client):
    end = wait_history(client, GAUGE, 10)
    s = client.windows(GAUGE, window=2, start=end - 5 * STEP, follow=True, stream_timeout=0)
    got = s.read_all()  # returns by itself
    assert len(got) >= 5
    # stream_timeout=N: rows come once per second, so 300 ms of silence ends the stream.
    s = client.windows(GAUGE, window=2, start=end - 5 * STEP, follow=True, stream_timeout=300)
    t0 = time.monotonic()
    got = s.read_all()
    assert len(got) >= 5 and time.monotonic() - t0 < 10


def test_cancellation_frees_the_daemon_stream(client):
    tf = pytest.importorskip("tensorflow")
    import promfeed.tf

    wait_history(client, GAUGE, 5)
    base = client.status().active_streams
    s = client.windows(GAUGE, window=2, follow=True)
    it = iter(s)
    next(it)
    wait_streams(client, base + 1)
    s.close()
    wait_streams(client, base)

    ds = promfeed.tf.windows(client.target, GAUGE, window=2, follow=True, stream_timeout=-1)
    tit = iter(ds)
    next(tit)
    wait_streams(client, base + 1)
    del tit
    gc.collect()
    wait_streams(client, base)
    assert tf.executing_eagerly()


def test_errors_raise_the_documented_exceptions(client):
    with pytest.raises(errors.InvalidArgumentError) as ei:
        client.windows('go_memstats_gc_sys_bytes{job="', window=2)
    assert ei.value.code == grpc.StatusCode.INVALID_ARGUMENT and ei.value.details
    with pytest.raises(errors.InvalidArgumentError):
        client.series("{{{")
    with pytest.raises(errors.NotFoundError) as ei:
        client.windows("no_such_metric_anywhere", window=2)
    assert ei.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(errors.NotFoundError):
        client.read_range("no_such_metric_anywhere", start=int(time.time() * 1000) - 5000)
    # window 0 straight to the daemon (the reader itself refuses it before sending)
    with grpc.insecure_channel(client.target) as ch:
        stub = pb_grpc.MetricFeedStub(ch)
        call = stub.StreamWindows(pb.StreamWindowsRequest(features=[GAUGE], window=0))
        with pytest.raises(grpc.RpcError) as ri:
            next(iter(call))
        assert ri.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_daemon_down_raises_unreachable_naming_the_target(daemon_factory):
    d = daemon_factory()
    target = d.target
    d.stop()
    with promfeed.Client(target, timeout=5) as c:
        with pytest.raises(errors.DaemonUnreachableError) as ei:
            c.status()
        assert target in str(ei.value)
        with pytest.raises(errors.DaemonUnreachableError):
            c.windows(GAUGE, window=2)
