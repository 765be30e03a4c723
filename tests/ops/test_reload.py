"""Config reload (SIGHUP and POST /-/reload) of a real daemon over a real Prometheus: a bad
file is rejected with its file:line:column and the old config keeps running; unchanged
inputs keep their rings without a gap or a second backfill; new inputs are backfilled;
removed ones stop; restart-only settings keep their running values."""

from __future__ import annotations

import os
import signal

import grpc
import numpy as np
import yaml

from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc
from tests.harness import procs
from tests.harness.fixtures import daemon_config
from tests.ops.opsutil import http, log_size, metric, scrape, wait_log

A = {"selector": 'up{job="prometheus"}'}
B = {"selector": 'process_cpu_seconds_total{job="prometheus"}'}
# Expr inputs read each grid point once, so unlike selectors they never re-read a sample:
# any duplicate from them after a reload means the span was read twice.
AX = {"name": "a_up", "expr": 'up{job="prometheus"}'}
C = {"name": "c_goroutines", "expr": 'go_goroutines{job="prometheus"}'}


def stub(p: procs.Proc) -> pb_grpc.MetricFeedStub:
    return pb_grpc.MetricFeedStub(grpc.insecure_channel(p.target))


def one_series(s: pb_grpc.MetricFeedStub, selector: str) -> pb.Series:
    got = s.ListSeries(pb.ListSeriesRequest(selectors=[selector]), timeout=5).series
    assert len(got) == 1, got
    return got[0]


def write_config(p: procs.Proc, cfg: dict | str) -> None:
    text = cfg if isinstance(cfg, str) else yaml.safe_dump(cfg, sort_keys=False)
    tmp = p.config_path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, p.config_path)  # Atomic: the daemon never reads half a file.


def test_bad_config_is_rejected_and_old_one_keeps_running(
    daemon_factory, prom_stack
) -> None:
    d = daemon_factory(daemon_config(prom_stack.prometheus.url, inputs=[A]))
    s = stub(d)
    polls = metric(scrape(d.web_url), "promfeed_polls_total")
    # Line 3, column 18: an invalid duration.
    write_config(
        d,
        "global:\n  poll_interval: 1s\n  backfill: 10 minutes\ninputs:\n  - selector: up\n",
    )
    code, _, body = http(d.web_url + "/-/reload", method="POST")
    assert code == 500, body
    assert f"{d.config_path}:3:13" in body, body
    assert "previous configuration kept" in body
    fams = scrape(d.web_url)
    assert metric(fams, "promfeed_config_last_reload_successful") == 0
    assert metric(fams, 'promfeed_config_reloads_total{result="failure"}') == 1
    # SIGHUP with the same file: logged with file:line:column.
    start = log_size(d)
    os.kill(d.pid, signal.SIGHUP)
    m = wait_log(d, r'msg="reload failed" config=\S+ error="(.*)"$', start=start)
    assert f"{d.config_path}:3:13" in m.group(1)
    # The old configuration keeps polling.
    procs.wait_until(
        lambda: metric(scrape(d.web_url), "promfeed_polls_total") >= polls + 2,
        20,
        "polls after the failed reload",
    )
    assert s.GetStatus(pb.GetStatusRequest(), timeout=5).upstream_state == pb.UP
    assert d.alive()


def test_reload_keeps_rings_adds_and_removes_inputs(daemon_factory, prom_stack) -> None:
    prom = prom_stack.prometheus.url
    d = daemon_factory(daemon_config(prom, inputs=[A, AX, B]))
    s = stub(d)
    # Enough history that re-reading it would stand out from per-round duplicates below.
    procs.wait_until(
        lambda: one_series(s, "a_up").samples_held >= 8, 20, "8 s of history"
    )
    a_before = one_series(s, "up")
    b_sel = "process_cpu_seconds_total"
    one_series(s, b_sel)
    fams = scrape(d.web_url)
    dups_before = metric(fams, "promfeed_duplicate_samples_dropped_total")
    polls_before = metric(fams, "promfeed_polls_total")

    # Retention needs a restart: it is logged and the running value stays.
    cfg = daemon_config(prom, inputs=[A, AX, C])
    cfg["storage"]["retention"] = "2h"
    write_config(d, cfg)
    start = log_size(d)
    os.kill(d.pid, signal.SIGHUP)
    wait_log(d, r'msg="reload done" inputs=3 added=1 removed=1 kept=2\n', start=start)
    log = d.log_path.read_text()[start:]
    want = 'msg="reload setting needs restart" setting=storage.retention running=30m configured=2h'
    assert want in log, log
    assert s.GetStatus(pb.GetStatusRequest(), timeout=5).retention_ms == 30 * 60_000
    fams = scrape(d.web_url)
    assert metric(fams, "promfeed_config_last_reload_successful") == 1
    assert metric(fams, 'promfeed_config_reloads_total{result="success"}') == 1

    # New input C: backfilled as deep as Prometheus holds it, like A was at start (same
    # target, same scrapes; the daemon's backfill span is longer than this Prometheus's age).
    c = procs.wait_until(
        lambda: s.ListSeries(
            pb.ListSeriesRequest(selectors=["c_goroutines"]), timeout=5
        ).series,
        20,
        "input C",
    )
    assert c[0].oldest_time_ms <= a_before.oldest_time_ms + 1000, (c[0], a_before)

    # Let a few polls happen after the reload.
    b_at_reload = one_series(s, b_sel).newest_time_ms
    procs.wait_until(
        lambda: one_series(s, "up").newest_time_ms > a_before.newest_time_ms + 4000,
        20,
        "A advancing after the reload",
    )
    a_after = one_series(s, "up")
    # A kept its ring: same oldest sample, more samples.
    assert a_after.oldest_time_ms == a_before.oldest_time_ms
    assert a_after.samples_held > a_before.samples_held
    # B stopped: nothing newer than what it had when the reload finished (+ one round in flight).
    assert one_series(s, b_sel).newest_time_ms <= b_at_reload + 1000
    # No second backfill of A or AX: the new poller continued from the old one's progress.
    # Selector A re-reads one interval per round (about one duplicate per round); re-reading
    # the backfill would add one duplicate per second of Prometheus's history for A and AX.
    fams = scrape(d.web_url)
    dups = metric(fams, "promfeed_duplicate_samples_dropped_total") - dups_before
    polls = metric(fams, "promfeed_polls_total") - polls_before
    assert (
        one_series(s, "a_up").samples_held >= 10
    )  # Enough history to tell the two apart.
    assert dups <= polls + 3, (dups, polls)

    # No gap in A across the reload: every 1 s grid point around it holds a real sample.
    st = s.GetStatus(pb.GetStatusRequest(), timeout=5)
    end = st.complete_through_ms // 1000 * 1000
    msgs = list(
        s.ReadRange(
            pb.ReadRangeRequest(
                selectors=["up"],
                start_ms=max(
                    a_before.oldest_time_ms + 2000, a_before.newest_time_ms - 10_000
                ),
                end_ms=end,
                step_ms=1000,
                lookback_ms=1500,
            ),
            timeout=10,
        )
    )
    masks = [np.frombuffer(m.mask, dtype=np.uint8) for m in msgs if m.mask]
    assert not masks or all(x.all() for x in masks), masks


def test_http_reload_applies_new_inputs(daemon_factory, prom_stack) -> None:
    prom = prom_stack.prometheus.url
    d = daemon_factory(daemon_config(prom, inputs=[A]))
    write_config(d, daemon_config(prom, inputs=[A, C]))
    code, _, body = http(d.web_url + "/-/reload", method="POST")
    assert (code, body) == (200, "configuration reloaded\n")
    s = stub(d)
    procs.wait_until(
        lambda: s.ListSeries(
            pb.ListSeriesRequest(selectors=["c_goroutines"]), timeout=5
        ).series,
        20,
        "input C",
    )
    # An unchanged file reloads without touching the poller.
    start = log_size(d)
    assert http(d.web_url + "/-/reload", method="POST")[0] == 200
    wait_log(d, r'msg="reload done" inputs=2 added=0 removed=0 kept=2\n', start=start)
    assert 'msg="poller starting"' not in d.log_path.read_text()[start:]
