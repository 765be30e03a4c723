"""promfeed.tfio: a drop-in for `tfio.experimental.IODataset.from_prometheus`, served by the
promfeed daemon instead of one HTTP range query per series per second.

    from promfeed import tfio           # instead of: import tensorflow_io as tfio
    ds = tfio.experimental.IODataset.from_prometheus("go_memstats_gc_sys_bytes", 5,
                                                     endpoint="127.0.0.1:9401")
    for time_ms, value in ds:
        value["prometheus"]["127.0.0.1:9090"]["go_memstats_gc_sys_bytes"]

Semantics (as in TensorFlow I/O): `length` in seconds, `offset` the end time in epoch
milliseconds (None: now), a 1 s step: elements at t = start, start+1000, ..., stop-1000 with
stop = offset and start = stop - length*1000 (grid times are whole seconds: t = k*1000, so an
offset that is not a whole second yields the `length` whole seconds in [start, stop)).
Element: `(time_ms int64, {job: {instance: {metric: float64}}})`.

Differences, on purpose:
- `endpoint` is the promfeed daemon's gRPC address ("host:port", default $PROMFEED_TARGET or
  "localhost:9401"), not Prometheus's URL; `query` must be a series selector over series the
  daemon holds (its configured inputs), not arbitrary PromQL.
- The spec comes from the daemon's ListSeries in Python, so graph mode (inside tf.function)
  needs no eager probe; pass `spec` to fix the structure yourself.
- A grid point with no sample is NaN (TensorFlow I/O left it uninitialised).
- Series that share (job, instance, __name__) but differ in other labels (e.g. `handler`,
  `code`) would collide in the {job: {instance: {metric}}} structure. TensorFlow I/O silently
  kept one of them. Here `on_collision="error"` (default) raises
  promfeed.errors.SeriesCollisionError naming the series; `on_collision="labels"` keys each
  colliding series as its name with the other labels in Prometheus text form, e.g.
  `prometheus_http_requests_total{code="200",handler="/metrics"}`, so none is lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from promfeed._columns import ColumnMap, Key
from promfeed._types import Series
from promfeed.client import Client
from promfeed.errors import NotFoundError, SeriesCollisionError

__all__ = ["experimental", "from_prometheus"]

_STEP_MS = 1000


def _default_endpoint() -> str:
    return os.environ.get("PROMFEED_TARGET", "localhost:9401")


def _metric_key(s: Series, with_labels: bool) -> str:
    if not with_labels:
        return s.name
    inner = ",".join(
        f'{k}="{v}"'
        for k, v in sorted(s.labels.items())
        if k not in ("__name__", "job", "instance")
    )
    return f"{s.name}{{{inner}}}"


def entries_from_series(
    series: list[Series], on_collision: str = "error"
) -> dict[str, dict[str, dict[str, Key]]]:
    """{job: {instance: {metric: series key}}} for the given series; see the module doc for
    collisions. Raises SeriesCollisionError (on_collision="error")."""
    if on_collision not in ("error", "labels"):
        raise ValueError(f'on_collision must be "error" or "labels", got {on_collision!r}')
    groups: dict[tuple[str, str, str], list[Series]] = {}
    for s in series:
        groups.setdefault((s.job, s.instance, s.name), []).append(s)
    collided = {k: v for k, v in groups.items() if len(v) > 1}
    if collided and on_collision == "error":
        lines = [
            f"  job={k[0]!r} instance={k[1]!r} metric={k[2]!r}: " + ", ".join(str(s) for s in v)
            for k, v in sorted(collided.items())
        ]
        raise SeriesCollisionError(
            "these series share job, instance and metric name and would collide in the "
            "{job: {instance: {metric}}} structure:\n"
            + "\n".join(lines)
            + '\nNarrow the query with more label matchers, or pass on_collision="labels".'
        )
    out: dict[str, dict[str, dict[str, Key]]] = {}
    for group in groups.values():
        for s in group:
            mk = _metric_key(s, with_labels=len(group) > 1)
            out.setdefault(s.job, {}).setdefault(s.instance, {})[mk] = s.key()
    return out


def _flatten(entries: dict) -> list[tuple[tuple[str, str, str], Any]]:
    return [
        ((j, i, m), entries[j][i][m])
        for j in sorted(entries)
        for i in sorted(entries[j])
        for m in sorted(entries[j][i])
    ]


def from_prometheus(
    query: str,
    length: int,
    offset: int | None = None,
    endpoint: str | None = None,
    spec: dict | None = None,
    *,
    on_collision: str = "error",
    client_options: dict[str, Any] | None = None,
    tls: bool = False,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
) -> tf.data.Dataset:
    """`tfio.experimental.IODataset.from_prometheus` over the promfeed daemon.

    Returns a dataset of `length` elements `(time_ms int64, {job: {instance: {metric:
    float64}}})`, one per second over [offset - length*1000, offset). `spec`, when given, is
    the same nested dict with `tf.TensorSpec([], tf.float64)` leaves; leaf names must then be
    the metric keys described in the module doc; series it names that the daemon lacks are
    NaN. Raises NotFoundError when `query` matches no series, SeriesCollisionError as above.
    tls, ca_file, cert_file, key_file, token, token_file: TLS and bearer token, as for
      promfeed.Client (they override the same keys in client_options).
    """
    if int(length) < 0:
        raise ValueError(f"length must be >= 0 seconds, got {length}")
    target = endpoint or _default_endpoint()
    stop = int(offset) if offset is not None else time.time_ns() // 1_000_000
    start = stop - int(length) * 1000
    opts = dict(client_options or {})
    security = dict(tls=tls, ca_file=ca_file, cert_file=cert_file, key_file=key_file)
    security.update(token=token, token_file=token_file)
    opts.update({k: v for k, v in security.items() if v})
    with Client(target, **opts) as c:
        series = c.series([query])
    if spec is None:
        if not series:
            raise NotFoundError(
                f"query {query} matches no series the daemon at {target} holds",
                target=target,
                method="ListSeries",
            )
        entries = entries_from_series(series, on_collision)
    else:
        by_metric = entries_from_series(series, "labels")
        entries = {}
        for j, insts in spec.items():
            for i, metrics in insts.items():
                for m in metrics:
                    key = by_metric.get(j, {}).get(i, {}).get(m, ())
                    entries.setdefault(j, {}).setdefault(i, {})[m] = key
    flat = _flatten(entries)
    keys: list[Key] = [k for _, k in flat]

    def pack(cols: np.ndarray) -> dict:
        out: dict = {}
        for n, ((j, i, m), _) in enumerate(flat):
            out.setdefault(j, {}).setdefault(i, {})[m] = cols[:, n]
        return out

    first_grid = -(-start // _STEP_MS) * _STEP_MS
    n_rows = max(0, len(range(first_grid, stop, _STEP_MS)))

    def generate() -> Iterator[tuple[np.ndarray, dict]]:
        if n_rows == 0:
            return
        with Client(target, **opts) as client:
            for block in client.iter_read_range(
                [query], start=first_grid, end=stop - 1, step=_STEP_MS
            ):
                if len(block) == 0:
                    continue
                cmap = ColumnMap(keys, [s.key() for s in block.series])
                yield block.time_ms, pack(cmap.apply(block.values))

    sig_values: dict = {}
    for (j, i, m), _ in flat:
        sig_values.setdefault(j, {}).setdefault(i, {})[m] = tf.TensorSpec(
            shape=(None,), dtype=tf.float64
        )
    return tf.data.Dataset.from_generator(
        generate,
        output_signature=(tf.TensorSpec(shape=(None,), dtype=tf.int64), sig_values),
    ).unbatch()


class _IODataset:
    """`promfeed.tfio.experimental.IODataset.from_prometheus`, mirroring TensorFlow I/O."""

    from_prometheus = staticmethod(from_prometheus)


class experimental:
    IODataset = _IODataset
