"""Issue 5 item 6: SIGTERM while 20 follow streams and 4 range readers pull 1000 series as
fast as they can. The daemon exits 0 within server.shutdown_timeout (2 s) plus process
teardown, every stream ends with a status (none hangs), and the log says it stopped."""

from __future__ import annotations

import signal
import threading
import time

import grpc

from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc
from tests.faults import faultutil as fu
from tests.faults.conftest import fake_config
from tests.faults.fake_upstream import METRIC, FakeUpstream
from tests.harness import procs

SHUTDOWN_TIMEOUT_S = 2
# Outside the daemon's deadline: process exit and our polling of its state.
SLACK_S = 3


def test_sigterm_during_heavy_streaming(tmp_path) -> None:
    if not procs.daemon_bin().exists():
        import pytest

        pytest.skip(f"no daemon binary at {procs.daemon_bin()}")
    with FakeUpstream(series=1000) as fake:
        cfg = fake_config(fake.url, server={"shutdown_timeout": f"{SHUTDOWN_TIMEOUT_S}s"})
        d = procs.start_daemon(cfg, tmp_path / "promfeed")
        stub = fu.Stub(d.target)
        ends: list[str] = []
        rows = [0]
        lock = threading.Lock()
        started = threading.Barrier(25)

        def follow() -> None:
            ch = grpc.insecure_channel(d.target)
            try:
                req = pb.StreamWindowsRequest(
                    features=[METRIC], window=10, follow=True, max_rows_per_message=1
                )
                call = pb_grpc.MetricFeedStub(ch).StreamWindows(req, timeout=60)
                first = True
                for msg in call:
                    if first:
                        started.wait(20)
                        first = False
                    with lock:
                        rows[0] += msg.rows.row_count
                end = "OK"
            except grpc.RpcError as e:
                end = e.code().name
            finally:
                ch.close()
            with lock:
                ends.append(end)

        def ranges() -> None:
            ch = grpc.insecure_channel(d.target)
            s = pb_grpc.MetricFeedStub(ch)
            first = True
            try:
                while True:
                    req = pb.ReadRangeRequest(
                        selectors=[METRIC], start_ms=1, max_rows_per_message=1
                    )
                    try:
                        for _ in s.ReadRange(req, timeout=10):
                            pass
                    except grpc.RpcError as e:
                        if e.code() != grpc.StatusCode.OUT_OF_RANGE:
                            raise
                    listed = s.ListSeries(pb.ListSeriesRequest(selectors=[METRIC]), timeout=10)
                    req.start_ms = listed.series[0].oldest_time_ms
                    for msg in s.ReadRange(req, timeout=10):
                        with lock:
                            rows[0] += msg.row_count
                    if first:
                        started.wait(20)
                        first = False
            except grpc.RpcError as e:
                with lock:
                    ends.append(e.code().name)
            finally:
                ch.close()

        threads = [threading.Thread(target=follow, daemon=True) for _ in range(20)]
        threads += [threading.Thread(target=ranges, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        started.wait(30)
        procs.wait_until(lambda: stub.status().active_streams >= 20, 20, "20+ streams open")
        procs.wait_until(lambda: rows[0] >= 5000, 30, "5000 rows streamed")
        stub.close()
        rows_before = rows[0]
        log0 = fu.log_size(d)
        d.popen.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        code = d.popen.wait(SHUTDOWN_TIMEOUT_S + SLACK_S + 10)
        took = time.monotonic() - t0
        for t in threads:
            t.join(15)
        hung = [t for t in threads if t.is_alive()]
        fu.record(
            "SIGTERM during 24 busy streams",
            1,
            code == 0,
            0,
            f"exit {code} after {took:.2f} s, {rows_before} rows (1000 series) streamed before; "
            f"stream ends {sorted(set(ends))}",
        )
        assert code == 0, d.describe()
        assert took < SHUTDOWN_TIMEOUT_S + SLACK_S, f"took {took:.2f}s"
        assert not hung, f"{len(hung)} client streams never ended"
        assert len(ends) == 24 and set(ends) <= {"UNAVAILABLE", "CANCELLED", "OK"}, ends
        assert "stopped" in fu.log_text(d, log0)
        d.stop()
