"""The daemon against a real Prometheus (Debian package) scraping itself and node-exporter at
1 s: ReadRange and StreamWindows values equal Prometheus's own query API on the same grid,
follow streams deliver new rows, a restarted daemon backfills the same data, and the CLI
behaves (check config, SIGTERM)."""

from __future__ import annotations

import math
import subprocess
import time

import grpc
import numpy as np
import pytest

from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc
from tests.harness import procs, promql
from tests.harness.fixtures import daemon_config

STEP = 1000
PROM_LOOKBACK = 300_000  # Prometheus's default lookback delta (5m): same semantics as ours.


def stub(target: str) -> pb_grpc.MetricFeedStub:
    return pb_grpc.MetricFeedStub(grpc.insecure_channel(target))


def key(series: pb.Series) -> tuple:
    return tuple(sorted((lbl.name, lbl.value) for lbl in series.labels))


def wait_complete_rows(s: pb_grpc.MetricFeedStub, rows: int, timeout: float = 60) -> int:
    """Waits until the daemon has at least `rows` complete grid rows since its oldest data;
    returns the newest complete grid time."""

    def ok() -> int | None:
        st = s.GetStatus(pb.GetStatusRequest(), timeout=2)
        listed = s.ListSeries(pb.ListSeriesRequest(selectors=["up"]), timeout=2).series
        if not listed:
            return None
        oldest = max(x.oldest_time_ms for x in listed)
        end = st.complete_through_ms // STEP * STEP
        return end if end - oldest >= rows * STEP else None

    return procs.wait_until(ok, timeout, f"{rows} complete rows")


def read_range(s, selectors, start, end, lookback=PROM_LOOKBACK, max_rows=0):
    msgs = list(
        s.ReadRange(
            pb.ReadRangeRequest(
                selectors=selectors,
                start_ms=start,
                end_ms=end,
                step_ms=STEP,
                lookback_ms=lookback,
                max_rows_per_message=max_rows,
            ),
            timeout=30,
        )
    )
    series = [key(x) for x in msgs[0].series]
    times = np.concatenate([np.frombuffer(m.time_ms, dtype="<i8") for m in msgs])
    values = np.concatenate([np.frombuffer(m.values, dtype="<f8") for m in msgs]).reshape(
        len(times), len(series)
    )
    mask = np.concatenate([np.frombuffer(m.mask, dtype=np.uint8) for m in msgs]).reshape(
        len(times), len(series)
    )
    return series, times, values, mask, len(msgs)


def assert_matches_prometheus(prom_url, expr, series, times, values, mask):
    """Every (series, grid time) equals Prometheus's query_range exactly; where Prometheus has
    no point the daemon reports missing."""
    ref = promql.query_range(prom_url, expr, int(times[0]), int(times[-1]), STEP)
    compared = 0
    for col, k in enumerate(series):
        assert k in ref, f"{k} not returned by Prometheus for {expr}"
        for row, t in enumerate(times):
            want = ref[k].get(int(t))
            if want is None:
                assert mask[row, col] == 0, f"{k} at {t}: daemon has a value, Prometheus none"
                continue
            assert mask[row, col] == 1, f"{k} at {t}: daemon missing, Prometheus has {want}"
            got = values[row, col]
            assert got == want or (math.isnan(got) and math.isnan(want)), (
                f"{k} at {t}: daemon {got!r} != Prometheus {want!r}"
            )
            compared += 1
    return compared


def test_read_range_equals_prometheus_query_range(daemon, prom_stack):
    s = stub(daemon.target)
    end = wait_complete_rows(s, 15) - STEP
    start = end - 14 * STEP
    for expr in ["go_memstats_gc_sys_bytes", 'process_cpu_seconds_total{job="node"}', "up"]:
        series, times, values, mask, nmsg = read_range(s, [expr], start, end, max_rows=4)
        assert nmsg == 4  # 15 rows in blocks of at most 4.
        assert list(times) == list(range(start, end + STEP, STEP))
        n = assert_matches_prometheus(prom_stack.prometheus.url, expr, series, times, values, mask)
        assert n >= len(series) * 10, f"only {n} points compared for {expr}"
    # Both Go programs report go_memstats_gc_sys_bytes: two series, told apart by job.
    series, *_ = read_range(s, ["go_memstats_gc_sys_bytes"], start, end)
    assert {dict(k)["job"] for k in series} == {"prometheus", "node"}


def test_raw_samples_match_prometheus_sample_for_sample(daemon, prom_stack):
    """With a 1 s lookback each grid point holds the one scrape in (t-1s, t]: the daemon's
    grid equals the grid built from Prometheus's raw samples (range-vector query)."""
    s = stub(daemon.target)
    end = wait_complete_rows(s, 12) - STEP
    start = end - 10 * STEP
    series, times, values, mask, _ = read_range(
        s, ['process_cpu_seconds_total{job="prometheus"}'], start, end, lookback=STEP
    )
    raw = promql.raw_samples(
        prom_stack.prometheus.url, 'process_cpu_seconds_total{job="prometheus"}', end, 20
    )
    ts, vs = raw[series[0]]
    want = promql.grid_from_raw(ts, vs, [int(t) for t in times], STEP)
    got = [v if m else math.nan for v, m in zip(values[:, 0], mask[:, 0])]
    assert np.array_equal(np.array(got), np.array(want), equal_nan=True)
    assert sum(mask[:, 0]) >= 8


def test_expr_input_equals_query_range_on_the_poll_grid(daemon, prom_stack):
    s = stub(daemon.target)
    end = wait_complete_rows(s, 12) - 2 * STEP
    start = end - 8 * STEP
    series, times, values, mask, _ = read_range(s, ["http_rate"], start, end, lookback=STEP)
    expr = "sum by (job) (rate(prometheus_http_requests_total[1m]))"
    ref = promql.query_range(prom_stack.prometheus.url, expr, start, end, STEP)
    compared = 0
    for col, k in enumerate(series):
        ref_k = dict(k)
        del ref_k["__name__"]
        for row, t in enumerate(times):
            want = ref[tuple(sorted(ref_k.items()))].get(int(t))
            if want is not None and mask[row, col]:
                assert values[row, col] == pytest.approx(want, rel=1e-12), (k, t)
                compared += 1
    assert compared >= 5


def test_stream_windows_rows_equal_prometheus_and_windows_are_counted(daemon, prom_stack):
    s = stub(daemon.target)
    end = wait_complete_rows(s, 20) - STEP
    start = end - 19 * STEP
    features = ["go_memstats_gc_sys_bytes", 'process_cpu_seconds_total{job="node"}']
    msgs = list(
        s.StreamWindows(
            pb.StreamWindowsRequest(
                features=features,
                step_ms=STEP,
                window=5,
                shift=2,
                start_ms=start,
                end_ms=end,
                dtype=pb.FLOAT64,
                lookback_ms=PROM_LOOKBACK,
                max_rows_per_message=6,
            ),
            timeout=30,
        )
    )
    header = msgs[0].header
    assert header.window == 5 and header.shift == 2 and header.dtype == pb.FLOAT64
    assert list(header.feature_selector_index) == [0, 0, 1]
    nf = len(header.features)
    rows, windows, next_row = [], [], 0
    for m in msgs[1:]:
        b = m.rows
        assert b.first_row_index == next_row, "rows must arrive once each, in order"
        next_row += b.row_count
        rows.append(np.frombuffer(b.values, dtype="<f8").reshape(b.row_count, nf))
        windows += range(b.first_window_index, b.first_window_index + b.window_count)
        assert b.lost_windows == 0 and not b.dropped_window_indices
    values = np.concatenate(rows)
    assert values.shape == (20, 3)
    assert windows == list(range(8))  # Windows k end at rows 4, 6, ..., 18.
    times = np.arange(start, end + STEP, STEP)
    mask = np.ones_like(values, dtype=np.uint8)
    for col, f in enumerate(header.features):
        expr = features[header.feature_selector_index[col]]
        assert_matches_prometheus(
            prom_stack.prometheus.url, expr, [key(f)], times, values[:, [col]], mask[:, [col]]
        )


def test_follow_delivers_new_rows_as_time_passes(daemon):
    s = stub(daemon.target)
    now = wait_complete_rows(s, 3)
    call = s.StreamWindows(
        pb.StreamWindowsRequest(
            features=["up"], step_ms=STEP, window=2, start_ms=now - 2 * STEP, follow=True
        ),
        timeout=60,
    )
    header = next(call).header
    assert header.end_time_ms == 0
    seen, next_row = [], 0
    for m in call:
        b = m.rows
        assert b.first_row_index == next_row
        next_row += b.row_count
        rows = list(np.frombuffer(b.time_ms, dtype="<i8"))
        # A row's value is the newest sample in (t - lookback, t]; it is final once that sample
        # is in and the next is not due before t (regular scrapes), so a row never arrives
        # before the scrape that gives its value: not before t - STEP (scraped every STEP).
        arrived = time.time() * 1000
        assert all(arrived > t - STEP for t in rows), (rows, arrived)
        seen += rows
        if seen and seen[-1] >= now + 4 * STEP:
            break
    call.cancel()
    assert seen == list(range(now - 2 * STEP, seen[-1] + STEP, STEP))
    procs.wait_until(
        lambda: s.GetStatus(pb.GetStatusRequest()).active_streams == 0, 10, "stream freed"
    )


def test_restarted_daemon_backfills_the_same_data(daemon_factory, prom_stack):
    first = daemon_factory()
    s1 = stub(first.target)
    end = wait_complete_rows(s1, 12) - STEP
    start = end - 10 * STEP
    sel = ["go_memstats_gc_sys_bytes", "process_cpu_seconds_total"]
    before = read_range(s1, sel, start, end)
    t0 = time.monotonic()
    assert first.stop(timeout=15) == 0, first.describe()
    assert time.monotonic() - t0 < 10, "SIGTERM must exit within the shutdown deadline"
    assert "stopped" in first.log_tail()

    second = daemon_factory()
    after = read_range(stub(second.target), sel, start, end)
    assert before[0] == after[0]
    assert np.array_equal(before[1], after[1])
    assert np.array_equal(before[2], after[2], equal_nan=True)
    assert np.array_equal(before[3], after[3])


def test_status_reports_polling_and_series(daemon):
    st = stub(daemon.target).GetStatus(pb.GetStatusRequest(), timeout=5)
    assert st.ready and st.upstream_state == pb.UP
    assert st.poll_interval_ms == 1000
    assert st.series_count >= 6
    assert st.samples_held > st.series_count
    assert st.polls_total >= 1 and st.last_poll_duration_ms >= 0
    assert st.ring_bytes > 0 and st.retention_ms == 30 * 60 * 1000
    assert "@" not in st.upstream_url


def test_invalid_requests_get_documented_codes(daemon):
    s = stub(daemon.target)
    cases = [
        (pb.StreamWindowsRequest(features=["up"], window=0), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.StreamWindowsRequest(features=["up{"], window=1), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.StreamWindowsRequest(features=["no_such_metric"], window=1), grpc.StatusCode.NOT_FOUND),
        (
            pb.StreamWindowsRequest(features=["up"], window=1, start_ms=1000),
            grpc.StatusCode.OUT_OF_RANGE,
        ),
    ]
    for req, code in cases:
        with pytest.raises(grpc.RpcError) as e:
            list(s.StreamWindows(req, timeout=10))
        assert e.value.code() == code, (req, e.value.details())
        assert e.value.details()


def test_check_config_names_file_line_and_column(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("global:\n  poll_interval: 1x\ninputs:\n  - selector: up\n")
    r = subprocess.run(
        [str(procs.daemon_bin()), "check", "config", str(bad)], capture_output=True, text=True
    )
    assert r.returncode == 1
    assert f"{bad}:2:18" in r.stderr, r.stderr
    assert "poll_interval" in r.stderr
    good = tmp_path / "good.yml"
    good.write_text(
        "upstream:\n  url: http://127.0.0.1:9090\ninputs:\n  - selector: up\n"
    )
    r = subprocess.run(
        [str(procs.daemon_bin()), "check", "config", str(good)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "SUCCESS" in r.stdout


def test_daemon_started_with_bad_config_exits_with_the_error(tmp_path, prom_stack):
    cfg = daemon_config(prom_stack.prometheus.url, inputs=[{"selector": 'up{job="x"'}])
    with pytest.raises(procs.ProcError) as e:
        procs.start_daemon(cfg, tmp_path, timeout=15)
    assert "inputs[0].selector" in str(e.value)
