"""Issue 5 items 3-4: an upstream answer with a million series, beyond storage.max_series.
The limit holds, every refused series is counted (GetStatus, /metrics) and logged (rate
limited), the ring memory stays within max_series rings, and the series already held keep
every sample."""

from __future__ import annotations

import time

from promfeed.v1 import metric_feed_pb2 as pb
from tests.faults import faultutil as fu
from tests.faults.conftest import fake_config
from tests.faults.fake_upstream import METRIC, FakeUpstream, Reply, value_at
from tests.harness import procs

MAX_SERIES = 1000
MILLION = 1_000_000


def million_series_body(t_ms: int) -> bytes:
    ts = t_ms // 1000
    items = b",".join(
        b'{"metric":{"__name__":"boom","i":"%d"},"values":[[%d,"1"]]}' % (i, ts)
        for i in range(MILLION)
    )
    return b'{"status":"success","data":{"resultType":"matrix","result":[' + items + b"]}}"


def test_million_series_hits_max_series(fake: FakeUpstream, start) -> None:
    cfg = fake_config(
        fake.url,
        upstream={"timeout": "20s", "max_response_bytes": 256 << 20},
        storage={"max_series": MAX_SERIES},
    )
    d = start(cfg)
    stub = fu.Stub(d.target)
    try:
        procs.wait_until(lambda: stub.status().complete_through_ms > 0, 20, "first round")
        st0 = stub.status()
        assert st0.series_count == fake.series
        rss0 = fu.rss_kb(d.pid)
        body = million_series_body(int(time.time() * 1000))
        log0 = fu.log_size(d)
        fake.once(Reply(body=body))
        served_at = time.time()

        def boom_polled() -> bool:
            st = stub.status()
            return st.series_rejected_total > 0 and st.last_poll_time_ms > served_at * 1000 + 1000

        procs.wait_until(boom_polled, 60, "the million-series poll ingested")
        st = stub.status()
        assert d.alive()
        # The limit holds exactly; every other series of the answer is refused and counted.
        assert st.series_count == MAX_SERIES, st
        admitted = MAX_SERIES - fake.series
        assert st.series_rejected_total == MILLION - admitted, st
        assert len(stub.series("boom")) == admitted
        # Logged, rate limited: 1st, 2nd, 4th ... refusal (21 lines for 999,003), not a million.
        lines = [ln for ln in fu.log_text(d, log0).splitlines() if "series rejected" in ln]
        assert lines and "reason=max_series" in lines[0] and f"max_series={MAX_SERIES}" in lines[0]
        assert len(lines) <= 21, len(lines)
        m = fu.metrics(d.web_url)
        if m is not None:
            assert m["promfeed_series_rejected_total"] == MILLION - admitted
            assert m["promfeed_series"] == MAX_SERIES
        # Memory: rings for at most max_series (retention 5m at 1 s: ~311 slots of 16 bytes).
        assert st.ring_bytes < MAX_SERIES * 311 * 16 * 2, st.ring_bytes
        rss1 = fu.rss_kb(d.pid)
        # The series held before keep every sample, with their exact values.
        procs.wait_until(
            lambda: stub.status().complete_through_ms > st.last_poll_time_ms, 20, "next round"
        )
        listed = stub.series(METRIC)
        oldest = max(s.oldest_time_ms for s in listed)
        end = stub.status().complete_through_ms // 1000 * 1000
        series, times, values, mask = stub.read_range(METRIC, oldest, end)
        missing = int((mask == 0).sum())
        wrong = sum(
            values[r, c] != value_at(int(t), int(dict(k)["instance"][1:]))
            for c, k in enumerate(series)
            for r, t in enumerate(times)
            if mask[r, c]
        )
        fu.record(
            "upstream: a million series (max_series 1000)",
            1,
            True,
            missing,
            f"rejected {st.series_rejected_total}; RSS {rss0 // 1024} -> {rss1 // 1024} MiB",
        )
        assert (missing, wrong) == (0, 0)
        assert stub.status().upstream_state == pb.UP
    finally:
        stub.close()
