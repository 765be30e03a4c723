"""promfeedctl (the C++ reader's CLI) against a real daemon over a real Prometheus: its
series, status, windows (CSV and table) and tail output equal what the daemon serves through
ListSeries / GetStatus / ReadRange, and errors exit non-zero with a message naming the cause."""

from __future__ import annotations

import csv
import io
import math
import subprocess
from pathlib import Path


import promfeed
from tests.harness import procs, promql

STEP = 1000


def ctl_bin() -> Path:
    return procs.require_built(procs.ctl_bin(), "PROMFEEDCTL_BIN")


def ctl(target: str, *args: str, timeout: float = 60, ok: bool = True):
    out = subprocess.run(
        [str(ctl_bin()), f"--target={target}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if ok:
        assert out.returncode == 0, f"promfeedctl {' '.join(args)}: {out.stderr}"
    return out


def wait_rows(c: promfeed.Client, rows: int) -> int:
    """Waits until `rows` complete grid rows exist for `up`; returns the newest complete time."""

    def ok() -> int | None:
        st = c.status()
        oldest = max(s.oldest_time_ms for s in c.series("up"))
        end = st.complete_through_ms // STEP * STEP
        return end if end - oldest >= rows * STEP else None

    return procs.wait_until(ok, 60, f"{rows} complete rows")


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_series_lists_what_the_daemon_and_prometheus_hold(daemon, prom_stack) -> None:
    # One `up` series per scraped job; right after start the daemon may hold only some.
    prom = promql.query(prom_stack.prometheus.url, "up")
    assert len(prom) == 2, prom
    with promfeed.Client(daemon.target) as c:

        def all_up() -> list | None:
            s = c.series("up")
            return s if len(s) == len(prom) else None

        want = procs.wait_until(all_up, 30, "the daemon to hold every `up` series")
    out = ctl(daemon.target, "series", "up")
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["SERIES", "SAMPLES", "OLDEST", "NEWEST"]
    assert len(lines) == 1 + len(want), out.stdout
    assert out.stderr.strip() == f"{len(want)} series", out.stderr
    # One row per series of Prometheus's `up`, with its labels.
    for r in prom:
        assert any(f'job="{r["metric"]["job"]}"' in line for line in lines[1:])
    # Aligned: every row has the NEWEST column ending at the same place.
    assert len({len(line) for line in lines}) == 1, out.stdout
    assert all(line.endswith("ago") for line in lines[1:]), out.stdout


def test_status_matches_get_status(daemon) -> None:
    with promfeed.Client(daemon.target) as c:
        st = c.status()
        out = ctl(daemon.target, "status").stdout
        after = c.status()
    rows = {
        line.split("  ")[0]: line.split("  ", 1)[1].strip() for line in out.splitlines()
    }
    assert rows["version"] == st.version
    assert rows["ready"] == "yes"
    assert rows["upstream"] == f"{st.upstream_url} up"
    assert rows["poll interval"] == "1s"
    # Series may still be appearing: the count lies between the daemon's before and after.
    shown = int(rows["series"].split(" of ")[0].replace(",", ""))
    assert st.series_count <= shown <= after.series_count
    assert rows["series"].endswith(f"of {st.max_series:,} max (0 rejected)")
    assert rows["ring memory"].endswith(("KiB", "MiB", "GiB"))
    assert rows["last poll"].endswith(")") and "ago" in rows["last poll"]


def test_windows_csv_equal_read_range(daemon) -> None:
    sels = ["up", "go_memstats_gc_sys_bytes"]
    with promfeed.Client(daemon.target) as c:
        end = wait_rows(c, 20)
        start = end - 15 * STEP
        rr = c.read_range(sels, start, end, step=STEP)
    out = ctl(
        daemon.target, "windows", "--window=4", "--shift=3", "--step=1s",
        f"--start={start}", f"--end={end}", "--max-rows-per-message=2", "--csv", *sels,
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(out.stdout)))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["window", "time_ms"]
    assert len(header) - 2 == len(rr.series) >= 3
    r_count = len(rr.time_ms)
    assert r_count == 16
    n_windows = (r_count - 4) // 3 + 1
    assert len(body) == n_windows * 4
    assert f"{n_windows} windows, 16 rows, 0 dropped, 0 lost" in out.stderr
    for line in body:
        k, t = int(line[0]), int(line[1])
        i = (t - start) // STEP
        assert k * 3 <= i < k * 3 + 4, f"row {i} not in window {k}"
        assert t == rr.time_ms[i]
        for j, v in enumerate(line[2:]):
            assert same(float(v), float(rr.values[i, j])), (k, t, j, v, rr.values[i, j])


def test_windows_table_is_aligned_with_human_units(daemon) -> None:
    out = ctl(
        daemon.target,
        "windows",
        "--window=3",
        "--start=-10s",
        "go_memstats_gc_sys_bytes",
    )
    lines = out.stdout.splitlines()
    assert lines[0].split()[:2] == ["WINDOW", "TIME"]
    assert len(lines) > 1
    assert len({len(line) for line in lines}) == 1, "columns are not aligned"
    assert all(line.rstrip().endswith(("B", "KiB", "MiB")) for line in lines[1:])
    # No progress line when stderr is not a terminal.
    assert "\r" not in out.stderr


def test_tail_prints_final_rows_as_they_arrive(daemon) -> None:
    out = ctl(daemon.target, "tail", "--count=3", "--csv", "up", timeout=60)
    rows = list(csv.reader(io.StringIO(out.stdout)))[1:]
    assert len(rows) == 3
    times = [int(r[0]) for r in rows]
    assert times == list(range(times[0], times[0] + 3 * STEP, STEP))
    with promfeed.Client(daemon.target) as c:
        rr = c.read_range("up", times[0], times[-1], step=STEP)
    assert rr.time_ms.tolist() == times
    for i, r in enumerate(rows):
        assert [float(x) for x in r[1:]] == rr.values[i].tolist()


def test_errors_exit_nonzero_and_say_why(daemon) -> None:
    port = procs.free_port()
    out = ctl(f"127.0.0.1:{port}", "--timeout=5s", "series", ok=False)
    assert out.returncode == 1
    assert f"cannot reach promfeed at 127.0.0.1:{port}" in out.stderr
    out = ctl(daemon.target, "windows", "--window=3", "up{", ok=False)
    assert out.returncode == 1
    assert "INVALID_ARGUMENT" in out.stderr and "up{" in out.stderr
    out = ctl(daemon.target, "windows", "up", ok=False)
    assert out.returncode == 2 and "--window" in out.stderr
    out = ctl(
        daemon.target, "windows", "--window=3", "--start=yesterday", "up", ok=False
    )
    assert out.returncode == 2 and "-DURATION" in out.stderr
