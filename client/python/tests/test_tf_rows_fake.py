"""promfeed.tf.rows() against the in-process fake daemon."""

from __future__ import annotations

import gc
import os
import sys
import time
import weakref
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import promfeed  # noqa: E402
import promfeed.tf  # noqa: E402

from fake_daemon import FakeDaemon, grid_values  # noqa: E402
from test_client_fake import STEP, T0, make_state, wait_streams  # noqa: E402

# Every test here runs on both stream transports: C++ (_promfeed_native) and grpcio.
pytestmark = pytest.mark.usefixtures("transport")

GAUGE = "go_memstats_gc_sys_bytes"


def _reference(target, sel=GAUGE, **kw):
    """(time_ms [N], values [N, F], mask [N, F]) of Client.windows(window=1): the oracle."""
    with promfeed.Client(target) as c:
        b = c.windows(sel, window=1, shift=1, **kw).read_all()
    mask = np.ones(b.x.shape, np.bool_) if b.mask is None else b.mask
    return b.time_ms[:, 0], b.x[:, 0, :], mask[:, 0, :]


def _collect(ds):
    """Concatenated (time_ms, values, mask) of a with_mask rows() dataset, and block sizes."""
    parts = [tuple(a.numpy() for a in e) for e in ds]
    sizes = [len(p[0]) for p in parts]
    return tuple(np.concatenate(a) for a in zip(*parts, strict=True)), sizes


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize(
    "fill,missing_every,loss",
    [
        ("nan", 0, False),
        ("nan", 4, False),
        ("previous", 5, True),  # a loss: rows jump mid-stream
        ("zero", 3, False),
        ("drop", 4, False),  # rows with a missing value left out
    ],
)
def test_rows_equal_client_windows_of_one_row(dtype, fill, missing_every, loss):
    st = make_state(n=90, missing_every=missing_every)
    if loss:
        st.loss_after_rows, st.loss_rows = 40, 6
    np_dtype = dtype.as_numpy_dtype
    kw = dict(fill=fill, max_rows_per_message=7, start=T0 + 2 * STEP)
    with FakeDaemon(st) as f:
        ref_t, ref_v, ref_m = _reference(f.target, dtype=np_dtype, **kw)
        assert len(ref_t) > 40 and ref_v.dtype == np_dtype
        row_bytes = 8 + 2 * np.dtype(np_dtype).itemsize + 2  # time, 2 values, 2 mask bytes
        for block_rows in (1, 5, 16, None):  # None: the default budget, all rows in one block
            extra = {} if block_rows is None else {"block_bytes": block_rows * row_bytes + 3}
            ds = promfeed.tf.rows(f.target, GAUGE, dtype=dtype, with_mask=True, **kw, **extra)
            (t, v, m), sizes = _collect(ds)
            assert v.dtype == np_dtype and m.dtype == np.bool_
            np.testing.assert_array_equal(t, ref_t)
            np.testing.assert_array_equal(v, ref_v)
            np.testing.assert_array_equal(m, ref_m)
            if block_rows is None:
                # 7 rows per message, coalesced; a loss starts a second block.
                assert sizes == ([40, len(t) - 40] if loss else [len(t)])
            elif not loss:
                full, rest = divmod(len(t), block_rows)
                assert sizes == [block_rows] * full + ([rest] if rest else [])
            else:
                assert max(sizes) == block_rows and sum(sizes) == len(t)


def test_without_mask_elements_are_time_and_values():
    with FakeDaemon(make_state(n=30)) as f:
        ds = promfeed.tf.rows(f.target, GAUGE, start=T0)
        t_spec, v_spec = ds.element_spec
        assert t_spec == tf.TensorSpec((None,), tf.int64)
        assert v_spec == tf.TensorSpec((None, 2), tf.float32)
        [(t, v)] = list(ds)
        assert t.numpy().tolist() == list(range(T0, T0 + 30 * STEP, STEP))
        assert v.shape == (30, 2)


def test_columns_follow_the_selectors_and_series_gone_become_nan():
    st = make_state(n=30)
    with FakeDaemon(st) as f:
        sels = [f'{GAUGE}{{job="node"}}', f'{GAUGE}{{job="prometheus"}}']
        ds, info = promfeed.tf.rows(
            f.target, sels, dtype=tf.float64, with_mask=True, start=T0, return_info=True
        )
        assert [s.job for s in info.features] == ["node", "prometheus"]
        (t, v, m), _ = _collect(ds)
        for j, s in enumerate(info.features):
            fs = next(x for x in st.series if x.key() == s.key())
            np.testing.assert_array_equal(v[:, j], grid_values(fs, t, 2 * STEP))

        # Columns are fixed when rows() runs: a series gone later is a NaN column, mask False.
        ds = promfeed.tf.rows(f.target, GAUGE, dtype=tf.float64, with_mask=True, start=T0)
        st.series.remove(next(x for x in st.series if x.key() == info.features[0].key()))
        (t2, v2, m2), _ = _collect(ds)
        np.testing.assert_array_equal(t2, t)
        np.testing.assert_array_equal(v2[:, 0], v[:, 1])  # prometheus keeps its column
        assert np.isnan(v2[:, 1]).all() and not m2[:, 1].any()


def test_follow_cuts_blocks_at_the_live_edge():
    st = make_state(n=40)
    st.follow_rows, st.follow_period = 5, 0.2
    with FakeDaemon(st) as f:
        ds = promfeed.tf.rows(
            f.target, GAUGE, follow=True, stream_timeout=400, with_mask=True, start=T0
        )
        (t, v, _), sizes = _collect(ds)
        assert len(t) == 40 + 5 and sizes[-5:] == [1] * 5  # live rows are never held back
        np.testing.assert_array_equal(t, np.arange(T0, T0 + 45 * STEP, STEP))
        ref_t, ref_v, _ = _reference(f.target, start=T0, end=st.now_ms)
        np.testing.assert_array_equal(v[:40], ref_v)


def test_a_loss_starts_a_new_block():
    st = make_state(n=60)
    st.loss_after_rows, st.loss_rows = 25, 4
    with FakeDaemon(st) as f:
        blocks = [t.numpy() for t, _ in promfeed.tf.rows(f.target, GAUGE, start=T0)]
    assert [len(b) for b in blocks] == [25, 60 - 29]
    assert all((np.diff(b) == STEP).all() for b in blocks)
    assert blocks[1][0] - blocks[0][-1] == 5 * STEP


def test_each_iteration_opens_a_stream_and_deleting_the_iterator_cancels_it():
    st = make_state(n=30)
    with FakeDaemon(st) as f, promfeed.Client(f.target) as c:
        ds = promfeed.tf.rows(f.target, GAUGE, start=T0, block_bytes=64)
        epochs = [np.concatenate([t.numpy() for t, _ in ds]) for _ in range(2)]
        np.testing.assert_array_equal(epochs[0], epochs[1])
        wait_streams(c, 0)

        st.follow_rows = 10_000
        ds = promfeed.tf.rows(f.target, GAUGE, follow=True, stream_timeout=-1)
        it = iter(ds)
        next(it)
        wait_streams(c, 1)
        del it
        gc.collect()
        wait_streams(c, 0, timeout=10)


def test_unbatch_gives_single_rows_and_rebatch_fixed_blocks():
    with FakeDaemon(make_state(n=30)) as f:
        ds = promfeed.tf.rows(f.target, GAUGE, start=T0, block_bytes=100)
        rows = list(ds.unbatch())
        assert len(rows) == 30 and rows[0][0].shape == () and rows[0][1].shape == (2,)
        sizes = [len(t) for t, _ in ds.rebatch(8)]
        assert sizes == [8, 8, 8, 6]


def test_blocks_are_aligned_pooled_buffers():
    from promfeed._columns import ColumnMap
    from promfeed.tf import _row_blocks

    with FakeDaemon(make_state(n=30)) as f, promfeed.Client(f.target) as c:
        stream = c.windows(GAUGE, window=1, start=T0, max_rows_per_message=4)
        keys = [s.key() for s in stream.features]
        blocks = list(_row_blocks(stream, ColumnMap(keys, keys), 7, with_mask=True))
    assert [len(b[0]) for b in blocks] == [7, 7, 7, 7, 2]
    for block in blocks:
        for a in block:
            assert a.flags.c_contiguous and a.ctypes.data % 64 == 0
    # A block cut less than half full does not keep a 7-row buffer alive.
    assert [a.base.nbytes for a in blocks[-1]] == [2 * 8 + 64, 2 * 2 * 4 + 64, 2 * 2 + 64]


class _CountingNumpy:
    """numpy, counting np.empty calls and weakly keeping what they returned (stands in for
    promfeed.tf's `np`)."""

    def __init__(self) -> None:
        self.empty_calls = 0
        self.arrays: list[weakref.ref] = []

    def empty(self, *args, **kwargs):
        self.empty_calls += 1
        a = np.empty(*args, **kwargs)
        self.arrays.append(weakref.ref(a))
        return a

    def held(self) -> int:
        """Arrays referenced by more than a buffer pool (and this call's temporaries)."""
        # getrefcount counts: the pool's list, the local name and its own argument.
        return sum(1 for r in self.arrays if (a := r()) is not None and sys.getrefcount(a) > 3)

    def __getattr__(self, name):
        return getattr(np, name)


def test_later_iterations_reuse_the_block_buffers(monkeypatch):
    counting = _CountingNumpy()
    monkeypatch.setattr(promfeed.tf, "np", counting)
    epochs = 5
    with FakeDaemon(make_state(n=30)) as f:
        # 10 rows a block: 8 B of time + 2 float32 values per row.
        ds = promfeed.tf.rows(f.target, GAUGE, start=T0, block_bytes=10 * (8 + 2 * 4))
        for _ in range(epochs):
            assert [len(t) for t, _ in ds] == [10, 10, 10]
            # TensorFlow lets go of an epoch's last blocks on its own threads: wait until it
            # holds none, so that epochs do not overlap in the buffers they hold.
            deadline = time.monotonic() + 10
            while counting.held():
                assert time.monotonic() < deadline, "TensorFlow still holds a block after 10 s"
                gc.collect()
                time.sleep(0.01)
    # How many blocks TensorFlow holds at once varies with timing (up to 3 here), but the
    # buffers come back to the dataset's pools (time and values, 4 buffers each) for every
    # epoch: allocations stay within the pools. Without reuse across epochs, each epoch
    # would allocate at least 2 buffers per pool (20 in all).
    assert 0 < counting.empty_calls <= 2 * 4


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(dtype=tf.int32), "dtype"),
        (dict(fill="bogus"), "fill must be one of"),
        (dict(block_bytes=0), "block_bytes"),
        (dict(block_bytes=True), "block_bytes"),
        (dict(block_bytes=1.5), "block_bytes"),
        (dict(stream_timeout=-2), "stream_timeout"),
    ],
)
def test_bad_arguments_raise_value_error(kw, match):
    with FakeDaemon(make_state(n=10)) as f:
        with pytest.raises(ValueError, match=match):
            promfeed.tf.rows(f.target, GAUGE, **kw)


def test_expected_columns_map_a_stream_header_in_any_order():
    from promfeed._columns import ExpectedColumns
    from promfeed._types import SeriesList
    from promfeed.v1 import metric_feed_pb2 as pb

    def proto(*pairs):
        return pb.Series(labels=[pb.Label(name=n, value=v) for n, v in pairs], samples_held=5)

    a = proto(("__name__", "m"), ("job", "a"))
    b = proto(("__name__", "m"), ("job", "b"))
    b_unsorted = proto(("job", "b"), ("__name__", "m"))
    expected = ExpectedColumns(
        [(("__name__", "m"), ("job", "a")), (("__name__", "m"), ("job", "b"))]
    )
    assert expected.column_map(SeriesList([a, b])).identity
    assert expected.column_map(SeriesList([a, b_unsorted])).identity  # same label set
    assert expected.column_map(SeriesList([b, a])).index.tolist() == [1, 0]
    assert expected.column_map(SeriesList([b])).index.tolist() == [-1, 0]


def test_expected_columns_compare_a_header_label_bytes_then_label_sets():
    from promfeed._columns import ExpectedColumns
    from promfeed._decode import header_from_proto
    from promfeed.v1 import metric_feed_pb2 as pb

    def proto(*pairs, held=5):
        return pb.Series(labels=[pb.Label(name=n, value=v) for n, v in pairs], samples_held=held)

    a = proto(("__name__", "m"), ("job", "a"))
    b = proto(("__name__", "m"), ("job", "b"), held=7)
    b_unsorted = proto(("job", "b"), ("__name__", "m"))
    expected = ExpectedColumns(
        [(("__name__", "m"), ("job", "a")), (("__name__", "m"), ("job", "b"))]
    )

    def cmap(*features):
        return expected.column_map(
            header_from_proto(pb.WindowHeader(features=features, window=1)).features
        )

    assert cmap(a, b).identity  # equal label bytes (sample counts ignored)
    assert cmap(a, b_unsorted).identity  # bytes differ, label sets equal
    assert cmap(b, a).index.tolist() == [1, 0]
    assert cmap(a).index.tolist() == [0, -1]
    assert cmap(a, b, proto(("__name__", "m"), ("job", "c"))).index.tolist() == [0, 1]


def test_native_transport_survives_tensorflow_loaded_first(transport, tmp_path):
    """In a fresh process that imports TensorFlow before promfeed (as scripts/demo.sh does),
    clients opened one after another stream into tf.data. Without RTLD_DEEPBIND the C++
    transport's libgrpc called into grpcio's copy of gRPC core and crashed."""
    import subprocess

    script = tmp_path / "order.py"
    script.write_text(
        "import sys\n"
        "import tensorflow as tf\n"
        "import promfeed, promfeed.tf\n"
        "from fake_daemon import FakeDaemon\n"
        "from test_client_fake import T0, make_state\n"
        "with FakeDaemon(make_state(n=40)) as f:\n"
        "    for _ in range(4):\n"
        "        with promfeed.Client(f.target) as c:\n"
        "            assert len(c.windows('go_memstats_gc_sys_bytes', window=2).read_all()) == 39\n"
        "        ds = promfeed.tf.rows(f.target, 'go_memstats_gc_sys_bytes', start=T0)\n"
        "        assert sum(int(t.shape[0]) for t, _ in ds) == 40\n"
        "        del ds\n"
        "print('ok', promfeed._native.enabled())\n"
    )
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": here, "TF_CPP_MIN_LOG_LEVEL": "2"}
    res = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split()[-2:] == ["ok", str(transport == "native")]
