"""Zero-copy decoding of StreamWindowsResponse rows messages, without protobuf.

A rows message is almost all `values` bytes (838 KB at the default size): protobuf's parser
copies them into its arena, and reading `.values` copies them again into a new bytes object.
`parse_stream_response` reads the few scalar fields itself and returns the bytes fields as
memoryview slices of the received message (numpy wraps them without a copy). Anything it
does not expect (a header, unknown fields, other wire types) goes to protobuf instead, so
the result always equals protobuf's parse.
"""

from __future__ import annotations

from typing import Any

from promfeed.v1 import metric_feed_pb2 as pb

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_ROWS_TAG = (2 << 3) | _LEN  # StreamWindowsResponse.rows
# RowBlock scalar fields: number -> (attribute, bits of the proto type).
_SCALARS = {
    1: ("first_row_index", 64),
    2: ("row_count", 32),
    6: ("first_window_index", 64),
    7: ("window_count", 32),
    9: ("lost_windows", 64),
    10: ("dropped_windows_total", 64),
    11: ("lost_windows_total", 64),
}
_BYTES = {3: "time_ms", 4: "values", 5: "mask"}
_DROPPED = 8  # repeated int64 dropped_window_indices (packed or not)


class _Fallback(Exception):
    """The message has something the fast path does not handle: parse with protobuf."""


class RawRowBlock:
    """The fields of a pb.RowBlock that promfeed reads; bytes fields are memoryviews."""

    __slots__ = (
        "dropped_window_indices",
        "dropped_windows_total",
        "first_row_index",
        "first_window_index",
        "lost_windows",
        "lost_windows_total",
        "mask",
        "row_count",
        "time_ms",
        "values",
        "window_count",
    )

    def __init__(self) -> None:
        empty = memoryview(b"")
        self.first_row_index = self.row_count = 0
        self.time_ms = self.values = self.mask = empty
        self.first_window_index = self.window_count = 0
        self.dropped_window_indices: list[int] = []
        self.lost_windows = self.dropped_windows_total = self.lost_windows_total = 0


class RawRowsResponse:
    """A StreamWindowsResponse whose `kind` is rows (duck-types the protobuf message)."""

    __slots__ = ("rows",)

    def __init__(self, rows: RawRowBlock) -> None:
        self.rows = rows

    def WhichOneof(self, name: str) -> str | None:  # (protobuf's method name)
        if name != "kind":
            raise ValueError(f'protocol message has no "{name}" field')
        return "rows"


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Fallback
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _parse_rows(buf: memoryview, pos: int, end: int) -> RawRowBlock:
    b = RawRowBlock()
    while pos < end:
        key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if wire == _VARINT and field in _SCALARS:
            v, pos = _varint(buf, pos, end)
            name, bits = _SCALARS[field]
            setattr(b, name, _signed(v, bits))
        elif wire == _LEN and (field in _BYTES or field == _DROPPED):
            n, pos = _varint(buf, pos, end)
            if pos + n > end:
                raise _Fallback
            if field == _DROPPED:
                q, stop = pos, pos + n
                while q < stop:
                    v, q = _varint(buf, q, stop)
                    b.dropped_window_indices.append(_signed(v, 64))
            else:
                setattr(b, _BYTES[field], buf[pos : pos + n])
            pos += n
        elif wire == _VARINT and field == _DROPPED:
            v, pos = _varint(buf, pos, end)
            b.dropped_window_indices.append(_signed(v, 64))
        else:
            raise _Fallback  # Unknown field or unexpected wire type.
    return b


def parse_stream_response(data: Any) -> Any:
    """StreamWindows response deserializer for gRPC (data: bytes, or any buffer, such as a
    message of the C++ transport): a RawRowsResponse for a rows message
    that is exactly one `rows` field, else the protobuf message (the header, anything else)."""
    buf = memoryview(data)
    try:
        if len(buf) == 0 or buf[0] != _ROWS_TAG:
            raise _Fallback
        n, pos = _varint(buf, 1, len(buf))
        if pos + n != len(buf):
            raise _Fallback  # More than the one rows field.
        return RawRowsResponse(_parse_rows(buf, pos, pos + n))
    except _Fallback:
        return pb.StreamWindowsResponse.FromString(data if isinstance(data, bytes) else bytes(buf))
