"""promfeed.Client against the in-process fake daemon (wire format per the proto)."""

from __future__ import annotations

import gc
import time

import grpc
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import promfeed
from promfeed import errors

from fake_daemon import FakeDaemon, FakeSeries, FakeState, grid_values

# Every test here runs on both stream transports: C++ (_promfeed_native) and grpcio.
pytestmark = pytest.mark.usefixtures("transport")

STEP = 1000
T0 = 1_700_000_000_000  # a whole second


def make_state(n: int = 120, missing_every: int = 0) -> FakeState:
    rng = np.random.default_rng(1)
    series = []
    for job, inst in (("prometheus", "127.0.0.1:9090"), ("node", "127.0.0.1:9100")):
        t = T0 + np.arange(n, dtype=np.int64) * STEP + rng.integers(-300, 300, n)
        t.sort()
        v = rng.normal(1e6, 1e4, n)
        if missing_every:
            keep = np.arange(n) % missing_every != 3
            t, v = t[keep], v[keep]
        series.append(
            FakeSeries({"__name__": "go_memstats_gc_sys_bytes", "job": job, "instance": inst}, t, v)
        )
    for handler in ("/metrics", "/api/v1/query"):
        t = T0 + np.arange(n, dtype=np.int64) * STEP
        series.append(
            FakeSeries(
                {
                    "__name__": "prometheus_http_requests_total",
                    "job": "prometheus",
                    "instance": "127.0.0.1:9090",
                    "handler": handler,
                    "code": "200",
                },
                t,
                np.cumsum(np.ones(n)),
            )
        )
    return FakeState(series=series, step_ms=STEP, now_ms=T0 + (n - 1) * STEP)


@pytest.fixture
def fake():
    with FakeDaemon(make_state()) as f:
        yield f


def test_series_lists_full_label_sets(fake):
    with promfeed.Client(fake.target) as c:
        s = c.series("go_memstats_gc_sys_bytes")
    assert [x.job for x in s] == ["prometheus", "node"]  # label-set order: instance 9090 < 9100
    assert [x.key() for x in s] == sorted(x.key() for x in s)
    assert s[0].labels["__name__"] == "go_memstats_gc_sys_bytes"
    assert s[0].samples_held == 120 and s[0].newest_time_ms > s[0].oldest_time_ms


def test_read_range_decodes_grid_across_messages(fake):
    start, end = T0 + 5 * STEP, T0 + 100 * STEP
    with promfeed.Client(fake.target) as c:
        r = c.read_range(
            "go_memstats_gc_sys_bytes", start=start, end=end, step=STEP, max_rows_per_message=7
        )
    grid = np.arange(start, end + 1, STEP)
    assert r.time_ms.dtype == np.int64 and np.array_equal(r.time_ms, grid)
    assert r.values.shape == (len(grid), 2) and r.values.dtype == np.float64
    for j, s in enumerate(r.series):
        fs = next(f for f in fake.state.series if f.key() == s.key())
        np.testing.assert_array_equal(r.values[:, j], grid_values(fs, grid, 2 * STEP))
    assert r.mask.dtype == np.bool_ and np.array_equal(r.mask, ~np.isnan(r.values))


@pytest.mark.parametrize("rows_per_msg", [1, 5, 64, 0])
def test_windows_equal_reference_for_any_message_size(fake, rows_per_msg):
    with promfeed.Client(fake.target) as c:
        stream = c.windows(
            "go_memstats_gc_sys_bytes",
            window=6,
            shift=2,
            dtype=np.float64,
            max_rows_per_message=rows_per_msg,
        )
        h = stream.header
        got = stream.read_all()
    grid = h.start_time_ms + np.arange(120) * STEP
    grid = grid[grid <= fake.state.now_ms]
    cols = [next(f for f in fake.state.series if f.key() == s.key()) for s in h.features]
    rows = np.stack([grid_values(f, grid, 2 * STEP) for f in cols], axis=1)
    ref = sliding_window_view(rows, 6, axis=0)[::2].swapaxes(1, 2)
    np.testing.assert_array_equal(got.x, ref)
    assert np.array_equal(got.index, np.arange(len(ref)))
    assert np.array_equal(got.time_ms[:, 0], grid[::2][: len(ref)])


def test_drop_fill_removes_windows_with_missing_values():
    with FakeDaemon(make_state(missing_every=10)) as f, promfeed.Client(f.target) as c:
        s = c.windows("go_memstats_gc_sys_bytes", window=3, fill="drop", max_rows_per_message=8)
        got = s.read_all()
        assert s.dropped_windows_total > 0
        assert len(got.dropped) == s.dropped_windows_total
        assert not np.isnan(got.x).any()
        assert set(got.index.tolist()).isdisjoint(got.dropped.tolist())
        every = sorted(got.index.tolist() + got.dropped.tolist())
        assert every == list(range(len(every)))


def test_nan_fill_gives_mask(fake):
    with FakeDaemon(make_state(missing_every=10)) as f, promfeed.Client(f.target) as c:
        got = c.windows("go_memstats_gc_sys_bytes", window=3).read_all()
    assert got.mask is not None
    np.testing.assert_array_equal(~got.mask, np.isnan(got.x))


def test_lost_windows_are_reported_and_rows_before_the_jump_discarded():
    st = make_state()
    st.loss_after_rows, st.loss_rows = 20, 15
    with FakeDaemon(st) as f, promfeed.Client(f.target) as c:
        s = c.windows(
            "go_memstats_gc_sys_bytes", window=4, max_rows_per_message=6, dtype=np.float64
        )
        got = s.read_all()
    assert got.lost > 0 and s.lost_windows_total == got.lost
    # every window is 4 consecutive grid rows (no window straddles the jump)
    assert (np.diff(got.time_ms, axis=1) == STEP).all()
    assert got.index.max() + 1 == len(got) + got.lost


def test_follow_yields_new_windows_then_stream_timeout_stops():
    st = make_state(n=30)
    st.follow_rows, st.follow_period = 5, 0.05
    with FakeDaemon(st) as f, promfeed.Client(f.target) as c:
        s = c.windows("go_memstats_gc_sys_bytes", window=2, follow=True, stream_timeout=400)
        t0 = time.monotonic()
        got = s.read_all()
        elapsed = time.monotonic() - t0
        assert len(got) == 29 + 5
        assert 0.4 <= elapsed < 5
        wait_streams(c, 0)


def test_follow_with_stream_timeout_zero_stops_at_live_edge():
    st = make_state(n=30)
    st.follow_rows = 1000
    with FakeDaemon(st) as f, promfeed.Client(f.target) as c:
        got = c.windows(
            "go_memstats_gc_sys_bytes", window=2, follow=True, stream_timeout=0
        ).read_all()
        assert len(got) == 29


def wait_streams(c: promfeed.Client, n: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while c.status().active_streams != n:
        assert time.monotonic() < deadline, f"active_streams stays {c.status().active_streams}"
        time.sleep(0.02)


def test_close_and_gc_cancel_the_stream():
    st = make_state(n=30)
    st.follow_rows = 10_000
    with FakeDaemon(st) as f, promfeed.Client(f.target) as c:
        s = c.windows("go_memstats_gc_sys_bytes", window=2, follow=True)
        it0 = iter(s)  # a WindowStream is single-pass: dropping its iterator closes it
        next(it0)
        wait_streams(c, 1)
        s.close()
        wait_streams(c, 0)
        s2 = c.windows("go_memstats_gc_sys_bytes", window=2, follow=True)
        it = iter(s2)
        next(it)
        wait_streams(c, 1)
        del it, s2
        gc.collect()
        wait_streams(c, 0)


def test_errors_carry_code_target_and_message(fake):
    with promfeed.Client(fake.target) as c:
        with pytest.raises(errors.InvalidArgumentError) as ei:
            c.series("go_memstats{{")
        assert ei.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert fake.target in str(ei.value) and "malformed" in ei.value.details
        with pytest.raises(errors.NotFoundError, match="matches no series"):
            c.windows("no_such_metric", window=2)
        with pytest.raises(errors.NotFoundError):
            c.read_range("no_such_metric", start=T0)


def test_unreachable_daemon_names_the_target():
    from tests.harness.procs import free_port

    target = f"127.0.0.1:{free_port()}"
    with promfeed.Client(target, timeout=5) as c:
        with pytest.raises(errors.DaemonUnreachableError) as ei:
            c.status()
        assert target in str(ei.value)
        assert isinstance(ei.value, errors.UnavailableError)
        with pytest.raises(errors.DaemonUnreachableError):
            c.windows("x", window=2)


def test_streams_use_the_chosen_transport(fake, transport):
    with promfeed.Client(fake.target) as c:
        with c.windows("go_memstats_gc_sys_bytes", window=2) as s:
            assert (s._native is not None) == (transport == "native")
            assert len(s.read_all()) == 119
    # Channel options only grpcio understands: that client's streams use grpcio.
    with promfeed.Client(fake.target, options=[("grpc.enable_retries", 0)]) as c:
        with c.windows("go_memstats_gc_sys_bytes", window=2) as s:
            assert s._native is None
            assert len(s.read_all()) == 119


def test_closing_the_client_ends_its_open_streams():
    st = make_state(n=30)
    st.follow_rows = 10_000
    with FakeDaemon(st) as f, promfeed.Client(f.target) as watcher:
        c = promfeed.Client(f.target)
        s = c.windows("go_memstats_gc_sys_bytes", window=2, follow=True)
        it = iter(s)
        next(it)
        wait_streams(watcher, 1)
        c.close()
        wait_streams(watcher, 0)
        with pytest.raises(errors.CancelledError):  # the stream ends, it does not hang
            for _ in it:
                pass


def test_message_waiting_tells_a_queued_message():
    st = make_state(n=30)
    st.follow_rows, st.follow_period = 1, 0.2
    with FakeDaemon(st) as f, promfeed.Client(f.target) as c:
        with c.windows("go_memstats_gc_sys_bytes", window=2, start=T0, follow=True) as s:
            it = s.iter_rows()  # one step per message
            history = 0
            while history < 30:
                history += len(next(it).time_ms)
            deadline = time.monotonic() + 5
            while not s.message_waiting():  # the live row arrives 200 ms after the history
                assert time.monotonic() < deadline, "the live row never shows as waiting"
                time.sleep(0.01)
            assert list(next(it).time_ms) == [T0 + 30 * STEP]
