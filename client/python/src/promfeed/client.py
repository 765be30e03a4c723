"""promfeed.Client: the daemon's series, grids and sliding windows as numpy arrays."""

from __future__ import annotations

import datetime as _dt
import os
import queue
import re
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
import numpy as np

from promfeed import _native, errors
from promfeed._decode import RowStep, WindowAssembler, decode_block, header_from_proto
from promfeed._types import Fill, ReadRangeResult, Series, StreamHeader, WindowBatch
from promfeed._wire import parse_stream_response
from promfeed.v1 import metric_feed_pb2 as pb
from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc

__all__ = ["Client", "TimeLike", "DurationLike", "WindowStream", "normalize_target"]

TimeLike = int | _dt.datetime | _dt.timedelta | None
"""Epoch milliseconds (int), an aware or naive-local datetime, or a timedelta meaning
"that long before now". None means the RPC's default (see each method)."""
DurationLike = int | float | str | _dt.timedelta | None
"""Milliseconds (int/float), a string with a unit ("500ms", "1s", "2m", "1h"), or a timedelta."""

_MAX_MESSAGE = 256 * 1024 * 1024
_STREAM_WINDOWS = "/promfeed.v1.MetricFeed/StreamWindows"
_QUEUED = 4  # messages received ahead of the reader, per stream
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def normalize_target(target: str) -> str:
    """Turns "grpc://h:p", "http://h:p" or "h:p" into a gRPC target "h:p"."""
    for scheme in ("grpc://", "http://"):
        if target.startswith(scheme):
            return target[len(scheme) :].rstrip("/")
    if target.startswith("https://"):
        raise ValueError(f"TLS targets are not supported yet: {target}")
    return target


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(t: TimeLike, *, what: str) -> int:
    """Converts a TimeLike to epoch milliseconds; None becomes 0 (the RPC's default)."""
    if t is None:
        return 0
    if isinstance(t, bool):
        raise TypeError(f"{what}: expected epoch milliseconds, datetime or timedelta, got bool")
    if isinstance(t, (int, np.integer)):
        return int(t)
    if isinstance(t, _dt.datetime):
        return int(round(t.timestamp() * 1000))
    if isinstance(t, _dt.timedelta):
        return _now_ms() - abs(int(t.total_seconds() * 1000))
    raise TypeError(f"{what}: expected epoch milliseconds, datetime or timedelta, got {t!r}")


def duration_ms(d: DurationLike, *, what: str) -> int:
    """Converts a DurationLike to milliseconds; None becomes 0 (the RPC's default)."""
    if d is None:
        return 0
    if isinstance(d, _dt.timedelta):
        return int(d.total_seconds() * 1000)
    if isinstance(d, (int, float, np.integer, np.floating)) and not isinstance(d, bool):
        return int(d)
    if isinstance(d, str):
        m = _DURATION_RE.match(d)
        if m:
            return int(float(m.group(1)) * _UNIT_MS[m.group(2)])
    raise ValueError(f"{what}: expected milliseconds or a duration like '1s', got {d!r}")


def _read(path: str | os.PathLike, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"cannot read {what} {os.fspath(path)}: {e.strerror}") from None


def _tls_pem(
    tls: bool,
    ca_file: str | os.PathLike | None,
    cert_file: str | os.PathLike | None,
    key_file: str | os.PathLike | None,
) -> tuple[bytes | None, bytes | None, bytes | None] | None:
    """(root CAs, private key, certificate chain) as PEM, or None without TLS."""
    if (cert_file is None) != (key_file is None):
        raise ValueError("cert_file and key_file go together; pass both or neither")
    if not (tls or ca_file or cert_file):
        return None
    return (
        _read(ca_file, "ca_file") if ca_file else None,
        _read(key_file, "key_file") if key_file else None,
        _read(cert_file, "cert_file") if cert_file else None,
    )


def _bearer_token(token: str | None, token_file: str | os.PathLike | None) -> str | None:
    if token is not None and token_file is not None:
        raise ValueError("pass either token or token_file, not both")
    if token_file is not None:
        lines = _read(token_file, "token_file").decode().splitlines()
        found = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
        if not found:
            raise ValueError(f"token_file {os.fspath(token_file)} holds no token")
        token = found[0]
    if token is not None and (not token.strip() or any(c in token for c in "\r\n")):
        raise ValueError("token must be one non-empty line")
    return token.strip() if token is not None else None


def _as_list(selectors: str | Sequence[str], what: str) -> list[str]:
    if isinstance(selectors, str):
        return [selectors]
    out = list(selectors)
    if not all(isinstance(s, str) for s in out):
        raise TypeError(f"{what}: expected PromQL selector strings, got {out!r}")
    return out


class Client:
    """A connection to one promfeed daemon. Thread-safe; use as a context manager.

    target: "host:port" of the daemon's gRPC listener (also "grpc://host:port").
    timeout: deadline in seconds for ListSeries, GetStatus and ReadRange calls, and for the
      first message of a StreamWindows stream.
    wait_for_ready: queue calls until the daemon is reachable instead of failing fast with
      DaemonUnreachableError.
    tls: connect with TLS (implied by ca_file/cert_file/key_file). ca_file: PEM CAs to verify
      the daemon with (default: the system's). cert_file, key_file: PEM client certificate and
      key for mutual TLS (both or neither).
    token, token_file: bearer token (or a file holding it, first non-comment line) sent as
      `authorization: Bearer <token>`; exclusive.
    credentials, metadata: raw gRPC channel credentials / extra call metadata; credentials
      is exclusive with the TLS arguments.
    """

    def __init__(
        self,
        target: str = "localhost:9401",
        *,
        timeout: float = 30.0,
        wait_for_ready: bool = False,
        options: Sequence[tuple[str, Any]] = (),
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        tls: bool = False,
        ca_file: str | os.PathLike | None = None,
        cert_file: str | os.PathLike | None = None,
        key_file: str | os.PathLike | None = None,
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
    ) -> None:
        self.target = normalize_target(target)
        self.timeout = timeout
        self._wait_for_ready = wait_for_ready
        tls_pem = _tls_pem(tls, ca_file, cert_file, key_file)
        # Streams use the C++ transport unless the channel needs what only grpcio knows.
        self._native = None
        self._native_streams: weakref.WeakSet[WindowStream] = weakref.WeakSet()
        if _native.enabled() and credentials is None and not options:
            self._native = _native.channel(self.target, tls_pem, _MAX_MESSAGE)
        if tls_pem is not None:
            if credentials is not None:
                raise ValueError("pass either credentials or tls/ca_file/cert_file/key_file")
            credentials = grpc.ssl_channel_credentials(*tls_pem)
        bearer = _bearer_token(token, token_file)
        auth = (("authorization", f"Bearer {bearer}"),) if bearer is not None else ()
        self._metadata = tuple(metadata) + auth
        opts = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.enable_retries", 0),
            *options,
        ]
        if credentials is None:
            self._channel = grpc.insecure_channel(self.target, options=opts)
        else:
            self._channel = grpc.secure_channel(self.target, credentials, options=opts)
        self._stub = pb_grpc.MetricFeedStub(self._channel)
        # StreamWindows with the zero-copy rows decoder (same messages as the stub's).
        self._stream_windows = self._channel.unary_stream(
            _STREAM_WINDOWS,
            request_serializer=pb.StreamWindowsRequest.SerializeToString,
            response_deserializer=parse_stream_response,
            _registered_method=True,
        )
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Closes the channel; open streams are cancelled. Idempotent."""
        if not self._closed:
            self._closed = True
            self._channel.close()
            self._native = None
            # As grpcio's channel.close() does: open streams end with CANCELLED.
            for stream in list(self._native_streams):
                stream._native.cancel()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"promfeed.Client({self.target!r})"

    def _err(self, e: grpc.RpcError, method: str) -> errors.PromfeedError:
        return errors.from_rpc_error(e, target=self.target, method=method)

    # -- unary calls ------------------------------------------------------------------------
    def status(self, *, timeout: float | None = None) -> pb.GetStatusResponse:
        """The daemon's GetStatus: upstream state, readiness, active_streams, memory."""
        try:
            return self._stub.GetStatus(
                pb.GetStatusRequest(),
                timeout=timeout or self.timeout,
                wait_for_ready=self._wait_for_ready,
                metadata=self._metadata,
            )
        except grpc.RpcError as e:
            raise self._err(e, "GetStatus") from None

    def series(
        self, match: str | Sequence[str] = (), *, limit: int = 0, timeout: float | None = None
    ) -> list[Series]:
        """Series whose labels match any of the selectors (all series when empty), sorted by
        label set. Raises InvalidArgumentError for a malformed selector."""
        req = pb.ListSeriesRequest(selectors=_as_list(match, "match"), limit=limit)
        try:
            resp = self._stub.ListSeries(
                req,
                timeout=timeout or self.timeout,
                wait_for_ready=self._wait_for_ready,
                metadata=self._metadata,
            )
        except grpc.RpcError as e:
            raise self._err(e, "ListSeries") from None
        return [Series.from_proto(s) for s in resp.series]

    # -- ReadRange ---------------------------------------------------------------------------
    def iter_read_range(
        self,
        selectors: str | Sequence[str],
        start: TimeLike,
        end: TimeLike = None,
        *,
        step: DurationLike = None,
        lookback: DurationLike = None,
        max_rows_per_message: int = 0,
        timeout: float | None = None,
    ) -> Iterator[ReadRangeResult]:
        """Streams the grid in blocks as the daemon sends them (one ReadRangeResult per
        message, arrays decoded zero-copy from the message bytes). Closing the iterator
        cancels the RPC. Arguments as in read_range."""
        req = pb.ReadRangeRequest(
            selectors=_as_list(selectors, "selectors"),
            start_ms=to_ms(start, what="start"),
            end_ms=to_ms(end, what="end"),
            step_ms=duration_ms(step, what="step"),
            lookback_ms=duration_ms(lookback, what="lookback"),
            max_rows_per_message=max_rows_per_message,
        )
        if req.start_ms <= 0:
            raise ValueError("start is required (epoch ms > 0, datetime or timedelta)")
        call = self._stub.ReadRange(
            req,
            timeout=timeout or self.timeout,
            wait_for_ready=self._wait_for_ready,
            metadata=self._metadata,
        )
        series: list[Series] | None = None
        try:
            for i, msg in enumerate(call):
                if i == 0:
                    series = [Series.from_proto(s) for s in msg.series]
                elif msg.series:
                    raise errors.ProtocolError(
                        "ReadRangeResponse: series sent again after the first message",
                        target=self.target,
                        method="ReadRange",
                    )
                assert series is not None
                t, v, m = decode_block(
                    msg.time_ms,
                    msg.values,
                    msg.mask,
                    msg.row_count,
                    len(series),
                    np.dtype("<f8"),
                    f"ReadRangeResponse #{i}",
                )
                if m is None:
                    m = ~np.isnan(v)
                yield ReadRangeResult(series=series, time_ms=t, values=v, mask=m)
        except grpc.RpcError as e:
            raise self._err(e, "ReadRange") from None
        finally:
            call.cancel()

    def read_range(
        self,
        selectors: str | Sequence[str],
        start: TimeLike,
        end: TimeLike = None,
        *,
        step: DurationLike = None,
        lookback: DurationLike = None,
        max_rows_per_message: int = 0,
        timeout: float | None = None,
    ) -> ReadRangeResult:
        """Samples the matched series on the grid t = k*step within [start, end].

        selectors: PromQL series selectors; columns in selector order, then label-set order.
        start: required; end: None means now. step: None means the daemon's poll interval.
        lookback: a grid point takes the newest sample in (t - lookback, t]; None: 2 x step.
        Returns time_ms int64[R], values float64[R, S] (NaN where missing), mask bool[R, S].
        Raises NotFoundError when a selector matches nothing, OutOfRangeError when start is
        older than the daemon holds.
        """
        series: list[Series] = []
        ts: list[np.ndarray] = []
        vs: list[np.ndarray] = []
        ms: list[np.ndarray] = []
        for block in self.iter_read_range(
            selectors,
            start,
            end,
            step=step,
            lookback=lookback,
            max_rows_per_message=max_rows_per_message,
            timeout=timeout,
        ):
            series = block.series
            ts.append(block.time_ms)
            vs.append(block.values)
            ms.append(block.mask)
        if not ts:
            raise errors.ProtocolError(
                "ReadRange ended without a message", target=self.target, method="ReadRange"
            )
        if len(ts) == 1:
            return ReadRangeResult(series=series, time_ms=ts[0], values=vs[0], mask=ms[0])
        return ReadRangeResult(
            series=series,
            time_ms=np.concatenate(ts),
            values=np.concatenate(vs),
            mask=np.concatenate(ms),
        )

    # -- StreamWindows -----------------------------------------------------------------------
    def windows(
        self,
        features: str | Sequence[str],
        window: int,
        shift: int = 1,
        *,
        step: DurationLike = None,
        fill: Fill | str = Fill.NAN,
        start: TimeLike = None,
        end: TimeLike = None,
        follow: bool = False,
        stream_timeout: int = -1,
        dtype: Any = np.float32,
        lookback: DurationLike = None,
        max_rows_per_message: int = 0,
    ) -> WindowStream:
        """Opens a StreamWindows stream; iterate it for WindowBatches of [N, window, F] views.

        Window k spans grid rows [k*shift, k*shift + window); row r is at
        header.start_time_ms + r*step. start None: the oldest time the daemon holds for all
        features; end None: now. follow: after the historical range, keep streaming rows as
        they complete. stream_timeout (only with follow): 0 stops at the live edge (the
        request becomes a historical read up to now), -1 never stops, N > 0 stops after N ms
        without a new row. fill: "nan" | "previous" | "zero" | "drop". dtype: float32/float64.

        The stream's header is read before this returns, so request errors (NotFoundError,
        InvalidArgumentError, ...) raise here. Closing the stream (or its garbage collection)
        cancels the RPC.
        """
        if isinstance(window, bool) or int(window) < 1:
            raise ValueError(f"window must be >= 1, got {window!r}")
        if int(shift) < 1:
            raise ValueError(f"shift must be >= 1, got {shift!r}")
        if stream_timeout < -1:
            raise ValueError(
                f"stream_timeout must be -1, 0 or a positive ms count: {stream_timeout}"
            )
        np_dtype = np.dtype(dtype)
        if np_dtype == np.float32:
            wire = pb.FLOAT32
        elif np_dtype == np.float64:
            wire = pb.FLOAT64
        else:
            raise ValueError(f"dtype must be float32 or float64, got {np_dtype}")
        fill_e = Fill(fill.value if isinstance(fill, Fill) else str(fill).lower())
        idle_ms = 0
        wire_follow = follow
        if follow and stream_timeout == 0:
            wire_follow = False  # stop at the live edge: a historical read up to now
            end = None
        elif follow and stream_timeout > 0:
            idle_ms = stream_timeout
        elif not follow and stream_timeout > 0:
            idle_ms = stream_timeout
        req = pb.StreamWindowsRequest(
            features=_as_list(features, "features"),
            step_ms=duration_ms(step, what="step"),
            window=int(window),
            shift=int(shift),
            fill=fill_e.to_proto(),
            start_ms=to_ms(start, what="start"),
            end_ms=0 if wire_follow else to_ms(end, what="end"),
            follow=wire_follow,
            dtype=wire,
            lookback_ms=duration_ms(lookback, what="lookback"),
            max_rows_per_message=max_rows_per_message,
        )
        return WindowStream(self, req, idle_ms=idle_ms)

    def _open_native_stream(self, req: pb.StreamWindowsRequest, owner: WindowStream) -> Any:
        """A C++ StreamWindows call (see promfeed._native), or None to use grpcio."""
        if self._native is None:
            return None
        stream = self._native.stream(
            _STREAM_WINDOWS,
            req.SerializeToString(),
            list(self._metadata),
            self._wait_for_ready,
            _QUEUED,
        )
        self._native_streams.add(owner)  # close() cancels it
        return stream

    def _open_stream(self, req: pb.StreamWindowsRequest) -> Any:
        return self._stream_windows(
            req, wait_for_ready=self._wait_for_ready, metadata=self._metadata
        )


_END = object()


def _pump(call: Any, q: queue.Queue, stop: threading.Event) -> None:
    """Reader thread: moves messages from the gRPC call into the bounded queue q."""

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for msg in call:
            if not put(msg):
                return
        put(_END)
    except grpc.RpcError as e:
        put(e)
    except BaseException as e:
        put(e)


class WindowStream:
    """An open StreamWindows RPC. Iterate for WindowBatches; close() cancels the RPC.

    A reader thread receives messages into a small bounded queue (so decoding overlaps the
    network and flow control still reaches the daemon). Not safe to iterate from several
    threads at once.
    """

    def __init__(self, client: Client, req: pb.StreamWindowsRequest, *, idle_ms: int = 0):
        self.target = client.target
        self.request = req
        self._idle_s = idle_ms / 1000.0 if idle_ms > 0 else None
        self._closed = False
        self._exhausted = False
        self._q: queue.Queue = queue.Queue(maxsize=_QUEUED)
        self._stop = threading.Event()
        self._native = client._open_native_stream(req, self)
        if self._native is None:  # grpcio: a reader thread fills self._q
            self._call = client._open_stream(req)
            self._thread = threading.Thread(
                target=_pump,
                args=(self._call, self._q, self._stop),
                name="promfeed-stream",
                daemon=True,
            )
            self._thread.start()
        first = self._get(timeout=client.timeout, waiting_for="the stream header")
        if first is None or first.WhichOneof("kind") != "header":
            self.close()
            raise errors.ProtocolError(
                f"StreamWindows: first message is {first and first.WhichOneof('kind')}, "
                "want header",
                target=self.target,
                method="StreamWindows",
            )
        self.header: StreamHeader = header_from_proto(first.header)
        self._asm = WindowAssembler(self.header)

    # -- bookkeeping ---------------------------------------------------------------------------
    @property
    def features(self) -> list[Series]:
        f = self.header.features
        return f if isinstance(f, list) else list(f)

    @property
    def dropped_windows_total(self) -> int:
        return self._asm.dropped_windows_total

    @property
    def lost_windows_total(self) -> int:
        return self._asm.lost_windows_total

    @property
    def rows_received(self) -> int:
        return self._asm.rows_received

    @property
    def windows_emitted(self) -> int:
        return self._asm.windows_emitted

    # -- iteration -----------------------------------------------------------------------------
    def _get(self, timeout: float | None, waiting_for: str) -> pb.StreamWindowsResponse | None:
        """Next message; None at the end of the stream or after `timeout` s of silence."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = 0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))
            try:
                item = self._next_item(wait)
            except queue.Empty:
                if self._closed:
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    if waiting_for == "the stream header":
                        self.close()
                        raise errors.DeadlineExceededError(
                            f"no stream header within {timeout} s",
                            target=self.target,
                            method="StreamWindows",
                        ) from None
                    return None
                continue
            if item is _END:
                self._exhausted = True
                return None
            if isinstance(item, grpc.RpcError):
                self._exhausted = True
                if self._closed and item.code() == grpc.StatusCode.CANCELLED:
                    return None
                self.close()
                raise errors.from_rpc_error(item, target=self.target, method="StreamWindows")
            if isinstance(item, BaseException):
                self._exhausted = True
                self.close()
                raise item
            return item

    def _next_item(self, wait: float) -> object:
        """The next message, _END or the error that ended the stream; queue.Empty after
        `wait` s without one."""
        if self._native is None:
            return self._q.get(timeout=wait)
        msg = self._native.next(wait)
        if msg is not None:
            return parse_stream_response(msg)
        if not self._native.ended():
            raise queue.Empty
        code, details = self._native.status()
        return _END if code == 0 else _native.NativeRpcError(code, details)

    def _blocks(self) -> Iterator[pb.RowBlock]:
        try:
            while not self._closed and not self._exhausted:
                msg = self._get(timeout=self._idle_s, waiting_for="rows")
                if msg is None:
                    return
                if msg.WhichOneof("kind") != "rows":
                    raise errors.ProtocolError(
                        "StreamWindows: a second header arrived",
                        target=self.target,
                        method="StreamWindows",
                    )
                yield msg.rows
        finally:
            self.close()

    def _protocol(self, e: errors.ProtocolError) -> errors.ProtocolError:
        return errors.ProtocolError(e.details, target=self.target, method="StreamWindows")

    def __iter__(self) -> Iterator[WindowBatch]:
        try:
            for block in self._blocks():
                try:
                    batch = self._asm.feed(block)
                except errors.ProtocolError as e:
                    raise self._protocol(e) from None
                if batch is not None:
                    yield batch
        finally:
            self.close()

    def iter_rows(self) -> Iterator[RowStep]:
        """Iterates the stream as RowSteps: each message's new rows [R, F] (zero-copy) and the
        windows it completes as indices (window k starts at row k * shift), without forming
        window views. Same bookkeeping as iterating the stream; use one or the other."""
        try:
            for block in self._blocks():
                try:
                    step = self._asm.feed_rows(block)
                except errors.ProtocolError as e:
                    raise self._protocol(e) from None
                yield step
        finally:
            self.close()

    def message_waiting(self) -> bool:
        """True when a further message has already arrived and is ready to be read."""
        return self._native.waiting() if self._native is not None else not self._q.empty()

    def __next__(self) -> WindowBatch:  # pragma: no cover - convenience
        raise TypeError("iterate with `for batch in stream` or iter(stream)")

    def read_all(self) -> WindowBatch:
        """Reads until the stream ends and concatenates all windows (copies)."""
        xs, ts, ix, ms, dr = [], [], [], [], []
        lost = 0
        any_mask = False
        for b in self:
            xs.append(b.x)
            ts.append(b.time_ms)
            ix.append(b.index)
            ms.append(b.mask)
            dr.append(b.dropped)
            lost += b.lost
            any_mask |= b.mask is not None
        h = self.header
        if not xs:
            return WindowBatch(
                x=np.zeros((0, h.window, h.num_features), h.dtype),
                time_ms=np.zeros((0, h.window), np.int64),
                index=np.zeros(0, np.int64),
                lost=lost,
            )
        mask = None
        if any_mask:
            mask = np.concatenate(
                [
                    m if m is not None else np.ones(x.shape, np.bool_)
                    for m, x in zip(ms, xs, strict=False)
                ]
            )
        return WindowBatch(
            x=np.concatenate(xs),
            time_ms=np.concatenate(ts),
            index=np.concatenate(ix),
            mask=mask,
            dropped=np.concatenate(dr),
            lost=lost,
        )

    def close(self) -> None:
        """Cancels the RPC (frees the daemon's stream). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        try:
            if self._native is not None:
                self._native.cancel()
            else:
                self._call.cancel()
        except Exception:
            pass

    def __enter__(self) -> WindowStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
