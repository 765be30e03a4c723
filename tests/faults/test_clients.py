"""Issue 5 item 5: many misbehaving gRPC clients at once, and random invalid requests.

50 concurrent follow streams over 1000 series (fast, slow, pausing, cancelling and killed
readers): polling keeps its pace, memory stays bounded, readers that fall behind the ring are
told how many windows they lost, and the stream count returns to zero. Requests with random
field values get documented status codes and never crash the daemon."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
import pytest

from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc
from tests.faults import faultutil as fu
from tests.faults.conftest import fake_config
from tests.faults.fake_upstream import METRIC, FakeUpstream
from tests.harness import procs

SERIES = 1000
RETENTION_S = 10
# No BDP probing: the client's HTTP/2 window stays at 64 KiB, so a reader that stops reading
# stalls the server's writes after a few rows instead of megabytes later.
CHANNEL_OPTIONS = [("grpc.http2.bdp_probe", 0), ("grpc.max_receive_message_length", 64 << 20)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeUpstream, procs.Proc]]:
    if not procs.daemon_bin().exists():
        pytest.skip(f"no daemon binary at {procs.daemon_bin()}")
    with FakeUpstream(series=SERIES) as fake:
        cfg = fake_config(
            fake.url,
            **{"global": {"poll_interval": "1s", "backfill": f"{RETENTION_S}s"}},
            storage={"retention": f"{RETENTION_S}s", "max_series": 2 * SERIES},
        )
        d = procs.start_daemon(cfg, tmp_path_factory.mktemp("clients"))
        try:
            yield fake, d
        finally:
            d.stop()


def follow_request() -> pb.StreamWindowsRequest:
    return pb.StreamWindowsRequest(
        features=[METRIC], window=5, follow=True, dtype=pb.FLOAT64, max_rows_per_message=1
    )


@dataclass
class Reader:
    kind: str
    rows: int = 0
    lost_total: int = 0
    gaps_unannounced: int = 0
    error: str = ""
    call: object = None
    done: threading.Event = field(default_factory=threading.Event)


def run_reader(target: str, r: Reader, stop: threading.Event) -> None:
    ch = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
    try:
        call = pb_grpc.MetricFeedStub(ch).StreamWindows(follow_request(), timeout=120)
        r.call = call
        expect = None
        for i, msg in enumerate(call):
            if msg.HasField("header"):
                if r.kind == "pause":
                    stop.wait(25)  # Far longer than the ring (10 s) lasts.
                continue
            b = msg.rows
            if expect is not None and b.first_row_index != expect and b.lost_windows == 0:
                r.gaps_unannounced += 1
            expect = b.first_row_index + b.row_count
            r.rows += b.row_count
            r.lost_total = b.lost_windows_total
            if r.kind == "slow":
                time.sleep(0.5)
            if r.kind == "cancel" and i >= 3:
                call.cancel()
                break
            if stop.is_set():
                call.cancel()
                break
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.CANCELLED:
            r.error = f"{e.code()}: {e.details()}"
    finally:
        ch.close()
        r.done.set()


KILLED_CLIENT = """
import sys, grpc
from promfeed.v1 import metric_feed_pb2 as pb, metric_feed_pb2_grpc as pb_grpc
calls = []
for _ in range(5):
    ch = grpc.insecure_channel(sys.argv[1])
    c = pb_grpc.MetricFeedStub(ch).StreamWindows(
        pb.StreamWindowsRequest(features=["fake_metric"], window=5, follow=True), timeout=120)
    next(c)
    calls.append((ch, c))
print("streaming", flush=True)
sys.stdin.read()
"""


def test_fifty_streams_misbehaving(env: tuple[FakeUpstream, procs.Proc]) -> None:
    fake, d = env
    stub = fu.Stub(d.target)
    stop = threading.Event()
    kinds = ["fast"] * 20 + ["slow"] * 10 + ["pause"] * 10 + ["cancel"] * 5
    readers = [Reader(k) for k in kinds]
    killed = None
    try:
        rss0 = fu.rss_kb(d.pid)
        threads = [
            threading.Thread(target=run_reader, args=(d.target, r, stop), daemon=True)
            for r in readers
        ]
        for t in threads:
            t.start()
        killed = subprocess.Popen(
            [sys.executable, "-c", KILLED_CLIENT, d.target],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert killed.stdout is not None and killed.stdout.readline().strip() == b"streaming"
        procs.wait_until(lambda: stub.status().active_streams >= 45, 20, "streams open")
        killed.send_signal(signal.SIGKILL)  # Five streams vanish without a goodbye.
        killed.wait(10)

        # While streams run: the poller keeps its 1 s pace and memory stays flat.
        lags, durations, rss_peak = [], [], rss0
        t_end = time.monotonic() + 30
        while time.monotonic() < t_end:
            st = stub.status()
            lags.append(int(time.time() * 1000) - st.complete_through_ms)
            durations.append(st.last_poll_duration_ms)
            rss_peak = max(rss_peak, fu.rss_kb(d.pid))
            stop.wait(0.5)
        stop.set()
        for r in readers:
            if r.call is not None:
                r.call.cancel()
        for r in readers:
            assert r.done.wait(30), f"{r.kind} reader did not finish"
        procs.wait_until(lambda: stub.status().active_streams == 0, 15, "active_streams == 0")
        rss1 = fu.rss_kb(d.pid)
        assert d.alive()

        errors = [f"{r.kind}: {r.error}" for r in readers if r.error]
        assert not errors, errors
        by = {k: [r for r in readers if r.kind == k] for k in set(kinds)}
        # Poller not delayed: complete_through trails the wall clock by about two intervals.
        assert max(lags) < 3500, f"ingestion fell behind: lag up to {max(lags)} ms"
        assert max(durations) < 800, f"a poll took {max(durations)} ms"
        # Readers that kept up lost nothing; every reader that paused past the ring was told.
        assert all(r.lost_total == 0 and r.rows >= 20 for r in by["fast"]), [
            (r.rows, r.lost_total) for r in by["fast"]
        ]
        assert all(r.lost_total > 0 for r in by["pause"]), [r.lost_total for r in by["pause"]]
        assert all(r.gaps_unannounced == 0 for r in readers)
        # Bounded memory: a slow reader costs a cursor, not a queue.
        assert rss_peak - rss0 < 100 * 1024, f"RSS {rss0} -> peak {rss_peak} kB"
        fu.record(
            "50 streams: 20 fast, 10 slow, 10 paused 25 s, 5 cancelled, 5 SIGKILLed clients",
            50,
            True,
            0,
            f"poll lag max {max(lags)} ms; lost windows told to paused readers "
            f"{min(r.lost_total for r in by['pause'])}..{max(r.lost_total for r in by['pause'])}; "
            f"RSS {rss0 // 1024} -> peak {rss_peak // 1024} -> {rss1 // 1024} MiB",
        )
    finally:
        stop.set()
        for r in readers:
            if r.call is not None:
                r.call.cancel()
        if killed and killed.poll() is None:
            killed.kill()
        stub.close()


# Status codes the API documents for bad requests (proto header comment).
DOCUMENTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def random_value(rng: random.Random) -> int:
    return rng.choice(
        [0, 1, -1, 2**63 - 1, -(2**63), 2**31 - 1, -(2**31), rng.randint(-(10**15), 10**15)]
        + [int(time.time() * 1000) + rng.randint(-20_000, 5000)] * 3
    )


def random_i32(rng: random.Random) -> int:
    return rng.choice([0, 1, -1, 2**31 - 1, -(2**31), rng.randint(-100, 100), 5])


def random_selector(rng: random.Random) -> str:
    pieces = ["fake_metric", "{", "}", "=", "=~", '"', "job", "i", ".*", "(", ",", "\\", "\x00"]
    choice = rng.random()
    if choice < 0.3:
        return rng.choice([METRIC, 'fake_metric{instance="i1"}', '{job="fake"}', "nothing_here"])
    if choice < 0.6:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
    return "".join(chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(0, 20)))


def test_random_invalid_requests(env: tuple[FakeUpstream, procs.Proc]) -> None:
    fake, d = env
    rng = random.Random(5)
    stub = fu.Stub(d.target)
    codes: dict[str, int] = {}
    bad: list[str] = []
    n = 300
    try:
        for i in range(n):
            kind = i % 3
            sels = [random_selector(rng) for _ in range(rng.randint(0, 3))]
            try:
                if kind == 0:
                    stub.s.ListSeries(
                        pb.ListSeriesRequest(selectors=sels, limit=random_i32(rng)), timeout=5
                    )
                    code, details = grpc.StatusCode.OK, ""
                else:
                    if kind == 1:
                        req = pb.ReadRangeRequest(
                            selectors=sels,
                            start_ms=random_value(rng),
                            end_ms=random_value(rng),
                            step_ms=random_value(rng),
                            lookback_ms=random_value(rng),
                            max_rows_per_message=random_i32(rng),
                        )
                        call = stub.s.ReadRange(req, timeout=5)
                    else:
                        req = pb.StreamWindowsRequest(
                            features=sels,
                            step_ms=random_value(rng),
                            window=random_i32(rng),
                            shift=random_i32(rng),
                            fill=rng.randint(-3, 8),
                            start_ms=random_value(rng),
                            end_ms=random_value(rng),
                            follow=rng.random() < 0.3,
                            dtype=rng.randint(-2, 5),
                            lookback_ms=random_value(rng),
                            max_rows_per_message=random_i32(rng),
                        )
                        call = stub.s.StreamWindows(req, timeout=5)
                    for j, _ in enumerate(call):  # The first few messages, then hang up.
                        if j >= 2:
                            call.cancel()
                            break
                    code, details = grpc.StatusCode.OK, ""
            except grpc.RpcError as e:
                code, details = e.code(), e.details() or ""
                if code == grpc.StatusCode.CANCELLED:
                    code = grpc.StatusCode.OK  # We hung up on a working stream.
            codes[code.name] = codes.get(code.name, 0) + 1
            if code not in DOCUMENTED or (code != grpc.StatusCode.OK and not details):
                bad.append(f"{code.name} {details!r} for request #{i}")
            assert d.alive(), f"daemon died on request #{i}\n{d.describe()}"
        procs.wait_until(lambda: stub.status().active_streams == 0, 15, "active_streams == 0")
        fu.record(f"random invalid requests {dict(sorted(codes.items()))}", n, d.alive(), 0)
        assert not bad, bad[:10]
        assert stub.status().upstream_state == pb.UP
    finally:
        stub.close()
