"""The TensorFlow I/O Prometheus tutorial, end to end against the promfeed daemon.

Mirrors https://www.tensorflow.org/io/tutorials/prometheus with `from promfeed import tfio`
in place of `import tensorflow_io as tfio`, and Prometheus + node-exporter (both Go programs)
in place of CoreDNS + Prometheus:

  1. read a 5-second series with from_prometheus and print it;
  2. compare go_memstats_gc_sys_bytes of the two jobs ("prometheus" and "node") over 10 s;
  3. train the tutorial's small LSTM (window=2, shift=1, values scaled to [0, 1]) with
     model.fit on windows streamed by the daemon (promfeed.tf.windows), print the loss per
     epoch, and exit 1 unless the loss went down.

The daemon must hold (its config `inputs:`) prometheus_http_requests_total,
go_memstats_gc_sys_bytes and go_memstats_alloc_bytes. scripts/run-tutorial.sh sets it all up.

Usage: python prometheus_tutorial.py --target 127.0.0.1:9401 [--epochs 10] [--samples 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

import numpy as np
import tensorflow as tf

import promfeed
import promfeed.tf
from promfeed import tfio

COUNTER = 'prometheus_http_requests_total{handler="/metrics"}'
GAUGE = "go_memstats_gc_sys_bytes"
LSTM_SERIES = 'go_memstats_alloc_bytes{job="prometheus"}'


def wait_for_samples(client: promfeed.Client, selector: str, n: int, timeout: float) -> None:
    """Waits (deadline) until every series of `selector` holds at least n samples."""
    deadline = time.monotonic() + timeout
    while True:
        held = [s.samples_held for s in client.series(selector)]
        if held and min(held) >= n:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {n} samples of {selector}: have {held}")
        time.sleep(0.5)


def complete_offset(client: promfeed.Client) -> int:
    """An offset (ms) at which the daemon's grid rows are complete: the tutorial's "now"."""
    return (client.status().complete_through_ms // 1000) * 1000 + 1000


def part1_counter(target: str, offset: int) -> None:
    print("== 1. a 5-second series (from_prometheus, length=5)")
    dataset = tfio.experimental.IODataset.from_prometheus(
        COUNTER, 5, offset=offset, endpoint=target
    )
    print(f"Dataset Spec:\n{dataset.element_spec}\n")
    job = "prometheus"
    instance = next(iter(dataset.element_spec[1][job]))
    metric = next(iter(dataset.element_spec[1][job][instance]))
    print(f"Time Series {job}/{metric}:")
    n = 0
    for time_ms, value in dataset:
        t = datetime.fromtimestamp(int(time_ms) // 1000)
        print(f"{t}: {value[job][instance][metric].numpy()}")
        n += 1
    if n != 5:
        raise SystemExit(f"expected 5 elements, got {n}")


def part2_compare(target: str, offset: int) -> None:
    print("\n== 2. go_memstats_gc_sys_bytes: Prometheus vs node-exporter (length=10)")
    dataset = tfio.experimental.IODataset.from_prometheus(GAUGE, 10, offset=offset, endpoint=target)
    spec = dataset.element_spec[1]
    prom_inst = next(iter(spec["prometheus"]))
    node_inst = next(iter(spec["node"]))
    print("Time Series Prometheus/node-exporter Comparison:")
    for time_ms, value in dataset:
        t = datetime.fromtimestamp(int(time_ms) // 1000)
        print(
            "{}: {}/{}".format(
                t,
                value["prometheus"][prom_inst][GAUGE].numpy(),
                value["node"][node_inst][GAUGE].numpy(),
            )
        )


class PrintLoss(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        print(f"epoch {epoch + 1}: loss={logs['loss']:.6f}", flush=True)


def part3_lstm(target: str, offset: int, samples: int, epochs: int) -> bool:
    print(f"\n== 3. LSTM on {LSTM_SERIES}, window=2, shift=1, {samples} s of data")
    n_steps, n_features = 2, 1
    tf.keras.utils.set_random_seed(7)
    simple_lstm_model = tf.keras.models.Sequential(
        [
            tf.keras.Input(shape=(n_steps, n_features)),
            tf.keras.layers.LSTM(8),
            tf.keras.layers.Dense(1),
        ]
    )
    simple_lstm_model.compile(optimizer="adam", loss="mae")

    start, end = offset - samples * 1000, offset - 1000
    # Scale to [0, 1] with the range's min and max (read once through the daemon).
    with promfeed.Client(target) as client:
        grid = client.read_range(LSTM_SERIES, start=start, end=end, step="1s")
    v = grid.values[:, 0]
    v_min, v_max = float(np.nanmin(v)), float(np.nanmax(v))
    scale = (v_max - v_min) or 1.0
    print(f"read {len(grid)} grid rows; min={v_min:.0f} max={v_max:.0f}")

    # x: 2 consecutive rows; y: the row right after them (horizon=1), the tutorial's pairs.
    dataset = promfeed.tf.windows(
        target,
        [LSTM_SERIES],
        window=n_steps,
        shift=1,
        step="1s",
        horizon=1,
        start=start,
        end=end,
        dtype=tf.float32,
    )
    dataset = dataset.map(lambda x, y: ((x - v_min) / scale, (y[0] - v_min) / scale))
    # One pass streams the windows from the daemon into the cache; epochs replay it.
    dataset = dataset.cache()
    n_windows = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    print(f"{n_windows} (x, y) windows streamed from the daemon")
    if n_windows < 4:
        raise SystemExit("too few windows to train on")
    dataset = dataset.batch(1).repeat()
    hist = simple_lstm_model.fit(
        dataset,
        epochs=epochs,
        steps_per_epoch=n_windows,
        shuffle=False,
        verbose=0,
        callbacks=[PrintLoss()],
    )
    losses = hist.history["loss"]
    went_down = len(losses) >= 2 and losses[-1] < losses[0]
    verdict = "went down" if went_down else "did NOT go down"
    print(f"loss {losses[0]:.6f} -> {losses[-1]:.6f}: {verdict}")
    return went_down


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default=os.environ.get("PROMFEED_TARGET", "localhost:9401"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--samples", type=int, default=40, help="seconds of data for the LSTM")
    ap.add_argument("--wait", type=float, default=180, help="seconds to wait for the data")
    ns = ap.parse_args()

    with promfeed.Client(ns.target) as client:
        print(f"daemon {ns.target}: {client.status().version or '?'}; waiting for data")
        for sel in (COUNTER, GAUGE, LSTM_SERIES):
            wait_for_samples(client, sel, ns.samples + 2, ns.wait)
        offset = complete_offset(client)

    part1_counter(ns.target, offset)
    part2_compare(ns.target, offset)
    ok = part3_lstm(ns.target, offset, ns.samples, ns.epochs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
