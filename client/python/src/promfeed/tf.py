"""promfeed.tf: the promfeed daemon's windows or grid rows as a `tf.data.Dataset`.

Importing this module imports TensorFlow (install the extra: `pip install promfeed[tf]`).

    ds = promfeed.tf.windows("127.0.0.1:9401", ["go_memstats_gc_sys_bytes"],
                             window=30, shift=1, horizon=1)
    model.fit(ds.shuffle(1024).batch(32).prefetch(tf.data.AUTOTUNE), epochs=5)

How y relates to x: the dataset asks the daemon for windows of `window + horizon` grid rows,
`shift` rows apart, and splits each one: x = its first `window` rows (all F feature columns),
y = the `horizon` rows right after them, of the target columns only. So for window k
(rows [k*shift, k*shift + window + horizon)), x[i] is grid row k*shift + i and y[j] is grid
row k*shift + window + j. With horizon=1, y is "the next step" of the targets.

For windowing or aggregating in TensorFlow yourself, `rows()` gives the grid rows as they
arrive, in blocks: `(time_ms int64[R], values [R, F])`.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from numpy.lib.stride_tricks import sliding_window_view

from promfeed._columns import ColumnMap, ExpectedColumns, resolve_columns
from promfeed._decode import RowStep
from promfeed._types import Fill, Series
from promfeed.client import Client, DurationLike, TimeLike, WindowStream
from promfeed.errors import ProtocolError

__all__ = ["windows", "WindowsInfo", "rows", "RowsInfo"]

# Unbatched datasets form windows in groups of about this many bytes of x, then unbatch.
_GROUP_BYTES = 16 << 20
# rows() cuts its blocks at about this many bytes (times, values and mask of its rows).
_BLOCK_BYTES = 4 << 20
_ALIGN = 64
_I64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)
_FREE_REFS = 3


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on a 64-byte boundary.

    from_generator adopts an aligned array's buffer as the tensor (no copy); an unaligned one
    is copied, and that copy costs more than forming the windows, because TensorFlow's CPU
    allocator faults in fresh 4 KiB pages for every large tensor (numpy's large arrays get
    huge pages)."""
    return _aligned_view(
        np.empty(int(np.prod(shape)) * dtype.itemsize + _ALIGN, np.uint8), shape, dtype
    )


def _aligned_copy(a: np.ndarray) -> np.ndarray:
    out = _aligned_empty(a.shape, a.dtype)
    out[...] = a
    return out


def _aligned_view(raw: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    nbytes = int(np.prod(shape)) * dtype.itemsize
    off = -raw.ctypes.data % _ALIGN
    return raw[off : off + nbytes].view(dtype).reshape(shape)


class _BufferPool:
    """Arrays handed to tf.data, reused once TensorFlow has let go of them.

    A buffer handed to tf.data stays referenced (by the adopted tensor, the prefetch buffer,
    the consumer's batch) until TensorFlow frees it; reusing it after that saves the kernel
    zeroing fresh pages for every batch, about as costly as forming the windows. A buffer is
    free when nothing but this pool refers to it (CPython reference count). rows() keeps one
    pool for every iteration (epoch) of its dataset, so a stream of a few blocks reuses the
    previous stream's buffers; thread-safe, as two iterators of one dataset may run at once."""

    def __init__(self, keep: int = 4) -> None:
        self._raws: list[np.ndarray] = []
        self._keep = keep
        self._lock = threading.Lock()

    def __call__(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        need = int(np.prod(shape)) * dtype.itemsize + _ALIGN
        with self._lock:  # (the view returned below holds the buffer before the lock ends)
            for raw in self._raws:
                # References when free: the list, `raw` and getrefcount's argument.
                if raw.nbytes >= need and sys.getrefcount(raw) <= _FREE_REFS:
                    return _aligned_view(raw, shape, dtype)
            raw = np.empty(need, np.uint8)
            if len(self._raws) < self._keep:
                self._raws.append(raw)
            return _aligned_view(raw, shape, dtype)


def _windows(
    rows: np.ndarray,
    starts: np.ndarray,
    offset: int,
    length: int,
    step: int,
    alloc: Callable[[tuple[int, ...], np.dtype], np.ndarray] = _aligned_empty,
) -> np.ndarray:
    """out[i] = rows[starts[i] + offset : starts[i] + offset + length], as one contiguous
    [N, length, C] array from `alloc`. Runs of starts `step` apart are copied from a
    sliding-window view (one strided copy per run; much faster than a gather)."""
    n = len(starts)
    out = alloc((n, length, rows.shape[1]), rows.dtype)
    if n == 0:
        return out
    breaks = np.flatnonzero(np.diff(starts) != step) + 1
    if len(breaks) > n // 8 + 1:  # scattered windows (many dropped): gather
        np.take(rows, starts[:, None] + (offset + np.arange(length)), axis=0, out=out)
        return out
    view = sliding_window_view(rows, length, axis=0).swapaxes(1, 2)  # view[s] = rows[s:s+length]
    bounds = [0, *breaks.tolist(), n]
    for i, j in itertools.pairwise(bounds):
        s = int(starts[i]) + offset
        out[i:j] = view[s : s + (j - i - 1) * step + 1 : step]
    return out


def _row_groups(
    stream: WindowStream,
    cmap: ColumnMap,
    n_f: int,
    dtype: np.dtype,
    span: int,
    per_group: int,
    follow: bool,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Regroups a stream's rows into (rows [R, F], starts int64[N]) pairs: N <= per_group
    windows, window i being rows[starts[i] : starts[i] + span]. Every group but the last holds
    exactly per_group windows, except that with follow a group is also cut when no further
    message is waiting (so live windows are not held back), and after a loss (rows before it
    cannot share a group with rows after it)."""
    buf = np.zeros((0, n_f), dtype)  # rows [buf_first, buf_first + len(buf))
    buf_first = 0
    pending: list[np.ndarray] = []  # absolute start rows of windows not yet yielded
    n_pending = 0

    def take(n: int) -> tuple[np.ndarray, np.ndarray]:
        nonlocal pending, n_pending
        starts = pending[0] if len(pending) == 1 else np.concatenate(pending)
        head, rest = starts[:n], starts[n:]
        pending = [rest] if len(rest) else []
        n_pending = len(rest)
        lo = int(head[0]) - buf_first
        hi = int(head[-1]) + span - buf_first
        return buf[lo:hi], head - head[0]

    for st in stream.iter_rows():
        if st.reset or st.first_row != buf_first + len(buf):
            if n_pending:
                yield take(n_pending)
            buf = buf[:0]
            buf_first = st.first_row
        v = cmap.apply(st.values)
        buf = v if len(buf) == 0 else np.concatenate((buf, v))
        if len(st.index):
            pending.append(st.index * stream.header.shift)
            n_pending += len(st.index)
        while n_pending >= per_group:
            yield take(per_group)
        if follow and n_pending and not stream.message_waiting():
            yield take(n_pending)
        # Keep only rows that a pending or a future window can use.
        keep = st.next_window * stream.header.shift
        if pending:
            keep = min(keep, int(pending[0][0]))
        cut = min(max(keep - buf_first, 0), len(buf))
        if cut:
            buf = buf[cut:]
            buf_first += cut
    if n_pending:
        yield take(n_pending)


class WindowsInfo:
    """What a windows() dataset holds: its feature and target columns (as Series)."""

    def __init__(self, features: list[Series], targets: list[Series], target_index: list[int]):
        self.features = features
        self.targets = targets
        self.target_index = target_index

    def __repr__(self) -> str:
        return (
            f"WindowsInfo(features={[str(s) for s in self.features]}, "
            f"targets={[str(s) for s in self.targets]})"
        )


def _resolve_targets(
    client: Client, features: list[Series], targets: Sequence[str] | Sequence[int] | None
) -> list[int]:
    if targets is None:
        return list(range(len(features)))
    targets = list(targets)
    if all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in targets):
        for t in targets:
            if not 0 <= int(t) < len(features):
                raise ValueError(f"target column {t} out of range: there are {len(features)}")
        return [int(t) for t in targets]
    if not all(isinstance(t, str) for t in targets):
        raise TypeError("targets: a list of selector strings or of feature column indices")
    pos = {s.key(): i for i, s in enumerate(features)}
    out: list[int] = []
    for s in resolve_columns(client, targets):  # type: ignore[arg-type]
        if s.key() not in pos:
            raise ValueError(f"target series {s} is not among the features")
        out.append(pos[s.key()])
    return out


def _float_dtype(dtype: Any) -> tuple[tf.DType, np.dtype]:
    """(TensorFlow, numpy) dtype of tf.float32 or tf.float64; ValueError for anything else."""
    tf_dtype = tf.as_dtype(dtype)
    if tf_dtype not in (tf.float32, tf.float64):
        raise ValueError(f"dtype must be tf.float32 or tf.float64, got {tf_dtype}")
    return tf_dtype, np.dtype(tf_dtype.as_numpy_dtype)


def _client_options(
    client_options: dict[str, Any] | None,
    tls: bool,
    ca_file: str | None,
    cert_file: str | None,
    key_file: str | None,
    token: str | None,
    token_file: str | None,
) -> dict[str, Any]:
    """Keyword arguments for Client: client_options, overridden by the TLS/token ones given."""
    opts = dict(client_options or {})
    security = dict(tls=tls, ca_file=ca_file, cert_file=cert_file, key_file=key_file)
    security.update(token=token, token_file=token_file)
    opts.update({k: v for k, v in security.items() if v})
    return opts


def windows(
    target: str,
    features: str | Sequence[str],
    window: int,
    shift: int = 1,
    step: DurationLike = None,
    horizon: int = 1,
    targets: Sequence[str] | Sequence[int] | None = None,
    follow: bool = False,
    stream_timeout: int = 0,
    dtype: tf.DType = tf.float32,
    *,
    fill: Fill | str = Fill.DROP,
    start: TimeLike = None,
    end: TimeLike = None,
    lookback: DurationLike = None,
    max_rows_per_message: int = 0,
    client_options: dict[str, Any] | None = None,
    tls: bool = False,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
    return_info: bool = False,
    batch_size: int | None = None,
) -> tf.data.Dataset | tuple[tf.data.Dataset, WindowsInfo]:
    """A `tf.data.Dataset` of `(x, y)`: x float[window, F], y float[horizon, T].

    target: the daemon's gRPC address ("host:port").
    features: PromQL series selectors; F = the matched series (selector order, then label-set
      order), fixed when this function runs (series appearing later are ignored, series gone
      later become NaN columns).
    window, shift, horizon: rows per x, rows between window starts, rows per y (>= 1).
    step: grid step (None: the daemon's poll interval).
    targets: the y columns: selectors (a subset of the features) or feature column indices;
      None means all features (T = F).
    follow: after the historical range, keep streaming windows as new rows complete (endless).
    stream_timeout (with follow): 0 stops at the live edge, -1 never stops, N > 0 stops after
      N ms without a new row.
    dtype: tf.float32 or tf.float64 (the daemon sends that type; no conversion here).
    fill: missing-value policy; the default "drop" removes windows (x and y rows) with a
      missing value, so no NaN reaches the model. "nan"/"previous"/"zero" keep them.
    start, end: the historical range (None: oldest held / now).
    tls, ca_file, cert_file, key_file, token, token_file: TLS and bearer token, as for
      promfeed.Client (they override the same keys in client_options).

    batch_size: None (default) gives single (x, y) elements, as above. N gives batches
      (x [B, window, F], y [B, horizon, T]) with B = N except for the last one, like
      `.batch(N)` but built directly (much faster: no per-window copies). With follow, a
      batch is also cut short when the stream has caught up with the live edge, so live
      windows are not held back; after a loss announced by the daemon, so is the batch before it.

    Each iteration of the dataset (e.g. each Keras epoch) opens a new stream, over one
    connection kept for the dataset's lifetime. Windows are formed in numpy, one batch (or,
    unbatched, one group of about 16 MB) at a time, into arrays that tf.data adopts without a
    copy; the next batch is prepared while the current one is consumed (one batch of
    prefetch). Deleting or exhausting the iterator cancels the RPC.
    With return_info, returns (dataset, WindowsInfo).
    """
    for name, v in (("window", window), ("shift", shift), ("horizon", horizon)):
        if isinstance(v, bool) or int(v) < 1:
            raise ValueError(f"{name} must be >= 1, got {v!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
        raise ValueError(f"batch_size must be >= 1 or None, got {batch_size!r}")
    tf_dtype, np_dtype = _float_dtype(dtype)
    sel = [features] if isinstance(features, str) else list(features)
    opts = _client_options(client_options, tls, ca_file, cert_file, key_file, token, token_file)
    # One connection for the dataset's lifetime: every iteration (epoch) streams over it,
    # rather than paying a new TCP and HTTP/2 handshake each time (gRPC channels are
    # thread-safe and meant to be long-lived; it closes when the dataset is freed).
    client = Client(target, **opts)
    cols = resolve_columns(client, sel)
    tcols = _resolve_targets(client, cols, targets)
    expected = ExpectedColumns([s.key() for s in cols])
    n_f, w, h = len(cols), int(window), int(horizon)
    all_targets = tcols == list(range(n_f))

    span = w + h
    if batch_size is not None:
        per_element = int(batch_size)
    else:
        # Unbatched: windows are still formed in groups (unbatched right after), about
        # _GROUP_BYTES of x at a time.
        per_element = max(1, _GROUP_BYTES // (span * max(n_f, 1) * np_dtype.itemsize))

    def generate() -> Iterator[tuple[Any, Any]]:
        stream = None
        try:
            stream = client.windows(
                sel,
                window=span,
                shift=int(shift),
                step=step,
                fill=fill,
                start=start,
                end=end,
                follow=follow,
                stream_timeout=stream_timeout,
                dtype=np_dtype,
                lookback=lookback,
                max_rows_per_message=max_rows_per_message,
            )
            cmap = expected.column_map(stream.header.features)
            shift_rows = stream.header.shift
            groups = _row_groups(stream, cmap, n_f, np_dtype, span, per_element, follow)
            # Per iteration: kept for the dataset's lifetime, the 61 MB batches of x measured
            # slower (windows(batch_size=256) 0.2 -> 0.4 s in the e2e benchmark), unexplained.
            pool = _BufferPool()
            for rows, starts in groups:
                x = _windows(rows, starts, 0, w, shift_rows, pool)
                trows = rows if all_targets else rows[:, tcols]
                y = _windows(trows, starts, w, h, shift_rows)
                yield x, y
        finally:
            if stream is not None:
                stream.close()

    ds = tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec(shape=(None, w, n_f), dtype=tf_dtype),
            tf.TensorSpec(shape=(None, h, len(tcols)), dtype=tf_dtype),
        ),
    ).prefetch(1)  # the next group's windows are formed while this one is consumed
    if batch_size is None:
        ds = ds.unbatch()
    if return_info:
        return ds, WindowsInfo(cols, [cols[i] for i in tcols], tcols)
    return ds


def _kept_rows(st: RowStep) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The rows of a window=1 stream's message that the daemon did not drop: row k is
    window k, so these are the rows st.index names (all of them unless fill is "drop")."""
    r, idx = len(st.time_ms), st.index
    if len(idx) == r and (r == 0 or (idx[0] == st.first_row and idx[-1] == st.first_row + r - 1)):
        return st.time_ms, st.values, st.mask
    pos = idx - st.first_row
    if len(pos) and (pos[0] < 0 or pos[-1] >= r):
        raise ProtocolError(
            f"rows {st.first_row}..{st.first_row + r - 1} complete windows "
            f"{idx[0]}..{idx[-1]} of window 1",
            method="StreamWindows",
        )
    return st.time_ms[pos], st.values[pos], None if st.mask is None else st.mask[pos]


def _row_blocks(
    stream: WindowStream,
    cmap: ColumnMap,
    max_rows: int,
    with_mask: bool,
    pools: tuple[_BufferPool, _BufferPool, _BufferPool] | None = None,
) -> Iterator[tuple[np.ndarray, ...]]:
    """Copies the rows of a window=1, shift=1 stream into blocks (time_ms int64[R],
    values [R, F], and mask bool[R, F] with with_mask), 1 <= R <= max_rows, F = the columns
    of cmap. Each array is 64-byte aligned, so tf.data adopts it without a copy; each row is
    copied once (from the message bytes, through cmap) into a pooled buffer, and once more
    if its block is cut with the buffer less than half full.

    A block is cut when full; before a loss or a jump in row indices (rows from both sides
    never share a block); and, on a live (follow) stream, whenever no further message has
    arrived, so live rows are never held back. Rows the daemon dropped (fill "drop") are
    left out."""
    n_f = len(cmap.index)
    if pools is None:  # (time, values, mask) buffers; a dataset passes its own
        pools = (_BufferPool(), _BufferPool(), _BufferPool())
    src_cols = np.where(cmap.missing, 0, cmap.index)
    live = stream.request.follow
    block: list[np.ndarray] = []  # the block being filled: [time, values(, mask)]
    n = 0  # rows in it
    next_row = 0  # grid row that would continue it

    def cut() -> tuple[np.ndarray, ...]:
        nonlocal block, n
        if 2 * n >= max_rows:
            out = tuple(a[:n] for a in block)
        else:
            # Mostly empty (end of stream, a loss, the live edge): copied out, so a consumer
            # that keeps live rows does not keep a whole buffer alive per row.
            out = tuple(_aligned_copy(a[:n]) for a in block)
        block, n = [], 0
        return out

    for st in stream.iter_rows():
        if n and (st.reset or st.first_row != next_row):
            yield cut()
        next_row = st.first_row + len(st.time_ms)
        t, v, m = _kept_rows(st)
        i = 0
        while i < len(t):
            if not n:
                block = [pools[0]((max_rows,), _I64), pools[1]((max_rows, n_f), v.dtype)]
                if with_mask:
                    block.append(pools[2]((max_rows, n_f), _BOOL))
            k = min(len(t) - i, max_rows - n)
            block[0][n : n + k] = t[i : i + k]
            _put_columns(block[1][n : n + k], v[i : i + k], cmap, src_cols, np.nan)
            if with_mask:
                mk = block[2][n : n + k]
                if m is None:  # every value real, except in the columns the stream lacks
                    mk[...] = True
                    mk[:, cmap.missing] = False
                else:
                    _put_columns(mk, m[i : i + k], cmap, src_cols, False)
            n += k
            i += k
            if n == max_rows:
                yield cut()
        if live and n and not stream.message_waiting():
            yield cut()
    if n:
        yield cut()


def _put_columns(
    dst: np.ndarray, src: np.ndarray, cmap: ColumnMap, src_cols: np.ndarray, missing: Any
) -> None:
    """dst[:, j] = src[:, cmap.index[j]], or `missing` for the columns the stream lacks."""
    if cmap.identity:
        dst[...] = src
        return
    np.take(src, src_cols, axis=1, out=dst, mode="clip")  # mode="clip": no bounce buffer
    if cmap.missing.any():
        dst[:, cmap.missing] = missing


class RowsInfo:
    """What a rows() dataset holds: its value columns (as Series), in order."""

    def __init__(self, features: list[Series]):
        self.features = features

    def __repr__(self) -> str:
        return f"RowsInfo(features={[str(s) for s in self.features]})"


def rows(
    target: str,
    features: str | Sequence[str],
    step: DurationLike = None,
    follow: bool = False,
    stream_timeout: int = 0,
    dtype: tf.DType = tf.float32,
    *,
    fill: Fill | str = Fill.NAN,
    start: TimeLike = None,
    end: TimeLike = None,
    lookback: DurationLike = None,
    max_rows_per_message: int = 0,
    client_options: dict[str, Any] | None = None,
    tls: bool = False,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
    with_mask: bool = False,
    block_bytes: int = _BLOCK_BYTES,
    return_info: bool = False,
) -> tf.data.Dataset | tuple[tf.data.Dataset, RowsInfo]:
    """A `tf.data.Dataset` of the grid rows as they arrive, in blocks of R rows (R varies):
    `(time_ms int64[R], values float[R, F])`, or `(time_ms, values, mask bool[R, F])` with
    with_mask (True where the value is a real sample, False where `fill` made it up).

    For users who window or aggregate in TensorFlow themselves. Row r of the stream is the
    grid time time_ms[r]; rows come in time order, each once.

    target, features, step, follow, stream_timeout, dtype, start, end, lookback, tls,
    ca_file, cert_file, key_file, token, token_file: as for windows(). F = the series the
    features match when this function runs, in selector order, then label-set order
    (series appearing later are ignored; series gone later become NaN columns, mask False).
    fill: "nan" (default): a grid point without a sample is NaN, so every grid row arrives
      and consecutive rows are one step apart (except across a loss: see below).
      "previous"/"zero": filled with the last value / 0. "drop": rows with any missing
      value are left out, so rows of a block may be more than a step apart; check time_ms.
    block_bytes: a block holds at most about this many bytes (times, values and mask of its
      rows; at least one row). Blocks of a few MB amortise tf.data's per-element cost
      (about 0.5 ms); smaller blocks reach the consumer sooner. A block is also cut: at the
      end of the stream; before a loss (when the reader fell behind the daemon's ring, rows
      jump: rows from both sides never share a block); and with follow, whenever the reader
      has caught up with the stream, so live rows are never held back.

    Single rows: `.unbatch()` gives (time_ms [], values [F]) elements (slow: tf.data's cost
    is per element); `.rebatch(N)` gives blocks of exactly N rows (the last may be shorter).

    Each iteration (e.g. each epoch) opens a new stream over one connection kept for the
    dataset's lifetime; deleting or exhausting the iterator cancels the RPC. Each row is
    copied once, from the message into an aligned buffer that tf.data adopts without a copy;
    the next block is assembled while the current one is consumed (one block of prefetch).
    With return_info, returns (dataset, RowsInfo).
    """
    tf_dtype, np_dtype = _float_dtype(dtype)
    try:
        fill_e = Fill(fill.value if isinstance(fill, Fill) else str(fill).lower())
    except ValueError:
        choices = ", ".join(repr(f.value) for f in Fill)
        raise ValueError(f"fill must be one of {choices}, got {fill!r}") from None
    if isinstance(block_bytes, bool) or not isinstance(block_bytes, (int, np.integer)):
        raise ValueError(f"block_bytes must be a positive int, got {block_bytes!r}")
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be >= 1, got {block_bytes!r}")
    if isinstance(stream_timeout, bool) or int(stream_timeout) < -1:
        raise ValueError(f"stream_timeout must be -1, 0 or N > 0 ms, got {stream_timeout!r}")
    sel = [features] if isinstance(features, str) else list(features)
    opts = _client_options(client_options, tls, ca_file, cert_file, key_file, token, token_file)
    client = Client(target, **opts)  # For the dataset's lifetime, as in windows().
    cols = resolve_columns(client, sel)
    expected = ExpectedColumns([s.key() for s in cols])
    n_f = len(cols)
    row_bytes = _I64.itemsize + n_f * np_dtype.itemsize + (n_f if with_mask else 0)
    max_rows = max(1, int(block_bytes) // row_bytes)
    pools = (_BufferPool(), _BufferPool(), _BufferPool())  # reused across iterations

    def generate() -> Iterator[tuple[np.ndarray, ...]]:
        stream = client.windows(
            sel,
            window=1,
            shift=1,
            step=step,
            fill=fill_e,
            start=start,
            end=end,
            follow=follow,
            stream_timeout=int(stream_timeout),
            dtype=np_dtype,
            lookback=lookback,
            max_rows_per_message=max_rows_per_message,
        )
        with stream:
            cmap = expected.column_map(stream.header.features)
            yield from _row_blocks(stream, cmap, max_rows, with_mask, pools)

    spec = [
        tf.TensorSpec(shape=(None,), dtype=tf.int64),
        tf.TensorSpec(shape=(None, n_f), dtype=tf_dtype),
    ]
    if with_mask:
        spec.append(tf.TensorSpec(shape=(None, n_f), dtype=tf.bool))
    # prefetch(1): the next block is assembled while this one is consumed.
    ds = tf.data.Dataset.from_generator(generate, output_signature=tuple(spec)).prefetch(1)
    if return_info:
        return ds, RowsInfo(cols)
    return ds
