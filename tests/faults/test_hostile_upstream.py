"""Issue 5 items 2-4: the daemon against a scripted hostile upstream (fake_upstream.py).

Every fault follows the same script: the daemon polls good data, the upstream turns hostile
for a few polls, then good again. During the fault the daemon must stay up, report the
upstream DOWN with a clear last_error, log `poll failed ... reason=<r>` and count the
failure; the samples it held must stay exactly as they were; after recovery the backfill must
heal the gap so that every second of the fake series is held with its exact value (zero
samples lost, none corrupt)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from promfeed.v1 import metric_feed_pb2 as pb
from tests.faults import faultutil as fu
from tests.faults.conftest import fake_config
from tests.faults.fake_upstream import METRIC, FakeUpstream, Reply, value_at
from tests.harness import procs

SERIES = 3  # FakeUpstream's default


def check_store(stub: fu.Stub, start: int, end: int) -> tuple[int, int]:
    """(missing, wrong) grid points of the fake series in [start, end] (1 s grid, lookback
    1 s: each point is exactly the sample at that second)."""
    series, times, values, mask = stub.read_range(METRIC, start, end)
    assert len(series) == SERIES, series
    missing = wrong = 0
    for col, k in enumerate(series):
        inst = dict(k)["instance"]
        n = int(inst[1:])
        for r, t in enumerate(times):
            if not mask[r, col]:
                missing += 1
            elif values[r, col] != value_at(int(t), n):
                wrong += 1
    return missing, wrong


def held_span(stub: fu.Stub) -> tuple[int, int]:
    """(oldest time all fake series hold, newest complete grid time)."""
    listed = stub.series(METRIC)
    assert len(listed) == SERIES, listed
    oldest = max(s.oldest_time_ms for s in listed)
    return oldest, stub.status().complete_through_ms // 1000 * 1000


def wait_up_and_complete_past(stub: fu.Stub, t_ms: int, timeout: float = 30) -> None:
    def ok() -> bool:
        st = stub.status()
        return st.upstream_state == pb.UP and st.complete_through_ms >= t_ms

    procs.wait_until(ok, timeout, f"upstream UP and complete through {t_ms}")


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeUpstream, procs.Proc]]:
    """One fake upstream and one daemon for all hostile-response cases (module scope: the
    daemon must survive every case in turn, as it would in production)."""
    if not procs.daemon_bin().exists():
        pytest.skip(f"no daemon binary at {procs.daemon_bin()}")
    with FakeUpstream(series=SERIES) as fake:
        d = procs.start_daemon(fake_config(fake.url), tmp_path_factory.mktemp("hostile"))
        try:
            yield fake, d
        finally:
            d.stop()


def good_body() -> bytes:
    return FakeUpstream(series=SERIES).matrix_body(now_ms(), 5000)


def deep(n: int) -> bytes:
    return (
        b'{"status":"success","data":{"resultType":"matrix","result":' + b"[" * n + b"]" * n + b"}}"
    )


def envelope(kind: str, msg: str) -> bytes:
    return json.dumps({"status": "error", "errorType": kind, "error": msg}).encode()


def wrong_types() -> bytes:
    t = now_ms() // 1000
    return json.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {"__name__": METRIC}, "values": [[t, 1.5]]}],
            },
        }
    ).encode()


def invalid_utf8() -> bytes:
    t = now_ms() // 1000
    return (
        b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":'
        b'{"__name__":"fake_metric","job":"\xff\xfe\xc3"},"values":[[%d,"1"]]}]}}' % t
    )


def unordered() -> bytes:
    t = now_ms() // 1000
    return json.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {"__name__": METRIC}, "values": [[t, "1"], [t - 1, "2"]]}],
            },
        }
    ).encode()


# (case id, reply factory, expected reason in the log, text expected in last_error)
CASES = [
    ("truncated JSON", lambda: Reply(body=good_body()[:-40]), "decode", "decoding response"),
    ("empty 200 body", lambda: Reply(body=b""), "decode", "decoding response"),
    ("HTML 200 body", lambda: Reply(body=b"<html>hi</html>"), "decode", "decoding response"),
    ("wrong types (number value)", lambda: Reply(body=wrong_types()), "decode", "values"),
    ("samples out of order", lambda: Reply(body=unordered()), "decode", "ascending"),
    ("deep nesting (100k)", lambda: Reply(body=deep(100_000)), "decode", "decoding response"),
    ("invalid UTF-8 label", lambda: Reply(body=invalid_utf8()), "decode", "decoding response"),
    ("body over max_response_bytes", lambda: Reply(body=b" " * (5 << 20)), "limit", ""),
    (
        "HTTP 503 plain text",
        lambda: Reply(status=503, body=b"Service Unavailable"),
        "http_status",
        "HTTP 503",
    ),
    (
        "HTTP 404 plain text",
        lambda: Reply(status=404, body=b"404 page not found"),
        "http_status",
        "HTTP 404",
    ),
    (
        "HTTP 400 bad_data envelope",
        lambda: Reply(status=400, body=envelope("bad_data", "parse error at char 3")),
        "api_error",
        "parse error at char 3",
    ),
    (
        "HTTP 422 execution envelope",
        lambda: Reply(
            status=422, body=envelope("execution", "query processing would load too many samples")
        ),
        "api_error",
        "too many samples",
    ),
    (
        "HTTP 503 unavailable envelope",
        lambda: Reply(status=503, body=envelope("unavailable", "tsdb not ready")),
        "api_error",
        "tsdb not ready",
    ),
    (
        "HTTP 302 redirect",
        lambda: Reply(
            status=302, body=b"", headers={"Location": "http://127.0.0.1:1/api/v1/query"}
        ),
        "http_status",
        "HTTP 302",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_response(env: tuple[FakeUpstream, procs.Proc], case: tuple) -> None:
    fake, d = env
    name, make_reply, reason, err_text = case
    stub = fu.Stub(d.target)
    try:
        wait_up_and_complete_past(stub, now_ms() - 3000)
        before_span = held_span(stub)
        before = stub.read_range(METRIC, *before_span)
        st0 = stub.status()
        log0 = fu.log_size(d)

        reply = make_reply()
        n0 = fake.count()
        fake.always(reply)
        # Two failed rounds: the fault is seen, counted and survived, not a one-off.
        procs.wait_until(
            lambda: stub.status().poll_failures_total >= st0.poll_failures_total + 2,
            20,
            "two failed polls",
        )
        st = stub.status()
        assert d.alive()
        assert st.upstream_state == pb.DOWN
        assert err_text in st.last_error, st.last_error
        fu.wait_log(d, rf"poll failed.*reason={reason}\b", start=log0)
        m = fu.metrics(d.web_url)
        if m is not None:
            key = f'promfeed_poll_failures_total{{reason="{reason}"}}'
            assert m.get(key, 0) >= 2, {k: v for k, v in m.items() if "poll" in k}
        # What was held is held unchanged.
        after = stub.read_range(METRIC, *before_span)
        assert after[0] == before[0]
        assert (after[1] == before[1]).all()
        assert (after[3] == before[3]).all()
        assert (after[2] == before[2]).all()

        fake.set_behaviour(None)
        outage_end = now_ms()
        wait_up_and_complete_past(stub, outage_end + 1000)
        span = held_span(stub)
        missing, wrong = check_store(stub, *span)
        hostile = sum(1 for r in fake.snapshot()[n0:] if r.outcome.startswith("reply"))
        fu.record(f"upstream: {name}", hostile, True, missing)
        assert (missing, wrong) == (0, 0), f"{missing} samples lost, {wrong} corrupt over {span}"
        assert span[0] <= before_span[0]
    finally:
        fake.set_behaviour(None)
        stub.close()


def test_hanging_upstream_times_out_and_streams_are_served(
    env: tuple[FakeUpstream, procs.Proc],
) -> None:
    """Item 2: an upstream that accepts and never answers. Each poll is abandoned after
    upstream.timeout (1 s); gRPC keeps answering promptly meanwhile; polling resumes."""
    fake, d = env
    stub = fu.Stub(d.target)
    try:
        wait_up_and_complete_past(stub, now_ms() - 3000)
        span = held_span(stub)
        log0 = fu.log_size(d)
        n0 = fake.count()
        fake.always(Reply(kind="hang"))
        fu.wait_log(d, r"poll failed.*reason=timeout.*timed out", start=log0)
        procs.wait_until(
            lambda: fake.count(lambda r: r.outcome.startswith("hang")) >= 2, 20, "2 hangs"
        )
        # Other work is never starved: status, listing, a range read and a whole historical
        # window stream answer quickly while the poller is stuck on the upstream.
        worst = 0.0
        for _ in range(10):
            dt, _ = fu.timed(stub.status)
            worst = max(worst, dt)
            dt, _ = fu.timed(lambda: stub.read_range(METRIC, *span))
            worst = max(worst, dt)
            req = pb.StreamWindowsRequest(
                features=[METRIC], step_ms=1000, window=5, start_ms=span[0], end_ms=span[1]
            )
            dt, msgs = fu.timed(lambda req=req: list(stub.s.StreamWindows(req, timeout=5)))
            worst = max(worst, dt)
            assert msgs[0].HasField("header") and len(msgs) >= 2
        assert worst < 1.0, f"a gRPC call took {worst:.2f}s while the upstream hung"
        st = stub.status()
        assert st.upstream_state == pb.DOWN and "timed out" in st.last_error, st
        fake.set_behaviour(None)
        # Each hung request was abandoned by the daemon within the timeout (+ slack).
        hung = [r for r in fake.snapshot()[n0:] if r.outcome.startswith("hang") and r.ended]
        assert hung and all(r.ended - r.started < 2.5 for r in hung), [
            round(r.ended - r.started, 2) for r in hung
        ]
        wait_up_and_complete_past(stub, now_ms() + 1000)
        missing, wrong = check_store(stub, *held_span(stub))
        fu.record("upstream accepts, never answers", len(hung), True, missing)
        assert (missing, wrong) == (0, 0)
    finally:
        fake.set_behaviour(None)
        stub.close()


def test_trickling_upstream_is_cut_at_the_timeout(env: tuple[FakeUpstream, procs.Proc]) -> None:
    """Item 2: an upstream answering one byte a second. The timeout bounds the whole request,
    not each read, so the daemon gives up after ~1 s instead of waiting for every byte."""
    fake, d = env
    stub = fu.Stub(d.target)
    try:
        wait_up_and_complete_past(stub, now_ms() - 3000)
        log0 = fu.log_size(d)
        n0 = fake.count()
        fake.always(Reply(kind="trickle", interval=1.0))
        fu.wait_log(d, r"poll failed.*reason=timeout", start=log0)
        procs.wait_until(
            lambda: len([r for r in fake.snapshot()[n0:] if r.ended]) >= 2, 30, "2 trickles ended"
        )
        fake.set_behaviour(None)
        cut = [r for r in fake.snapshot()[n0:] if r.outcome.startswith("trickle") and r.ended]
        # The write after the daemon closes fails on the next byte (<= 1 s later).
        assert cut and all(r.outcome == "trickle-aborted" for r in cut), [r.outcome for r in cut]
        assert all(r.ended - r.started < 3.5 for r in cut), [r.ended - r.started for r in cut]
        wait_up_and_complete_past(stub, now_ms() + 1000)
        missing, wrong = check_store(stub, *held_span(stub))
        fu.record("upstream trickles 1 byte/s", len(cut), True, missing)
        assert (missing, wrong) == (0, 0)
    finally:
        fake.set_behaviour(None)
        stub.close()


def test_slow_upstream_within_timeout_loses_nothing(env: tuple[FakeUpstream, procs.Proc]) -> None:
    """Item 2: every answer 0.7 s late (timeout 1 s): polls succeed, nothing is lost."""
    fake, d = env
    stub = fu.Stub(d.target)
    try:
        wait_up_and_complete_past(stub, now_ms() - 3000)
        st0 = stub.status()
        n0 = fake.count()
        fake.always(Reply(kind="delay", delay=0.7))
        procs.wait_until(
            lambda: fake.count(lambda r: r.outcome == "delay") >= 5, 30, "5 slow polls"
        )
        fake.set_behaviour(None)
        st = stub.status()
        assert st.poll_failures_total == st0.poll_failures_total, st.last_error
        assert st.upstream_state == pb.UP
        wait_up_and_complete_past(stub, now_ms() + 1000)
        missing, wrong = check_store(stub, *held_span(stub))
        fu.record("upstream answers 0.7 s late", fake.count() - n0, True, missing)
        assert (missing, wrong) == (0, 0)
    finally:
        fake.set_behaviour(None)
        stub.close()
