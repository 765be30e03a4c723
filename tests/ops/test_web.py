"""The daemon's HTTP listener against a real Prometheus: /metrics (parsed, and scraped by
Prometheus itself), /-/healthy, /-/ready, method checks and a bind failure."""

from __future__ import annotations

import socket

import grpc
import pytest

from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc
from tests.harness import procs, promql
from tests.harness.fixtures import daemon_config
from tests.ops.opsutil import http, metric, scrape

FAMILIES = {
    "promfeed_polls_total": "counter",
    "promfeed_poll_failures_total": "counter",
    "promfeed_poll_duration_seconds": "histogram",
    "promfeed_samples_ingested_total": "counter",
    "promfeed_series": "gauge",
    "promfeed_samples_held": "gauge",
    "promfeed_ring_bytes": "gauge",
    "promfeed_ring_bytes_per_sample": "gauge",
    "promfeed_active_streams": "gauge",
    "promfeed_windows_sent_total": "counter",
    "promfeed_windows_lost_total": "counter",
    "promfeed_stream_cache_bytes": "gauge",
    "promfeed_stream_cache_entries": "gauge",
    "promfeed_stream_cache_hits_total": "counter",
    "promfeed_stream_cache_misses_total": "counter",
    "promfeed_upstream_up": "gauge",
    "promfeed_config_last_reload_successful": "gauge",
    "promfeed_build_info": "gauge",
}


def status(target: str) -> pb.GetStatusResponse:
    with grpc.insecure_channel(target) as ch:
        return pb_grpc.MetricFeedStub(ch).GetStatus(pb.GetStatusRequest(), timeout=5)


def test_metrics_match_the_daemons_state(daemon: procs.Proc) -> None:
    # Wait for a poll after the backfill so the counters have moved.
    procs.wait_until(
        lambda: metric(scrape(daemon.web_url), "promfeed_polls_total") >= 2,
        30,
        "two poll rounds",
    )
    st = status(daemon.target)
    fams = scrape(daemon.web_url)
    for name, typ in FAMILIES.items():
        assert fams[name].type == typ, name
        assert fams[name].help, name
    assert all(name.startswith("promfeed_") for name in fams)

    v = lambda key: metric(fams, key)  # noqa: E731
    assert v(f'promfeed_build_info{{version="{st.version}"}}') == 1
    assert v("promfeed_upstream_up") == 1
    assert v("promfeed_ready") == 1
    assert v("promfeed_config_last_reload_successful") == 1
    assert v("promfeed_samples_ingested_total") > 0
    assert v('promfeed_poll_failures_total{reason="timeout"}') == 0
    # One histogram observation per round; buckets cumulative up to +Inf.
    assert v("promfeed_poll_duration_seconds_count") >= v("promfeed_polls_total") - 1
    assert v('promfeed_poll_duration_seconds_bucket{le="+Inf"}') == v(
        "promfeed_poll_duration_seconds_count"
    )
    assert v("promfeed_poll_duration_seconds_sum") > 0
    # The store's levels agree with GetStatus (series count is stable for these inputs).
    assert v("promfeed_series") == st.series_count > 0
    assert v("promfeed_ring_bytes") > 0
    assert v("promfeed_samples_held") > 0
    # One snapshot: the ratio holds up to the 16 digits the text format carries.
    assert v("promfeed_ring_bytes_per_sample") == pytest.approx(
        v("promfeed_ring_bytes") / v("promfeed_samples_held"), rel=1e-12
    )
    assert v("promfeed_poll_interval_seconds") == 1


def test_stream_counters_move(daemon: procs.Proc) -> None:
    with grpc.insecure_channel(daemon.target) as ch:
        stub = pb_grpc.MetricFeedStub(ch)
        end = (
            stub.GetStatus(pb.GetStatusRequest(), timeout=5).complete_through_ms
            // 1000
            * 1000
        )
        # A following stream stays open: it shows in promfeed_active_streams until cancelled.
        follow = stub.StreamWindows(
            pb.StreamWindowsRequest(features=["up"], window=10, follow=True), timeout=30
        )
        assert next(follow).HasField("header")
        assert metric(scrape(daemon.web_url), "promfeed_active_streams") == 1
        follow.cancel()
        procs.wait_until(
            lambda: metric(scrape(daemon.web_url), "promfeed_active_streams") == 0,
            10,
            "cancelled stream gone from promfeed_active_streams",
        )
        # A historical stream: every window it completes is counted once.
        before = metric(scrape(daemon.web_url), "promfeed_windows_sent_total")
        req = pb.StreamWindowsRequest(
            features=["up"],
            step_ms=1000,
            window=10,
            shift=1,
            start_ms=end - 60_000,
            end_ms=end,
        )
        msgs = list(stub.StreamWindows(req, timeout=30))
        windows = sum(
            m.rows.window_count - len(m.rows.dropped_window_indices) for m in msgs
        )
        assert windows == 52  # 61 grid rows, windows of 10 rows, shift 1.
        after = scrape(daemon.web_url)
        assert metric(after, "promfeed_windows_sent_total") - before == windows
        # The same history again comes from the stream cache: the same rows, counted again.
        hits = metric(after, "promfeed_stream_cache_hits_total")
        again = list(stub.StreamWindows(req, timeout=30))
    assert [m.rows.SerializeToString() for m in again[1:]] == [
        m.rows.SerializeToString() for m in msgs[1:]
    ]
    fams = scrape(daemon.web_url)
    assert metric(fams, "promfeed_stream_cache_hits_total") == hits + 1
    assert metric(fams, "promfeed_windows_sent_total") - before == 2 * windows
    assert metric(fams, "promfeed_stream_cache_entries") >= 1
    assert metric(fams, "promfeed_stream_cache_bytes") >= sum(
        len(m.SerializeToString()) for m in msgs[1:]
    )


def test_prometheus_scrapes_promfeed(daemon: procs.Proc, tmp_path) -> None:
    # A second Prometheus scrapes the daemon as job "promfeed": `up` is 1 only when it
    # accepted the exposition format, and the samples arrive under their names.
    web = daemon.web_url.removeprefix("http://")
    with procs.start_prometheus(
        tmp_path / "scraper", targets={"promfeed": [web]}
    ) as prom:

        def scraped() -> list:
            r = promql.query(prom.url, 'up{job="promfeed"} == 1')
            b = promql.query(prom.url, 'promfeed_build_info{job="promfeed"}')
            h = promql.query(
                prom.url, 'promfeed_poll_duration_seconds_bucket{le="+Inf"}'
            )
            return r and b and h

        procs.wait_until(scraped, 30, "Prometheus scraping promfeed with up == 1")
        series = promql.query(prom.url, 'promfeed_series{job="promfeed"}')
        assert float(series[0]["value"][1]) == status(daemon.target).series_count
        meta = promql._get(
            prom.url, "/api/v1/metadata", {"metric": "promfeed_polls_total"}, 5
        )
        assert meta["promfeed_polls_total"][0]["type"] == "counter"


def test_health_and_ready_and_methods(daemon: procs.Proc) -> None:
    code, _, body = http(daemon.web_url + "/-/healthy")
    assert (code, body) == (200, "promfeed is Healthy.\n")
    code, _, body = http(daemon.web_url + "/-/ready")
    assert (code, body) == (200, "promfeed is Ready.\n")
    code, headers, body = http(daemon.web_url + "/-/reload")
    assert code == 405 and headers["Allow"] == "POST", body
    code, headers, _ = http(daemon.web_url + "/metrics", method="POST")
    assert code == 405 and headers["Allow"] == "GET, HEAD"
    assert http(daemon.web_url + "/nope")[0] == 404


def test_not_ready_until_first_poll(daemon_factory, tmp_path) -> None:
    # Upstream: a port nobody listens on. Healthy, but not ready, with the reason.
    dead = f"http://127.0.0.1:{procs.free_port()}"
    d = daemon_factory(daemon_config(dead), wait_ready=False)
    procs.wait_until(
        lambda: http(d.web_url + "/-/healthy")[0] == 200, 30, "web listener"
    )
    code, _, body = procs.wait_until(
        lambda: (r := http(d.web_url + "/-/ready")) and "last error" in r[2] and r,
        30,
        "a failed poll reported by /-/ready",
    )
    assert code == 503
    assert body.startswith(
        f"not ready: waiting for the first successful poll of {dead}"
    )
    fams = scrape(d.web_url)
    assert metric(fams, "promfeed_ready") == 0
    assert metric(fams, "promfeed_upstream_up") == 0
    assert metric(fams, 'promfeed_poll_failures_total{reason="connect"}') >= 1


def test_web_port_in_use_is_a_clear_startup_error(prom_stack, tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = procs.start_daemon(
            daemon_config(prom_stack.prometheus.url),
            tmp_path,
            wait_ready=False,
            extra_args=[f"--web.listen-address=127.0.0.1:{port}"],
        )
        try:
            assert p.popen.wait(timeout=30) == 1
        finally:
            p.stop()
    log = p.log_path.read_text()
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in log, log
