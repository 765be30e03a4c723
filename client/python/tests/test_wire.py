"""promfeed._wire: the zero-copy rows decoder equals protobuf's parse, message by message."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf.message import DecodeError

from promfeed._wire import RawRowsResponse, parse_stream_response
from promfeed.v1 import metric_feed_pb2 as pb

FIELDS = (
    "first_row_index",
    "row_count",
    "time_ms",
    "values",
    "mask",
    "first_window_index",
    "window_count",
    "dropped_window_indices",
    "lost_windows",
    "dropped_windows_total",
    "lost_windows_total",
)


def rows_messages() -> list[pb.StreamWindowsResponse]:
    rng = np.random.default_rng(1)
    v = rng.standard_normal((7, 5)).astype(np.float32)
    v[2, 3] = np.nan
    full = pb.RowBlock(
        first_row_index=123_456_789_012,
        row_count=7,
        time_ms=np.arange(7, dtype=np.int64).tobytes(),
        values=v.tobytes(),
        mask=(rng.random((7, 5)) > 0.2).astype(np.uint8).tobytes(),
        first_window_index=2**40,
        window_count=3,
        dropped_window_indices=[2**40, 2**40 + 2, 0, -1],
        lost_windows=9,
        dropped_windows_total=2**62,
        lost_windows_total=300,
    )
    return [
        pb.StreamWindowsResponse(rows=full),
        pb.StreamWindowsResponse(rows=pb.RowBlock()),  # All defaults: an empty rows field.
        pb.StreamWindowsResponse(rows=pb.RowBlock(row_count=-5, first_row_index=-(2**63))),
        pb.StreamWindowsResponse(rows=pb.RowBlock(lost_windows=4, first_row_index=77)),
        pb.StreamWindowsResponse(
            rows=pb.RowBlock(row_count=2**31 - 1, values=b"x" * 1_000_000, window_count=-1)
        ),
    ]


def assert_same(got: object, want: pb.StreamWindowsResponse) -> None:
    assert got.WhichOneof("kind") == want.WhichOneof("kind") == "rows"
    for name in FIELDS:
        g, w = getattr(got.rows, name), getattr(want.rows, name)
        if isinstance(w, bytes):
            assert bytes(g) == w, name
        elif name == "dropped_window_indices":
            assert list(g) == list(w), name
        else:
            assert g == w, name


@pytest.mark.parametrize("i", range(5))
def test_rows_equal_protobuf(i: int) -> None:
    msg = rows_messages()[i]
    data = msg.SerializeToString()
    got = parse_stream_response(data)
    assert isinstance(got, RawRowsResponse)
    assert_same(got, pb.StreamWindowsResponse.FromString(data))


def test_values_are_a_view_of_the_message_bytes() -> None:
    data = rows_messages()[0].SerializeToString()
    got = parse_stream_response(data)
    assert got.rows.values.obj is data
    a = np.frombuffer(got.rows.values, dtype=np.float32)
    b = np.frombuffer(rows_messages()[0].rows.values, dtype=np.float32)
    np.testing.assert_array_equal(a, b)


def test_header_and_unusual_messages_go_to_protobuf() -> None:
    header = pb.StreamWindowsResponse(header=pb.WindowHeader(step_ms=1000, window=60))
    data = header.SerializeToString()
    got = parse_stream_response(data)
    assert isinstance(got, pb.StreamWindowsResponse) and got == header

    block = rows_messages()[0].rows
    # Two rows fields (protobuf merges them), unpacked dropped indices, an unknown field.
    twice = (
        pb.StreamWindowsResponse(rows=block).SerializeToString()
        + pb.StreamWindowsResponse(rows=pb.RowBlock(row_count=3)).SerializeToString()
    )
    inner = pb.RowBlock(row_count=1).SerializeToString() + bytes([8 << 3 | 0, 5, 8 << 3 | 0, 6])
    unpacked = bytes([2 << 3 | 2, len(inner)]) + inner
    unknown_inner = pb.RowBlock(row_count=1).SerializeToString() + bytes([15 << 3 | 0, 1])
    unknown = bytes([2 << 3 | 2, len(unknown_inner)]) + unknown_inner
    for data in (twice, unpacked, unknown):
        want = pb.StreamWindowsResponse.FromString(data)
        got = parse_stream_response(data)
        if isinstance(got, RawRowsResponse):
            assert_same(got, want)
        else:
            assert got == want
    assert list(parse_stream_response(unpacked).rows.dropped_window_indices) == [5, 6]


def test_truncated_message_raises_like_protobuf() -> None:
    data = rows_messages()[0].SerializeToString()
    with pytest.raises(DecodeError):
        parse_stream_response(data[:-10])
