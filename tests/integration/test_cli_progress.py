"""promfeedctl's progress line: on stderr only when stderr is a terminal, only once a read has
taken a second, redrawn in place (carriage return + erase line) and erased when the read ends.
Run under a pseudo-terminal (stderr is the pty's slave, the test reads its master)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
import tty

from test_cli import ctl_bin

COUNT = 5  # tail rows: one per second after the first, so the read lasts about 4 s
ERASE = b"\r\x1b[K"
UPDATE = re.compile(rb"\r\x1b\[K(rows [0-9,]+(?:/[0-9,]+ \(\d+%\))?  windows [0-9,]+)")


def run_with_tty_stderr(
    argv: list[str], timeout: float = 60
) -> tuple[str, bytes, int, float | None]:
    """Runs argv with stderr on a pseudo-terminal in raw mode (no \\n -> \\r\\n rewriting);
    returns (stdout, the bytes written to the terminal, exit status, seconds from the start
    to the first byte on the terminal)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        p = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            close_fds=True,
        )
    finally:
        os.close(slave)
    err = b""
    start = time.monotonic()
    first: float | None = None
    deadline = start + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave fd is closed (promfeedctl exited)
                break
            if not chunk:
                break
            if first is None:
                first = time.monotonic() - start
            err += chunk
        out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return out.decode(), err, p.returncode, first


def tail_argv(daemon) -> list[str]:
    """promfeedctl tail of COUNT rows of `up`, as CSV."""
    return [str(ctl_bin()), f"--target={daemon.target}", "tail", f"--count={COUNT}", "--csv", "up"]


def test_tail_shows_a_progress_line_on_a_terminal(daemon) -> None:
    argv = tail_argv(daemon)
    start = time.monotonic()
    out, err, rc, first = run_with_tty_stderr(argv)
    took = time.monotonic() - start
    print(
        f"\ntook {took:.1f}s, first progress byte after {first:.2f}s; tty bytes: {err!r}"
    )
    assert rc == 0, err
    assert len(out.splitlines()) == 1 + COUNT, out  # header + COUNT rows, all on stdout
    assert took > 2, f"the read took only {took:.1f}s: too short to show progress"
    # Only progress bytes on the terminal: updates and erasures, no newline.
    updates = UPDATE.findall(err)
    assert updates, f"no progress line on the terminal: {err!r}"
    assert UPDATE.sub(b"", err).replace(ERASE, b"") == b"", err
    assert b"\n" not in err
    # Counts: a follow stream has no total; one window per row; they only grow, and never
    # pass what the read printed.
    counts = []
    for u in updates:
        m = re.fullmatch(rb"rows ([0-9,]+)  windows ([0-9,]+)", u)
        assert m, u
        rows, windows = (int(g.replace(b",", b"")) for g in m.groups())
        assert 1 <= windows <= rows <= COUNT, u
        counts.append(rows)
    assert counts == sorted(counts), updates
    # Nothing during the first second of the read; the last update is erased when it ends.
    assert first is not None and first >= 1.0, first
    assert err.endswith(updates[-1] + ERASE), err


def test_no_progress_bytes_when_stderr_is_not_a_terminal(daemon) -> None:
    argv = tail_argv(daemon)
    p = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.decode().splitlines()) == 1 + COUNT
    assert p.stderr == b"", p.stderr  # no \r, no escape sequence, no "rows" line


def windows_argv(target: str) -> list[str]:
    # A range ending 4 s in the future: the daemon sends rows as they become final, so the
    # read lasts about 4 s and has a known total (rows from start to end).
    end = int(time.time() * 1000) + 4000
    return [
        str(ctl_bin()), f"--target={target}", "windows", "--window=2", "--csv",
        "--start=-2s", f"--end={end}", "up",
    ]  # fmt: skip


def test_windows_progress_shows_the_total_then_the_summary(daemon) -> None:
    out, err, rc, first = run_with_tty_stderr(windows_argv(daemon.target))
    print(f"\nfirst progress byte after {first:.2f}s; tty bytes: {err!r}")
    assert rc == 0, err
    m = re.search(rb"(\d+) windows, (\d+) rows, 0 dropped, 0 lost\n\Z", err)
    assert m, err
    n_windows, n_rows = int(m[1]), int(m[2])
    assert len(out.splitlines()) == 1 + 2 * n_windows, out
    # Progress with the total and a percentage, erased before the summary line, which
    # therefore starts on a clean line.
    progress = err[: m.start()]
    assert progress.endswith(ERASE), err
    updates = UPDATE.findall(progress)
    assert updates, f"no progress line on the terminal: {err!r}"
    assert UPDATE.sub(b"", progress).replace(ERASE, b"") == b"", err
    for u in updates:
        g = re.fullmatch(rb"rows (\d+)/(\d+) \((\d+)%\)  windows (\d+)", u)
        assert g, u
        rows, total, pct, windows = (int(x) for x in g.groups())
        assert total == n_rows and 1 <= rows <= total, u
        assert pct == rows * 100 // total, u
        assert windows == max(0, rows - 1), u  # window=2, shift=1
    assert first is not None and first >= 1.0, first


def test_windows_without_a_terminal_print_only_the_summary(daemon) -> None:
    p = subprocess.run(
        windows_argv(daemon.target), capture_output=True, timeout=60, check=False
    )
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(rb"\d+ windows, \d+ rows, 0 dropped, 0 lost\n", p.stderr), (
        p.stderr
    )
