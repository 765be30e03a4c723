"""Config files that made yaml-cpp 0.7 loop forever (found by fuzz/config_fuzzer): `check
config` must reject them promptly, and a SIGHUP reload with one must fail and leave the
running daemon serving (before the fix, the reload thread spun allocating memory)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from promfeed.v1 import metric_feed_pb2 as pb
from tests.faults import faultutil as fu
from tests.faults.conftest import fake_config
from tests.faults.fake_upstream import FakeUpstream
from tests.harness import procs

REGRESSIONS = sorted((procs.REPO_ROOT / "fuzz" / "regressions" / "config").glob("*"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_check_config_rejects_promptly(path: Path) -> None:
    if not procs.daemon_bin().exists():
        pytest.skip(f"no daemon binary at {procs.daemon_bin()}")
    r = subprocess.run(
        [str(procs.daemon_bin()), "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    fu.record(f"config file: {path.name}", 1, True, 0, "check config exit 1")
    assert r.returncode != 0
    assert f"{path}:" in r.stderr + r.stdout and "YAML syntax error" in r.stderr + r.stdout, r


def test_reload_with_looping_yaml_fails_and_keeps_serving(
    fake: FakeUpstream, start, tmp_path: Path
) -> None:
    d = start(fake_config(fake.url))
    stub = fu.Stub(d.target)
    try:
        good = d.config_path.read_text()
        rss0 = fu.rss_kb(d.pid)
        d.config_path.write_text(", a: b\n")
        log0 = fu.log_size(d)
        d.popen.send_signal(signal.SIGHUP)
        fu.wait_log(d, r"reload failed.*YAML syntax error", start=log0, timeout=15)
        st = stub.status()
        assert st.upstream_state == pb.UP and d.alive()
        assert fu.rss_kb(d.pid) - rss0 < 50 * 1024
        d.config_path.write_text(good)
        fu.record("SIGHUP reload with yaml-cpp-looping config", 1, d.alive(), 0)
    finally:
        stub.close()
