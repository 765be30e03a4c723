"""promfeed.tf: sliding windows from the promfeed daemon as a `tf.data.Dataset` for Keras.

Importing this module imports TensorFlow (install the extra: `pip install promfeed[tf]`).

    ds = promfeed.tf.windows("127.0.0.1:9401", ["go_memstats_gc_sys_bytes"],
                             window=30, shift=1, horizon=1)
    model.fit(ds.shuffle(1024).batch(32).prefetch(tf.data.AUTOTUNE), epochs=5)

How y relates to x: the dataset asks the daemon for windows of `window + horizon` grid rows,
`shift` rows apart, and splits each one: x = its first `window` rows (all F feature columns),
y = the `horizon` rows right after them, of the target columns only. So for window k
(rows [k*shift, k*shift + window + horizon)), x[i] is grid row k*shift + i and y[j] is grid
row k*shift + window + j. With horizon=1, y is "the next step" of the targets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from promfeed._columns import ColumnMap, resolve_columns
from promfeed._types import Fill, Series
from promfeed.client import Client, DurationLike, TimeLike

__all__ = ["windows", "WindowsInfo"]


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

    Each iteration of the dataset (e.g. each Keras epoch) opens a new stream. Rows arrive in
    blocks and are split into windows in numpy, so TensorFlow sees one batch per message.
    Deleting or exhausting the iterator cancels the RPC.
    With return_info, returns (dataset, WindowsInfo).
    """
    for name, v in (("window", window), ("shift", shift), ("horizon", horizon)):
        if isinstance(v, bool) or int(v) < 1:
            raise ValueError(f"{name} must be >= 1, got {v!r}")
    tf_dtype = tf.as_dtype(dtype)
    if tf_dtype not in (tf.float32, tf.float64):
        raise ValueError(f"dtype must be tf.float32 or tf.float64, got {tf_dtype}")
    np_dtype = np.dtype(tf_dtype.as_numpy_dtype)
    sel = [features] if isinstance(features, str) else list(features)
    opts = dict(client_options or {})
    security = dict(tls=tls, ca_file=ca_file, cert_file=cert_file, key_file=key_file)
    security.update(token=token, token_file=token_file)
    opts.update({k: v for k, v in security.items() if v})
    with Client(target, **opts) as c:
        cols = resolve_columns(c, sel)
        tcols = _resolve_targets(c, cols, targets)
    keys = [s.key() for s in cols]
    n_f, n_t, w, h = len(cols), len(tcols), int(window), int(horizon)
    all_targets = tcols == list(range(n_f))

    def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        client = Client(target, **opts)
        stream = None
        try:
            stream = client.windows(
                sel,
                window=w + h,
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
            cmap = ColumnMap(keys, [s.key() for s in stream.features])
            for b in stream:
                if len(b) == 0:
                    continue
                x_all = cmap.apply(b.x)
                y = x_all[:, w:, :] if all_targets else x_all[:, w:, tcols]
                yield x_all[:, :w, :], y
        finally:
            if stream is not None:
                stream.close()
            client.close()

    ds = tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec(shape=(None, w, n_f), dtype=tf_dtype),
            tf.TensorSpec(shape=(None, h, n_t), dtype=tf_dtype),
        ),
    ).unbatch()
    if return_info:
        return ds, WindowsInfo(cols, [cols[i] for i in tcols], tcols)
    return ds
