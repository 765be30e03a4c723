"""Live latency: from a sample's scrape timestamp to its arrival in the Python reader.

Prometheus scrapes itself every second; the daemon polls every second; a promfeed reader
follows a StreamWindows stream (window 1) and records the wall time each row arrives. After the
run, the raw samples (with their true scrape timestamps) are read from Prometheus: each grid
value's sample is the newest one in (t - lookback, t]; its latency is arrival - scrape time.
Same host, same clock. Prints p50/p90/p99/max against the target (poll interval + 50 ms).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import procs, promql  # noqa: E402

FEATURES = (
    '{job="prometheus",'
    '__name__=~"up|process_cpu_seconds_total|go_goroutines|prometheus_tsdb_head_series"}'
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=90)
    ap.add_argument("--poll-interval-ms", type=int, default=1000)
    args = ap.parse_args()
    import promfeed

    wd = Path(tempfile.mkdtemp(prefix="promfeed-latency-"))
    prom = procs.start_prometheus(wd / "prom", scrape_interval="1s")
    daemon = None
    arrivals: list[tuple[int, float]] = []  # (grid time ms, arrival wall ms)
    try:
        cfg = {
            "global": {"poll_interval": f"{args.poll_interval_ms}ms", "backfill": "1m"},
            "upstream": {"url": prom.url, "timeout": "5s"},
            "inputs": [{"selector": FEATURES}],
            "storage": {"retention": "10m", "max_series": 1000},
            "log": {"level": "info", "format": "logfmt"},
        }
        daemon = procs.start_daemon(cfg, wd / "daemon")
        with promfeed.Client(daemon.target) as c:
            # Ready means the first poll is done, not that every self-metric was scraped yet.
            procs.wait_until(lambda: len(c.series(FEATURES)) >= 4, 30, "the self series")
            stream = c.windows(
                FEATURES,
                window=1,
                step="1s",
                follow=True,
                start=time.time_ns() // 1_000_000 - 5000,
                dtype=np.float64,
            )
            features = stream.features
            deadline = time.monotonic() + args.seconds
            for b in stream:
                now_ms = time.time_ns() / 1e6
                arrivals += [(int(t), now_ms) for t in b.time_ms[:, 0]]
                if time.monotonic() > deadline:
                    break
            stream.close()
        end_ms = arrivals[-1][0]
        raw = {}
        for s in features:
            sel = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items())) + "}"
            got = promql.raw_samples(prom.url, sel, end_ms + 1, args.seconds + 60)
            raw[s.key()] = next(iter(got.values()))[0] if got else []
    finally:
        if daemon is not None:
            daemon.stop()
        prom.stop()

    lookback = 2000
    lat = []
    skip_before = arrivals[0][1] + 3000  # rows of the historical catch-up are not live
    for t, arr in arrivals:
        if arr < skip_before:
            continue
        for times in raw.values():
            i = int(np.searchsorted(times, t, side="right")) - 1
            if i >= 0 and times[i] > t - lookback:
                lat.append(arr - times[i])
    lat_a = np.array(lat)
    p50, p90, p99 = np.percentile(lat_a, [50, 90, 99])
    target = args.poll_interval_ms + 50
    print(
        f"\nLive latency: scrape timestamp -> arrival in the Python reader; poll interval "
        f"{args.poll_interval_ms} ms, scrape 1 s, {len(features)} series, {args.seconds} s, "
        f"{len(lat_a)} samples\n"
    )
    print("| p50 ms | p90 ms | p99 ms | max ms | target p99 ms | holds |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {p50:.0f} | {p90:.0f} | {p99:.0f} | {lat_a.max():.0f} | {target} | "
        f"{'yes' if p99 <= target else 'NO'} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
