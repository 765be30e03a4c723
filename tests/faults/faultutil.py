"""Helpers for the fault tests: gRPC calls, daemon state, log lines, /metrics, RSS, and the
results table (tests/faults write one row per fault tried; conftest prints the table)."""

from __future__ import annotations

import math
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc
from tests.harness import procs

__all__ = [
    "RESULTS",
    "Result",
    "Stub",
    "key",
    "log_text",
    "metrics",
    "record",
    "rss_kb",
    "wait_log",
]

STEP = 1000


@dataclass
class Result:
    fault: str
    count: int
    survived: bool
    samples_lost: int | str
    note: str = ""


RESULTS: list[Result] = []


def record(fault: str, count: int, survived: bool, samples_lost: int | str, note: str = "") -> None:
    RESULTS.append(Result(fault, count, survived, samples_lost, note))


def key(series: pb.Series) -> tuple:
    return tuple(sorted((lbl.name, lbl.value) for lbl in series.labels))


class Stub:
    """A MetricFeed stub on its own channel, with the calls the fault tests make."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.insecure_channel(target)
        self.s = pb_grpc.MetricFeedStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def status(self, timeout: float = 5) -> pb.GetStatusResponse:
        return self.s.GetStatus(pb.GetStatusRequest(), timeout=timeout)

    def series(self, selector: str, timeout: float = 10) -> list[pb.Series]:
        req = pb.ListSeriesRequest(selectors=[selector] if selector else [])
        return list(self.s.ListSeries(req, timeout=timeout).series)

    def read_range(
        self, selector: str, start: int, end: int, lookback: int = STEP
    ) -> tuple[list[tuple], np.ndarray, np.ndarray, np.ndarray]:
        """(series keys, times [R], values [R, S], mask [R, S]) on the 1 s grid."""
        msgs = list(
            self.s.ReadRange(
                pb.ReadRangeRequest(
                    selectors=[selector],
                    start_ms=start,
                    end_ms=end,
                    step_ms=STEP,
                    lookback_ms=lookback,
                ),
                timeout=30,
            )
        )
        series = [key(x) for x in msgs[0].series]
        times = np.concatenate([np.frombuffer(m.time_ms, dtype="<i8") for m in msgs])
        values = np.concatenate([np.frombuffer(m.values, dtype="<f8") for m in msgs])
        mask = np.concatenate([np.frombuffer(m.mask, dtype=np.uint8) for m in msgs])
        return (
            series,
            times,
            values.reshape(len(times), len(series)),
            mask.reshape(len(times), len(series)),
        )


def log_text(proc: procs.Proc, start: int = 0) -> str:
    return proc.log_path.read_bytes()[start:].decode(errors="replace")


def log_size(proc: procs.Proc) -> int:
    return proc.log_path.stat().st_size


def wait_log(proc: procs.Proc, pattern: str, timeout: float = 30, start: int = 0) -> re.Match:
    """Waits until the daemon's log from byte `start` matches `pattern`."""
    rx = re.compile(pattern)
    return procs.wait_until(
        lambda: rx.search(log_text(proc, start)),
        timeout,
        f"log line /{pattern}/",
        on_timeout=proc.describe,
    )


def metrics(web_url: str) -> dict[str, float] | None:
    """The daemon's /metrics as {'name{labels}': value}; None when there is no such endpoint."""
    try:
        with urllib.request.urlopen(web_url + "/metrics", timeout=5) as r:
            text = r.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def http_status(url: str) -> int | None:
    """The status of GET url, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


def rss_kb(pid: int) -> int:
    """VmRSS of `pid` in kB, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.monotonic()
    v = fn()
    return time.monotonic() - t0, v


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b
