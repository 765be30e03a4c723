"""promfeed.tf and promfeed.tfio against the in-process fake daemon."""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import promfeed  # noqa: E402
import promfeed.tf  # noqa: E402
from promfeed import errors  # noqa: E402
from promfeed import tfio as pf_tfio  # noqa: E402

from fake_daemon import FakeDaemon, grid_values  # noqa: E402
from test_client_fake import STEP, T0, make_state, wait_streams  # noqa: E402

# Every test here runs on both stream transports: C++ (_promfeed_native) and grpcio.
pytestmark = pytest.mark.usefixtures("transport")


@pytest.fixture
def fake():
    with FakeDaemon(make_state()) as f:
        yield f


def test_windows_signature_and_x_y_split(fake):
    ds, info = promfeed.tf.windows(
        fake.target,
        ["go_memstats_gc_sys_bytes"],
        window=4,
        shift=1,
        horizon=2,
        targets=[1],
        dtype=tf.float64,
        fill="nan",
        start=T0 + 2 * STEP,
        return_info=True,
    )
    x_spec, y_spec = ds.element_spec
    assert x_spec.shape == (4, 2) and y_spec.shape == (2, 1) and x_spec.dtype == tf.float64
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=False)
    xs, ys = np.stack(xs), np.stack(ys)
    cols = [next(f for f in fake.state.series if f.key() == s.key()) for s in info.features]
    grid = np.arange(T0 + 2 * STEP, fake.state.now_ms + 1, STEP)
    rows = np.stack([grid_values(f, grid, 2 * STEP) for f in cols], axis=1)
    n = len(grid) - 6 + 1
    assert len(xs) == n
    for k in (0, 7, n - 1):
        np.testing.assert_array_equal(xs[k], rows[k : k + 4])
        np.testing.assert_array_equal(ys[k], rows[k + 4 : k + 6, [1]])


def test_windows_trains_with_model_fit_and_pipeline_ops(fake):
    ds = promfeed.tf.windows(fake.target, "go_memstats_gc_sys_bytes", window=2, horizon=1)
    ds = ds.map(lambda x, y: (x / 1e6, y / 1e6)).shuffle(64).batch(8).prefetch(2)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((2, 2)),
            tf.keras.layers.LSTM(4),
            tf.keras.layers.Dense(2),
            tf.keras.layers.Reshape((1, 2)),
        ]
    )
    model.compile(optimizer="adam", loss="mae")
    hist = model.fit(ds, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["loss"]).all()

    @tf.function
    def total(d):
        return d.reduce(tf.constant(0, tf.int64), lambda acc, _: acc + 1)

    assert int(total(ds.unbatch())) > 0


def test_deleting_the_iterator_cancels_the_rpc():
    st = make_state(n=30)
    st.follow_rows = 10_000
    with FakeDaemon(st) as f, promfeed.Client(f.target) as c:
        ds = promfeed.tf.windows(
            f.target, "go_memstats_gc_sys_bytes", window=2, follow=True, stream_timeout=-1
        )
        it = iter(ds)
        next(it)
        wait_streams(c, 1)
        del it
        gc.collect()
        wait_streams(c, 0, timeout=10)


def test_follow_dataset_stops_per_stream_timeout():
    st = make_state(n=30)
    st.follow_rows, st.follow_period = 3, 0.05
    with FakeDaemon(st) as f:
        ds = promfeed.tf.windows(
            f.target,
            "go_memstats_gc_sys_bytes",
            window=2,
            follow=True,
            stream_timeout=300,
            fill="zero",
        )
        t0 = time.monotonic()
        n = sum(1 for _ in ds)
        assert n == 29 - 1 + 3 and time.monotonic() - t0 < 10


def test_tfio_structure_and_dtypes(fake):
    end = T0 + 50 * STEP
    ds = pf_tfio.experimental.IODataset.from_prometheus(
        "go_memstats_gc_sys_bytes", 5, offset=end, endpoint=fake.target
    )
    t_spec, v_spec = ds.element_spec
    assert t_spec.dtype == tf.int64 and t_spec.shape == ()
    leaf = v_spec["prometheus"]["127.0.0.1:9090"]["go_memstats_gc_sys_bytes"]
    assert leaf.dtype == tf.float64 and leaf.shape == ()
    assert set(v_spec) == {"prometheus", "node"}
    items = list(ds)
    assert [int(t) for t, _ in items] == list(range(end - 5000, end, 1000))
    fs = next(s for s in fake.state.series if s.labels["job"] == "prometheus")
    ref = grid_values(fs, np.arange(end - 5000, end, 1000), 2000)
    got = [float(v["prometheus"]["127.0.0.1:9090"]["go_memstats_gc_sys_bytes"]) for _, v in items]
    np.testing.assert_array_equal(got, ref)


def test_tfio_collisions_raise_or_key_by_labels(fake):
    with pytest.raises(errors.SeriesCollisionError, match="handler"):
        pf_tfio.from_prometheus(
            "prometheus_http_requests_total", 3, offset=T0 + 20_000, endpoint=fake.target
        )
    ds = pf_tfio.from_prometheus(
        "prometheus_http_requests_total",
        3,
        offset=T0 + 20_000,
        endpoint=fake.target,
        on_collision="labels",
    )
    keys = set(ds.element_spec[1]["prometheus"]["127.0.0.1:9090"])
    assert keys == {
        'prometheus_http_requests_total{code="200",handler="/api/v1/query"}',
        'prometheus_http_requests_total{code="200",handler="/metrics"}',
    }
    assert len(list(ds)) == 3


def test_tfio_in_graph_mode_with_spec(fake):
    spec = {
        "node": {"127.0.0.1:9100": {"go_memstats_gc_sys_bytes": tf.TensorSpec([], tf.float64)}},
        "gone": {"x:1": {"go_memstats_gc_sys_bytes": tf.TensorSpec([], tf.float64)}},
    }
    ds = pf_tfio.from_prometheus(
        "go_memstats_gc_sys_bytes", 4, offset=T0 + 30_000, endpoint=fake.target, spec=spec
    )

    @tf.function
    def last_value(d):
        return d.reduce(
            tf.constant(0.0, tf.float64),
            lambda acc, e: e[1]["node"]["127.0.0.1:9100"]["go_memstats_gc_sys_bytes"],
        )

    assert np.isfinite(float(last_value(ds)))
    assert all(np.isnan(float(v["gone"]["x:1"]["go_memstats_gc_sys_bytes"])) for _, v in ds)


def _reference(target, w, h, shift, tcols, **kw):
    """(x, y) per window from Client.windows (numpy views), the oracle for promfeed.tf."""
    with promfeed.Client(target) as c:
        b = c.windows(
            "go_memstats_gc_sys_bytes", window=w + h, shift=shift, dtype=np.float64, **kw
        ).read_all()
    x = b.x[:, :w, :]
    y = b.x[:, w:, :][:, :, tcols]
    return np.asarray(x), np.asarray(y)


def _collect(ds, batched):
    xs, ys, sizes = [], [], []
    for x, y in ds:
        x, y = x.numpy(), y.numpy()
        if not batched:
            x, y = x[None], y[None]
        sizes.append(len(x))
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys), sizes


@pytest.mark.parametrize(
    "fill,shift,horizon,targets,per_msg,missing_every,loss",
    [
        ("nan", 1, 1, None, 0, 0, False),
        ("drop", 1, 2, [1], 7, 9, False),  # dropped windows, batches across messages
        ("nan", 3, 1, [0], 5, 0, True),  # shift > 1, a loss (rows jump) mid-stream
        ("zero", 2, 3, None, 1, 5, False),
        ("drop", 1, 1, None, 0, 4, True),  # many dropped: scattered windows (gather path)
    ],
)
def test_batched_equals_unbatched_and_client_windows(
    fill, shift, horizon, targets, per_msg, missing_every, loss
):
    st = make_state(n=90, missing_every=missing_every)
    if loss:
        st.loss_after_rows, st.loss_rows = 40, 6
    w = 4
    with FakeDaemon(st) as f:
        kw = dict(fill=fill, max_rows_per_message=per_msg, start=T0 + 2 * STEP)
        ref_x, ref_y = _reference(f.target, w, horizon, shift, targets or [0, 1], **kw)
        assert len(ref_x) > 5
        base = dict(window=w, shift=shift, horizon=horizon, targets=targets, **kw)
        x1, y1, _ = _collect(
            promfeed.tf.windows(f.target, "go_memstats_gc_sys_bytes", dtype=tf.float64, **base),
            batched=False,
        )
        np.testing.assert_array_equal(x1, ref_x)
        np.testing.assert_array_equal(y1, ref_y)
        for bs in (1, 3, 8, 10_000):
            ds = promfeed.tf.windows(
                f.target, "go_memstats_gc_sys_bytes", dtype=tf.float64, batch_size=bs, **base
            )
            assert ds.element_spec[0].shape.as_list() == [None, w, 2]
            assert ds.element_spec[1].shape.as_list() == [None, horizon, len(targets or [0, 1])]
            xb, yb, sizes = _collect(ds, batched=True)
            np.testing.assert_array_equal(xb, x1)
            np.testing.assert_array_equal(yb, y1)
            if not loss:  # like .batch(bs): full batches, then the rest
                assert sizes[:-1] == [bs] * (len(sizes) - 1) and 0 < sizes[-1] <= bs


def test_batched_float32_matches_batch_of_unbatched(fake):
    kw = dict(window=5, horizon=1, fill="nan", start=T0 + 2 * STEP)
    ds1 = promfeed.tf.windows(fake.target, "go_memstats_gc_sys_bytes", **kw).batch(16)
    ds2 = promfeed.tf.windows(fake.target, "go_memstats_gc_sys_bytes", batch_size=16, **kw)
    assert ds2.element_spec[0].dtype == tf.float32
    pairs = list(zip(ds1, ds2, strict=True))
    assert len(pairs) == -(-(len(range(T0 + 2 * STEP, fake.state.now_ms + 1, STEP)) - 5) // 16)
    for (xa, ya), (xb, yb) in pairs:
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_follow_batches_equal_the_finite_windows_on_the_same_span():
    st = make_state(n=40)
    st.follow_rows, st.follow_period = 6, 0.05
    with FakeDaemon(st) as f:
        kw = dict(window=3, horizon=1, fill="nan", start=T0 + 2 * STEP)
        live = promfeed.tf.windows(
            f.target,
            "go_memstats_gc_sys_bytes",
            follow=True,
            stream_timeout=300,
            batch_size=8,
            **kw,
        )
        xl, yl, sizes = _collect(live, batched=True)
        assert max(sizes) <= 8 and sum(sizes) == 40 - 2 - 4 + 1 + 6
        assert sizes[-1] == 1  # live windows are not held back to fill a batch
        unb = promfeed.tf.windows(
            f.target, "go_memstats_gc_sys_bytes", follow=True, stream_timeout=300, **kw
        )
        xu, yu, _ = _collect(unb, batched=False)
        np.testing.assert_array_equal(xl, xu)
        np.testing.assert_array_equal(yl, yu)
        fin = promfeed.tf.windows(
            f.target, "go_memstats_gc_sys_bytes", end=st.now_ms, batch_size=8, **kw
        )
        xf, yf, _ = _collect(fin, batched=True)
        assert len(xf) == 40 - 2 - 4 + 1
        np.testing.assert_array_equal(xl[: len(xf)], xf)
        np.testing.assert_array_equal(yl[: len(yf)], yf)


def test_batch_size_must_be_positive(fake):
    for bad in (0, -1, True):
        with pytest.raises(ValueError, match="batch_size"):
            promfeed.tf.windows(fake.target, "go_memstats_gc_sys_bytes", window=2, batch_size=bad)


def test_window_copy_paths_equal_a_plain_gather():
    from promfeed.tf import _windows

    rng = np.random.default_rng(3)
    rows = rng.normal(size=(200, 7)).astype(np.float32)
    for starts in (
        np.arange(0, 150, 2),  # one regular run
        np.array([0, 2, 4, 10, 12, 30, 32, 34, 36]),  # a few runs
        np.sort(rng.choice(150, 40, replace=False)),  # scattered: gather
        np.zeros(0, np.int64),
    ):
        for offset, length in ((0, 5), (5, 2)):
            got = _windows(rows, starts, offset, length, 2)
            want = rows[starts[:, None] + offset + np.arange(length)].reshape(-1, length, 7)
            assert got.flags.c_contiguous and (got.ctypes.data % 64 == 0 or not got.size)
            np.testing.assert_array_equal(got, want)


def test_buffer_pool_reuses_only_what_tensorflow_let_go():
    from promfeed.tf import _BufferPool

    f32 = np.dtype(np.float32)
    pool = _BufferPool(keep=2)
    a = pool((4, 5), f32)
    b = pool((4, 5), f32)
    assert a.ctypes.data != b.ctypes.data and a.ctypes.data % 64 == 0
    pa = a.ctypes.data
    del a
    c = pool((3, 5), f32)  # smaller fits the freed buffer
    assert c.ctypes.data == pa

    pool = _BufferPool(keep=2)

    def gen():
        for i in range(6):
            x = pool((8, 3), f32)
            x[...] = i
            yield x

    ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec((8, 3), tf.float32))
    held = list(ds.prefetch(2))  # tensors kept alive: their buffers must not be reused
    assert [float(t.numpy().mean()) for t in held] == [0, 1, 2, 3, 4, 5]
    n = 0
    for i, t in enumerate(ds):  # each released before the next: reuse is fine
        assert float(t.numpy().mean()) == i
        n += 1
    assert n == 6
