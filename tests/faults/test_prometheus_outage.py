"""Issue 5 item 1: Prometheus (real, Debian package) is killed mid-run and restarted
OUTAGE_S seconds later on the same port with the same TSDB directory. The daemon stays up and
keeps serving what it holds, reports the upstream DOWN, backs off, and heals the gap by
backfill: afterwards its samples equal Prometheus's own raw samples for the whole span,
sample for sample (grid values at 1 s with lookback 1 s, and per-series sample counts)."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path

import pytest

from promfeed.v1 import metric_feed_pb2 as pb
from tests.faults import faultutil as fu
from tests.harness import procs, promql
from tests.harness.fixtures import daemon_config

OUTAGE_S = 8
SELECTORS = ["up", "go_memstats_gc_sys_bytes", "process_cpu_seconds_total"]


def restart_prometheus(old: procs.Proc) -> procs.Proc:
    """Starts Prometheus again with the argv of `old` (same port, same --storage.tsdb.path)
    and waits until it serves `up` for every job again."""
    p = procs.Proc("prometheus", old.argv, old.workdir, **old.attrs)

    def ready() -> bool:
        if not p.alive():
            raise procs.ProcError(f"prometheus exited on restart\n{p.describe()}")
        got = {r["metric"].get("job") for r in promql.query(p.url, "up", timeout=2)}
        return set(p.jobs) <= got

    procs.wait_until(ready, 60, "restarted prometheus serving `up`", interval=0.2)
    return p


def prom_count(url: str, selector: str, labels: tuple, oldest: int, newest: int) -> int:
    """Prometheus's raw sample count of one series in [oldest, newest]."""
    span = newest - oldest + 1
    res = promql.query(url, f"{selector}[{span}ms]", newest)
    for r in res:
        if promql.series_key(r["metric"]) == labels:
            return len(r["values"])
    return 0


def test_prometheus_killed_and_restarted(tmp_path: Path) -> None:
    if not procs.daemon_bin().exists():
        pytest.skip(f"no daemon binary at {procs.daemon_bin()}")
    ne = procs.start_node_exporter(tmp_path / "ne")
    prom = d = stub = None  # Stopped in `finally` whatever failed to start.
    try:
        prom = procs.start_prometheus(tmp_path / "prom", "1s", {"node": [ne.address]})
        cfg = daemon_config(prom.url, [{"selector": s} for s in SELECTORS])
        cfg["upstream"]["timeout"] = "2s"
        d = procs.start_daemon(cfg, tmp_path / "promfeed")
        stub = fu.Stub(d.target)
        procs.wait_until(
            lambda: stub.status().complete_through_ms > time.time() * 1000 - 3000, 30, "live"
        )
        # Both jobs' `up` series must be held before the outage (node's first scrape can lag).
        procs.wait_until(lambda: len(stub.series("up")) == 2, 30, "both up series")
        # Only rows the daemon holds as final (through complete_through_ms): a later row can
        # still fill in from a poll that lands before the kill.
        first = max(s.oldest_time_ms for s in stub.series("up")) // 1000 * 1000 + 1000
        procs.wait_until(
            lambda: stub.status().complete_through_ms >= first + 3000, 30, "3 final rows"
        )
        st0 = stub.status()
        before = stub.read_range("up", first, st0.complete_through_ms)
        log0 = fu.log_size(d)

        # ---- outage ----
        prom.popen.send_signal(signal.SIGKILL)
        prom.popen.wait(10)
        prom.stop()
        t_kill = time.monotonic()
        procs.wait_until(lambda: stub.status().upstream_state == pb.DOWN, 10, "upstream DOWN")
        st = stub.status()
        assert st.last_error and "127.0.0.1" in st.last_error, st.last_error
        fu.wait_log(d, r"poll failed.*reason=connect", start=log0)
        # Keeps serving what it holds, unchanged.
        during = stub.read_range("up", int(before[1][0]), int(before[1][-1]))
        assert during[0] == before[0]
        assert (during[3] == before[3]).all() and (during[2][before[3]] == before[2][before[3]]).all()
        ready = fu.http_status(d.web_url + "/-/ready")
        m = fu.metrics(d.web_url)
        if m is not None:
            assert m["promfeed_upstream_up"] == 0
            assert ready == 200  # Ready means "serving what it holds", not "upstream up".
        procs.wait_until(lambda: time.monotonic() - t_kill >= OUTAGE_S, OUTAGE_S + 1, "outage")
        failures = stub.status().poll_failures_total - st0.poll_failures_total
        # Backoff: 1 s, 2 s, 4 s ... (x0.8-1.0 jitter), not one attempt per second.
        assert 2 <= failures <= 5, f"{failures} failed polls in {OUTAGE_S} s"
        assert d.alive()

        # ---- recovery ----
        prom = restart_prometheus(prom)
        t_back = int(time.time() * 1000)
        fu.wait_log(d, r"poll recovered", start=log0, timeout=40)
        procs.wait_until(
            lambda: stub.status().upstream_state == pb.UP
            and stub.status().complete_through_ms >= t_back + 3000,
            40,
            "complete past the restart",
        )

        # ---- zero samples lost: grid compare and per-series counts ----
        end = stub.status().complete_through_ms // 1000 * 1000
        compared = lost = 0
        for sel in SELECTORS:
            listed = stub.series(sel)
            assert listed, sel
            start = max(s.oldest_time_ms for s in listed) // 1000 * 1000 + 1000
            series, times, values, mask = stub.read_range(sel, start, end)
            raw = promql.raw_samples(prom.url, sel, end, math.ceil((end - start) / 1000) + 2)
            for col, k in enumerate(series):
                assert k in raw, f"{k} not in Prometheus"
                ts, vs = raw[k]
                ref = promql.grid_from_raw(ts, vs, [int(t) for t in times], 1000)
                for r, want in enumerate(ref):
                    compared += 1
                    got = values[r, col] if mask[r, col] else math.nan
                    if not fu.same(got, want):
                        lost += 1
            for s in listed:
                k = fu.key(s)

                def counts_match(sel=sel, k=k) -> bool:
                    cur = next(x for x in stub.series(sel) if fu.key(x) == k)
                    want = prom_count(prom.url, sel, k, cur.oldest_time_ms, cur.newest_time_ms)
                    counts_match.last = (cur.samples_held, want)  # type: ignore[attr-defined]
                    return cur.samples_held == want

                try:
                    procs.wait_until(counts_match, 10, f"sample count of {k}")
                except procs.ProcError:
                    held, want = counts_match.last  # type: ignore[attr-defined]
                    lost += abs(want - held)
        outage_rows = int(((times >= t_back - OUTAGE_S * 1000) & (times <= t_back)).sum())
        fu.record(
            f"Prometheus SIGKILLed, restarted after {OUTAGE_S} s",
            1,
            d.alive(),
            lost,
            f"{compared} grid points compared; {failures} failed polls during the outage",
        )
        assert outage_rows > 0
        assert lost == 0, f"{lost} differences against Prometheus"
    finally:
        if stub is not None:
            stub.close()
        for p in (d, prom, ne):
            if p is not None:
                p.stop()
