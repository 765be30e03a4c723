"""Decoding of promfeed.v1 wire blocks into numpy arrays, and window assembly.

No per-sample Python objects: every bulk field is decoded with one `numpy.frombuffer`, and
windows are `sliding_window_view`s over the received rows (rows are carried across messages).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from promfeed._types import Fill, SeriesList, StreamHeader, WindowBatch
from promfeed.errors import ProtocolError
from promfeed.v1 import metric_feed_pb2 as pb

_I64 = np.dtype("<i8")
_F64 = np.dtype("<f8")
_DTYPES = {pb.DTYPE_UNSPECIFIED: np.dtype("<f4"), pb.FLOAT32: np.dtype("<f4"), pb.FLOAT64: _F64}


def wire_dtype(d: int) -> np.dtype:
    """Numpy dtype of a proto DType value."""
    try:
        return _DTYPES[d]
    except KeyError:
        raise ProtocolError(f"unknown dtype {d} in stream header") from None


def decode_block(
    time_bytes: bytes,
    value_bytes: bytes,
    mask_bytes: bytes,
    rows: int,
    cols: int,
    dtype: np.dtype,
    what: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Decodes raw little-endian fields into (time int64[R], values [R, C], mask bool[R, C]|None).

    Raises ProtocolError when a field's length does not match rows x cols.
    """
    if rows < 0:
        raise ProtocolError(f"{what}: negative row_count {rows}")
    if len(time_bytes) != rows * 8:
        raise ProtocolError(f"{what}: time_ms has {len(time_bytes)} bytes, want {rows} x 8")
    if len(value_bytes) != rows * cols * dtype.itemsize:
        raise ProtocolError(
            f"{what}: values has {len(value_bytes)} bytes, want {rows} x {cols} x {dtype.itemsize}"
        )
    t = np.frombuffer(time_bytes, dtype=_I64)
    v = np.frombuffer(value_bytes, dtype=dtype).reshape(rows, cols)
    m: np.ndarray | None = None
    if mask_bytes:
        if len(mask_bytes) != rows * cols:
            raise ProtocolError(f"{what}: mask has {len(mask_bytes)} bytes, want {rows} x {cols}")
        m = np.frombuffer(mask_bytes, dtype=np.uint8).reshape(rows, cols).view(np.bool_)
    return t, v, m


def header_from_proto(h: pb.WindowHeader) -> StreamHeader:
    if h.window < 1:
        raise ProtocolError(f"stream header has window {h.window} (< 1)")
    return StreamHeader(
        features=SeriesList(h.features, header=h),
        feature_selector_index=list(h.feature_selector_index),
        step_ms=h.step_ms,
        lookback_ms=h.lookback_ms,
        window=h.window,
        shift=max(1, h.shift),
        fill=Fill.from_proto(h.fill),
        dtype=wire_dtype(h.dtype),
        start_time_ms=h.start_time_ms,
        end_time_ms=h.end_time_ms,
    )


@dataclass(frozen=True)
class RowStep:
    """What one RowBlock brought (WindowAssembler.feed_rows).

    first_row: grid row index of values[0]; time_ms int64[R], values [R, F], mask bool[R, F]
    or None: the block's rows (zero-copy views of the message bytes). reset: a loss was
    announced before this block; rows received before it can no longer be in a window.
    index: the windows completed here that were not dropped (window k starts at row
    k * shift). dropped, lost: as in WindowBatch. next_window: the first window a later block
    can complete.
    """

    first_row: int
    time_ms: np.ndarray
    values: np.ndarray
    mask: np.ndarray | None
    reset: bool
    index: np.ndarray
    dropped: np.ndarray
    lost: int
    next_window: int


@dataclass
class _Step:
    first: int
    t: np.ndarray
    v: np.ndarray
    m: np.ndarray | None
    reset: bool
    ct: np.ndarray
    cv: np.ndarray
    cm: np.ndarray | None
    n: int
    s0: int  # position in cv of the first completed window (when n > 0)
    index: np.ndarray
    keep: np.ndarray | None
    dropped: np.ndarray
    lost: int


class WindowAssembler:
    """Turns a stream's RowBlocks into WindowBatches. Not thread-safe (one per stream).

    Invariants:
      1. Held rows are consecutive: row indices [held_first, held_first + len(held)).
      2. Rows arrive in order; rows before next_row are never revised.
      3. Held rows start no earlier than next_window * shift (older rows can't be in a window).
    """

    def __init__(self, header: StreamHeader) -> None:
        self.header = header
        self._w = header.window
        self._shift = header.shift
        self._f = header.num_features
        self._t = np.zeros(0, _I64)
        self._v = np.zeros((0, self._f), header.dtype)
        self._m: np.ndarray | None = None
        self._held_first = 0
        self._next_row = 0
        self._next_window = 0
        self.rows_received = 0
        self.windows_emitted = 0
        self.dropped_windows_total = 0
        self.lost_windows_total = 0

    @property
    def next_row(self) -> int:
        return self._next_row

    def feed(self, block: pb.RowBlock) -> WindowBatch | None:
        """Consumes one RowBlock; returns the windows it completes (None when it completes none
        and reports no loss or drop). Raises ProtocolError on contract violations."""
        st = self._step(block)
        batch: WindowBatch | None = None
        if st.n > 0:
            s0 = st.s0
            stop = s0 + (st.n - 1) * self._shift + 1
            x = sliding_window_view(st.cv, self._w, axis=0)[s0 : stop : self._shift].swapaxes(1, 2)
            tw = sliding_window_view(st.ct, self._w)[s0 : stop : self._shift]
            mw = None
            if st.cm is not None:
                mw = sliding_window_view(st.cm, self._w, axis=0)[s0 : stop : self._shift]
                mw = mw.swapaxes(1, 2)
            idx = st.index
            if st.keep is not None:
                x, tw = x[st.keep], tw[st.keep]
                if mw is not None:
                    mw = mw[st.keep]
            batch = WindowBatch(
                x=x, time_ms=tw, index=idx, mask=mw, dropped=st.dropped, lost=st.lost
            )
        elif st.lost > 0 or st.dropped.size:
            batch = WindowBatch(
                x=np.zeros((0, self._w, self._f), self.header.dtype),
                time_ms=np.zeros((0, self._w), _I64),
                index=np.zeros(0, np.int64),
                dropped=st.dropped,
                lost=st.lost,
            )
        return batch

    def feed_rows(self, block: pb.RowBlock) -> RowStep:
        """Consumes one RowBlock like feed(), but returns the block's new rows and the start
        rows of the windows it completes instead of window views (for callers that form
        windows themselves, e.g. inside a TensorFlow graph)."""
        st = self._step(block)
        return RowStep(
            first_row=st.first,
            time_ms=st.t,
            values=st.v,
            mask=st.m,
            reset=st.reset,
            index=st.index,
            dropped=st.dropped,
            lost=st.lost,
            next_window=self._next_window,
        )

    def _step(self, block: pb.RowBlock) -> _Step:
        first = block.first_row_index
        rows = block.row_count
        what = f"RowBlock(first_row_index={first})"
        if first < self._next_row:
            raise ProtocolError(
                f"{what} revises rows: rows up to {self._next_row - 1} were already received"
            )
        reset = False
        if block.lost_windows > 0 or first > self._next_row:
            # A jump follows a loss: rows held before it can no longer complete a window.
            reset = True
            self._t = self._t[:0]
            self._v = self._v[:0]
            self._m = None
            self._held_first = first
            self._next_window = max(self._next_window, -(-first // self._shift))
        t, v, m = decode_block(
            block.time_ms, block.values, block.mask, rows, self._f, self.header.dtype, what
        )
        if len(self._t) == 0:
            ct, cv, cm = t, v, m
            self._held_first = first
        else:
            ct = np.concatenate((self._t, t))
            cv = np.concatenate((self._v, v))
            if m is None and self._m is None:
                cm = None
            else:
                held_m = self._m if self._m is not None else np.ones(self._v.shape, np.bool_)
                new_m = m if m is not None else np.ones(v.shape, np.bool_)
                cm = np.concatenate((held_m, new_m))
        base = self._held_first
        self._next_row = first + rows
        self.rows_received += rows
        self.dropped_windows_total = block.dropped_windows_total
        self.lost_windows_total = block.lost_windows_total

        n = block.window_count
        dropped = np.asarray(block.dropped_window_indices, dtype=np.int64)
        lost = int(block.lost_windows)
        idx = np.zeros(0, np.int64)
        s0 = 0
        keep: np.ndarray | None = None
        if n > 0:
            k0 = block.first_window_index
            if k0 < self._next_window:
                raise ProtocolError(
                    f"{what} completes window {k0} again (next is {self._next_window})"
                )
            s0 = k0 * self._shift - base
            end = (k0 + n - 1) * self._shift + self._w - base
            if s0 < 0 or end > len(cv):
                raise ProtocolError(
                    f"{what} claims windows {k0}..{k0 + n - 1} spanning rows "
                    f"{k0 * self._shift}..{end + base - 1}, but rows {base}..{base + len(cv) - 1} "
                    "are held"
                )
            idx = np.arange(k0, k0 + n, dtype=np.int64)
            if dropped.size:
                if dropped.min() < k0 or dropped.max() >= k0 + n:
                    raise ProtocolError(
                        f"{what}: dropped_window_indices {dropped.tolist()} outside the "
                        f"completed windows {k0}..{k0 + n - 1}"
                    )
                keep = ~np.isin(idx, dropped)
                idx = idx[keep]
            self._next_window = k0 + n
            self.windows_emitted += len(idx)
        step = _Step(
            first=first,
            t=t,
            v=v,
            m=m,
            reset=reset,
            ct=ct,
            cv=cv,
            cm=cm,
            n=n,
            s0=s0,
            index=idx,
            keep=keep,
            dropped=dropped,
            lost=lost,
        )
        # Keep only rows a future window can still use.
        keep_from = min(max(self._next_window * self._shift - base, 0), len(cv))
        self._t, self._v = ct[keep_from:], cv[keep_from:]
        self._m = cm[keep_from:] if cm is not None else None
        self._held_first = base + keep_from
        return step
