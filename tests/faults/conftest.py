"""Fault tests: the daemon (real process) against a scripted hostile upstream
(fake_upstream.py), a real Prometheus that is killed and restarted, and many misbehaving
gRPC clients. Each test records what it tried in a table printed at the end of the run
(and written to $PROMFEED_FAULTS_TABLE when set)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults import faultutil
from tests.faults.fake_upstream import FakeUpstream
from tests.harness import procs

pytest_plugins = ["tests.harness.fixtures"]


def fake_config(url: str, **overrides: Any) -> dict[str, Any]:
    """A daemon config polling the fake upstream every second."""
    cfg: dict[str, Any] = {
        "global": {"poll_interval": "1s", "backfill": "30s"},
        "upstream": {"url": url, "timeout": "1s", "max_response_bytes": 4 << 20},
        "inputs": [{"selector": "fake_metric"}],
        "storage": {"retention": "5m", "max_series": 1000},
        "server": {"shutdown_timeout": "2s"},
        "log": {"level": "info", "format": "logfmt"},
    }
    for k, v in overrides.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as f:
        yield f


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., procs.Proc]]:
    """start(config_dict) -> a running, ready daemon; stopped after the test."""
    procs.require_built(procs.daemon_bin(), "PROMFEED_BIN")
    started: list[procs.Proc] = []

    def make(config: dict[str, Any], **kw: Any) -> procs.Proc:
        p = procs.start_daemon(config, tmp_path / f"promfeed-{len(started)}", **kw)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows = faultutil.RESULTS
    if not rows:
        return
    lines = [
        "| fault or input tried | count | survived | samples lost | note |",
        "| --- | ---: | --- | ---: | --- |",
    ]
    for r in rows:
        survived = "yes" if r.survived else "NO"
        lines.append(f"| {r.fault} | {r.count} | {survived} | {r.samples_lost} | {r.note} |")
    terminalreporter.write_sep("=", "fault table")
    for line in lines:
        terminalreporter.write_line(line)
    out = os.environ.get("PROMFEED_FAULTS_TABLE")
    if out:
        Path(out).write_text("\n".join(lines) + "\n")
