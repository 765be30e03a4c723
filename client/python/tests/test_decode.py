"""WindowAssembler on hand-made RowBlocks: boundaries, drops, losses, jumps, errors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from promfeed._decode import WindowAssembler
from promfeed._types import Fill, StreamHeader
from promfeed.errors import ProtocolError
from promfeed.v1 import metric_feed_pb2 as pb

STEP = 1000


def header(w: int, shift: int, f: int, dtype=np.float32) -> StreamHeader:
    return StreamHeader(
        features=[None] * f,
        feature_selector_index=[0] * f,
        step_ms=STEP,
        lookback_ms=2 * STEP,
        window=w,
        shift=shift,
        fill=Fill.NAN,
        dtype=np.dtype(dtype),
        start_time_ms=0,
        end_time_ms=0,
    )


def rows_block(
    vals: np.ndarray,
    first: int,
    w: int,
    shift: int,
    next_window: int,
    mask: np.ndarray | None = None,
    **kw,
) -> tuple[pb.RowBlock, int]:
    """A RowBlock for rows [first, first+len) that completes every window it can."""
    r = len(vals)
    last = first + r - 1
    k_hi = (last - w + 1) // shift if last - w + 1 >= 0 else -1
    n = max(0, k_hi - next_window + 1)
    b = pb.RowBlock(
        first_row_index=first,
        row_count=r,
        time_ms=(np.arange(first, first + r, dtype="<i8") * STEP).tobytes(),
        values=np.ascontiguousarray(vals).tobytes(),
        mask=b"" if mask is None else mask.astype(np.uint8).tobytes(),
        first_window_index=next_window if n else 0,
        window_count=n,
        **kw,
    )
    return b, next_window + n


def reference(all_rows: np.ndarray, w: int, shift: int) -> np.ndarray:
    return sliding_window_view(all_rows, w, axis=0)[::shift].swapaxes(1, 2)


@pytest.mark.parametrize(
    "w,shift,f,splits",
    [
        (1, 1, 1, [5, 5]),
        (3, 1, 2, [1, 1, 1, 1, 1, 1, 1]),
        (5, 2, 3, [2, 7, 1, 3, 9]),
        (4, 6, 2, [5, 5, 5, 5, 5]),  # shift > window: rows between windows are skipped
        (10, 1, 1, [3, 3, 3, 3, 3, 3]),  # windows span several messages
        (2, 1, 4, [40]),
    ],
)
def test_windows_across_message_boundaries_equal_reference(w, shift, f, splits):
    rng = np.random.default_rng(0)
    total = sum(splits)
    data = rng.normal(size=(total, f)).astype(np.float32)
    asm = WindowAssembler(header(w, shift, f))
    got, idx = [], []
    first, nxt = 0, 0
    for r in splits:
        b, nxt = rows_block(data[first : first + r], first, w, shift, nxt)
        out = asm.feed(b)
        if out is not None:
            got.append(out.x)
            idx.append(out.index)
            assert out.mask is None
            assert np.array_equal(out.time_ms[:, 0], out.index * shift * STEP)
        first += r
    ref = reference(data, w, shift)
    assert np.array_equal(np.concatenate(got), ref)
    assert np.array_equal(np.concatenate(idx), np.arange(len(ref)))


def test_single_message_windows_are_zero_copy_views():
    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    asm = WindowAssembler(header(3, 1, 2))
    b, _ = rows_block(data, 0, 3, 1, 0)
    out = asm.feed(b)
    assert out is not None and len(out) == 8
    assert not out.x.flags.owndata
    base = out.x
    while base is not None and not isinstance(base, bytes):
        base = base.base
    # The windows view the message's bytes themselves: 10 rows x 2 x 4 bytes, not 8 x 3 x 2.
    assert isinstance(base, bytes) and len(base) == 10 * 2 * 4


def test_dropped_windows_are_removed_and_reported():
    data = np.arange(10, dtype=np.float64).reshape(10, 1)
    asm = WindowAssembler(header(2, 1, 1, np.float64))
    b, _ = rows_block(data, 0, 2, 1, 0, dropped_window_indices=[3, 4], dropped_windows_total=2)
    out = asm.feed(b)
    assert list(out.index) == [0, 1, 2, 5, 6, 7, 8]
    assert list(out.dropped) == [3, 4]
    assert out.x[3, :, 0].tolist() == [5.0, 6.0]
    assert asm.dropped_windows_total == 2


def test_loss_jump_discards_held_rows():
    w, shift = 3, 1
    data = np.arange(30, dtype=np.float32).reshape(30, 1)
    asm = WindowAssembler(header(w, shift, 1))
    b1, nxt = rows_block(data[0:4], 0, w, shift, 0)  # windows 0, 1
    o1 = asm.feed(b1)
    assert list(o1.index) == [0, 1]
    # rows 4..9 lost; windows 2..9 can't be formed any more (they need rows < 10)
    b2, nxt2 = rows_block(data[10:15], 10, w, shift, 10, lost_windows=8, lost_windows_total=8)
    o2 = asm.feed(b2)
    assert o2.lost == 8 and asm.lost_windows_total == 8
    assert list(o2.index) == [10, 11, 12]
    assert o2.x[0, :, 0].tolist() == [10.0, 11.0, 12.0]


def test_jump_without_lost_count_still_discards_rows():
    data = np.arange(20, dtype=np.float32).reshape(20, 1)
    asm = WindowAssembler(header(2, 1, 1))
    b1, _ = rows_block(data[0:3], 0, 2, 1, 0)
    asm.feed(b1)
    b2, _ = rows_block(data[5:8], 5, 2, 1, 5)
    o2 = asm.feed(b2)
    assert list(o2.index) == [5, 6]


def test_mask_mixed_with_all_real_blocks():
    w = 3
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    m = np.ones((6, 2), bool)
    m[2, 1] = False
    asm = WindowAssembler(header(w, 1, 2))
    b1, nxt = rows_block(data[:2], 0, w, 1, 0)  # empty mask: all real
    assert asm.feed(b1) is None
    b2, _ = rows_block(data[2:], 2, w, 1, nxt, mask=m[2:])
    out = asm.feed(b2)
    assert out.mask is not None
    assert np.array_equal(out.mask, reference(m, w, 1))


def test_revised_rows_are_a_protocol_error():
    data = np.zeros((4, 1), np.float32)
    asm = WindowAssembler(header(2, 1, 1))
    b1, _ = rows_block(data, 0, 2, 1, 0)
    asm.feed(b1)
    b2, _ = rows_block(data[:2], 2, 2, 1, 3)
    with pytest.raises(ProtocolError, match="revises"):
        asm.feed(b2)


def test_wrong_byte_lengths_are_a_protocol_error():
    asm = WindowAssembler(header(2, 1, 3))
    b = pb.RowBlock(first_row_index=0, row_count=2, time_ms=b"\0" * 16, values=b"\0" * 20)
    with pytest.raises(ProtocolError, match="values has 20 bytes"):
        asm.feed(b)


def test_window_over_missing_rows_is_a_protocol_error():
    data = np.zeros((2, 1), np.float32)
    asm = WindowAssembler(header(3, 1, 1))
    b, _ = rows_block(data, 0, 3, 1, 0)
    b.first_window_index, b.window_count = 0, 1
    with pytest.raises(ProtocolError, match="claims windows"):
        asm.feed(b)


def test_views_stay_valid_after_later_messages():
    data = np.arange(10, dtype=np.float32).reshape(10, 1)
    asm = WindowAssembler(header(3, 1, 1))
    b1, nxt = rows_block(data[:5], 0, 3, 1, 0)
    o1 = asm.feed(b1)
    keep = o1.x.copy()
    b2, _ = rows_block(data[5:], 5, 3, 1, nxt)
    asm.feed(b2)
    assert np.array_equal(o1.x, keep)
