"""An in-process fake of the promfeed.v1 MetricFeed service, for unit tests of the reader.

It follows the proto's wire format exactly: grid t_k = k*step, a grid point takes the newest
sample in (t - lookback, t], NaN/PREVIOUS/ZERO/DROP fill, rows in blocks of
max_rows_per_message, windows k = rows [k*shift, k*shift + W). Series selectors support
`name`, `name{l="v", l!="v", l=~"re", l!~"re"}` and `{...}` only.
Test hooks: `loss_after_rows` (skip rows, announce lost windows), `follow_rows` (rows to emit
live after the history, one every `follow_period` s), `fail_with` (status code + message).
"""

from __future__ import annotations

import re
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import numpy as np

from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc

_SEL_RE = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(.*)\})?\s*$")
_MATCHER_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_selector(sel: str) -> list[tuple[str, str, str]]:
    m = _SEL_RE.match(sel)
    if not m or (m.group(1) is None and not m.group(2)):
        raise ValueError(f"malformed selector {sel!r}")
    out = []
    if m.group(1):
        out.append(("__name__", "=", m.group(1)))
    body = m.group(2) or ""
    pos = 0
    while pos < len(body.strip()):
        mm = _MATCHER_RE.match(body, pos)
        if not mm:
            raise ValueError(f"malformed selector {sel!r} at {body[pos:]!r}")
        out.append((mm.group(1), mm.group(2), mm.group(3)))
        pos = mm.end()
    return out


def matches(labels: dict[str, str], matchers: list[tuple[str, str, str]]) -> bool:
    for name, op, val in matchers:
        v = labels.get(name, "")
        if op == "=" and v != val:
            return False
        if op == "!=" and v == val:
            return False
        if op == "=~" and not re.fullmatch(val, v):
            return False
        if op == "!~" and re.fullmatch(val, v):
            return False
    return True


@dataclass
class FakeSeries:
    labels: dict[str, str]
    t: np.ndarray  # int64 ms, sorted
    v: np.ndarray  # float64

    def key(self) -> tuple:
        return tuple(sorted(self.labels.items()))

    def proto(self) -> pb.Series:
        return pb.Series(
            labels=[pb.Label(name=k, value=v) for k, v in sorted(self.labels.items())],
            samples_held=len(self.t),
            oldest_time_ms=int(self.t[0]) if len(self.t) else 0,
            newest_time_ms=int(self.t[-1]) if len(self.t) else 0,
        )


@dataclass
class FakeState:
    series: list[FakeSeries] = field(default_factory=list)
    step_ms: int = 1000
    now_ms: int = 0
    active_streams: int = 0
    loss_after_rows: int | None = None
    loss_rows: int = 0
    follow_rows: int = 0
    follow_period: float = 0.05
    fail_with: tuple[grpc.StatusCode, str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def grid_values(s: FakeSeries, grid: np.ndarray, lookback: int) -> np.ndarray:
    """Newest sample in (t - lookback, t] per grid time, NaN if none."""
    idx = np.searchsorted(s.t, grid, side="right") - 1
    out = np.full(len(grid), np.nan)
    ok = idx >= 0
    ok[ok] &= s.t[idx[ok]] > grid[ok] - lookback
    out[ok] = s.v[idx[ok]]
    return out


class FakeMetricFeed(pb_grpc.MetricFeedServicer):
    def __init__(self, state: FakeState) -> None:
        self.st = state

    def _select(self, selectors, context) -> list[FakeSeries]:
        out: list[FakeSeries] = []
        seen = set()
        for sel in selectors:
            try:
                ms = parse_selector(sel)
            except ValueError as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{e}; fix the PromQL selector")
            found = sorted((s for s in self.st.series if matches(s.labels, ms)), key=FakeSeries.key)
            if not found:
                context.abort(grpc.StatusCode.NOT_FOUND, f"selector {sel} matches no series")
            for s in found:
                if s.key() not in seen:
                    seen.add(s.key())
                    out.append(s)
        return out

    def _maybe_fail(self, context) -> None:
        if self.st.fail_with:
            context.abort(*self.st.fail_with)

    def ListSeries(self, request, context):
        self._maybe_fail(context)
        out = []
        for sel in request.selectors or ['{__name__=~".+"}']:
            try:
                ms = parse_selector(sel)
            except ValueError as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            out += [s for s in self.st.series if matches(s.labels, ms)]
        uniq = {s.key(): s for s in out}
        return pb.ListSeriesResponse(series=[uniq[k].proto() for k in sorted(uniq)])

    def GetStatus(self, request, context):
        return pb.GetStatusResponse(
            version="fake",
            ready=True,
            upstream_state=pb.UP,
            active_streams=self.st.active_streams,
            poll_interval_ms=self.st.step_ms,
            series_count=len(self.st.series),
            complete_through_ms=self.st.now_ms,
        )

    def _grid(self, start, end, step):
        first = -(-start // step) * step
        last = (end // step) * step
        return np.arange(first, last + 1, step, dtype=np.int64)

    def ReadRange(self, request, context):
        self._maybe_fail(context)
        if request.start_ms <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "start_ms is required")
        cols = self._select(request.selectors, context)
        step = request.step_ms or self.st.step_ms
        lb = request.lookback_ms or 2 * step
        grid = self._grid(request.start_ms, request.end_ms or self.st.now_ms, step)
        vals = (
            np.stack([grid_values(s, grid, lb) for s in cols], axis=1)
            if cols
            else np.zeros((len(grid), 0))
        )
        per = request.max_rows_per_message or 1000
        with self.st.lock:
            self.st.active_streams += 1
        try:
            i = 0
            first = True
            while first or i < len(grid):
                r = slice(i, i + per)
                v = np.ascontiguousarray(vals[r])
                yield pb.ReadRangeResponse(
                    series=[s.proto() for s in cols] if first else [],
                    time_ms=grid[r].astype("<i8").tobytes(),
                    values=v.astype("<f8").tobytes(),
                    mask=(~np.isnan(v)).astype(np.uint8).tobytes(),
                    row_count=len(grid[r]),
                )
                first = False
                i += per
        finally:
            with self.st.lock:
                self.st.active_streams -= 1

    def StreamWindows(self, request, context):
        self._maybe_fail(context)
        if request.window < 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "window must be >= 1")
        cols = self._select(request.features, context)
        step = request.step_ms or self.st.step_ms
        lb = request.lookback_ms or 2 * step
        shift = request.shift or 1
        w = request.window
        dt = np.dtype("<f8") if request.dtype == pb.FLOAT64 else np.dtype("<f4")
        start = request.start_ms or min(int(s.t[0]) for s in cols)
        end = self.st.now_ms if (request.follow or not request.end_ms) else request.end_ms
        grid = self._grid(start, end, step)
        fill = request.fill or pb.NAN_MASK
        per = request.max_rows_per_message or 256
        with self.st.lock:
            self.st.active_streams += 1
        try:
            yield pb.StreamWindowsResponse(
                header=pb.WindowHeader(
                    features=[s.proto() for s in cols],
                    feature_selector_index=[0] * len(cols),
                    step_ms=step,
                    lookback_ms=lb,
                    window=w,
                    shift=shift,
                    fill=fill,
                    dtype=request.dtype or pb.FLOAT32,
                    start_time_ms=int(grid[0]) if len(grid) else start,
                    end_time_ms=0 if request.follow else (int(grid[-1]) if len(grid) else 0),
                )
            )
            t0 = int(grid[0]) if len(grid) else start
            state = {
                "prev": np.full(len(cols), np.nan),
                "dropped": 0,
                "lost": 0,
                "next": 0,
                "bad": np.zeros(0, bool),
            }

            def block(rows_t: np.ndarray, first_row: int, lost: int) -> pb.StreamWindowsResponse:
                raw = np.stack([grid_values(s, rows_t, lb) for s in cols], axis=1)
                real = ~np.isnan(raw)
                vals = raw.copy()
                if fill == pb.PREVIOUS:
                    for r in range(len(vals)):
                        miss = np.isnan(vals[r])
                        vals[r, miss] = state["prev"][miss]
                        state["prev"] = vals[r].copy()
                elif fill == pb.ZERO:
                    vals[~real] = 0.0
                # rows_bad over all rows seen since the last jump, for DROP
                if lost:
                    state["bad"] = np.zeros(0, bool)
                    state["base"] = first_row
                state.setdefault("base", first_row)
                state["bad"] = np.concatenate([state["bad"], ~real.all(axis=1)])
                last = first_row + len(rows_t) - 1
                k_hi = (last - w + 1) // shift if last - w + 1 >= 0 else -1
                k_lo = max(state["next"], -(-state["base"] // shift))
                n = max(0, k_hi - k_lo + 1)
                dropped = []
                if fill == pb.DROP:
                    for k in range(k_lo, k_lo + n):
                        a = k * shift - state["base"]
                        if state["bad"][a : a + w].any():
                            dropped.append(k)
                state["dropped"] += len(dropped)
                state["lost"] += lost
                if n:
                    state["next"] = k_lo + n
                return pb.StreamWindowsResponse(
                    rows=pb.RowBlock(
                        first_row_index=first_row,
                        row_count=len(rows_t),
                        time_ms=rows_t.astype("<i8").tobytes(),
                        values=vals.astype(dt).tobytes(),
                        mask=b"" if real.all() else real.astype(np.uint8).tobytes(),
                        first_window_index=k_lo if n else 0,
                        window_count=n,
                        dropped_window_indices=dropped,
                        lost_windows=lost,
                        dropped_windows_total=state["dropped"],
                        lost_windows_total=state["lost"],
                    )
                )

            r = 0
            loss_at = self.st.loss_after_rows
            while r < len(grid):
                lost = 0
                if loss_at is not None and r >= loss_at:
                    skip = self.st.loss_rows
                    old_next = state["next"]
                    r += skip
                    loss_at = None
                    # windows that would have completed in the skipped rows, and can't now
                    new_lo = -(-r // shift)
                    lost = max(0, new_lo - old_next)
                    state["next"] = max(old_next, new_lo)
                    if r >= len(grid):
                        break
                hi = min(len(grid), r + per)
                if loss_at is not None:
                    hi = min(hi, max(loss_at, r + 1))
                yield block(grid[r:hi], r, lost)
                r = hi
            if request.follow:
                for _ in range(self.st.follow_rows):
                    if not context.is_active():
                        return
                    time.sleep(self.st.follow_period)
                    t = np.array([t0 + r * step], np.int64)
                    yield block(t, r, 0)
                    r += 1
                while context.is_active():  # live edge: nothing new, hold the stream open
                    time.sleep(0.02)
        finally:
            with self.st.lock:
                self.st.active_streams -= 1


class FakeDaemon:
    """Runs FakeMetricFeed on 127.0.0.1:<free port>; a context manager."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pb_grpc.add_MetricFeedServicer_to_server(FakeMetricFeed(state), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{port}"

    def __enter__(self) -> FakeDaemon:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(grace=0.5).wait()
