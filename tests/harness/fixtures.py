"""pytest fixtures for promfeed integration tests. Use with
`pytest_plugins = ["tests.harness.fixtures"]` or `from tests.harness.fixtures import *`.

- `prom_stack` (session): node-exporter + Prometheus (1 s scrape) -> .prometheus, .node_exporter
- `daemon_factory` (function): start_daemon(config, **kw) in the test's tmp dir; stopped after
- `daemon` (module): a daemon over prom_stack with `DEFAULT_INPUTS`
When a test fails, the log tails of every live process are attached to its report.
Tests are skipped (not failed) when the daemon binary is missing, unless PROMFEED_REQUIRE_DAEMON=1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.harness import procs

__all__ = [
    "DEFAULT_INPUTS",
    "PromStack",
    "daemon",
    "daemon_config",
    "daemon_factory",
    "prom_stack",
    "pytest_runtest_makereport",
]

DEFAULT_INPUTS: list[dict[str, str]] = [
    {"selector": "go_memstats_gc_sys_bytes"},
    {"selector": "process_cpu_seconds_total"},
    {"selector": "up"},
    {"selector": 'prometheus_http_requests_total{handler=~"/api/v1/query|/metrics"}'},
    {"name": "http_rate", "expr": "sum by (job) (rate(prometheus_http_requests_total[1m]))"},
]


def daemon_config(
    prom_url: str, inputs: list[dict[str, str]] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A daemon config dict for `prom_url` (the shape the daemon's config file takes)."""
    cfg: dict[str, Any] = {
        "global": {"poll_interval": "1s", "backfill": "10m"},
        "upstream": {"url": prom_url, "timeout": "5s"},
        "inputs": inputs if inputs is not None else DEFAULT_INPUTS,
        "storage": {"retention": "30m", "max_series": 100000},
        "log": {"level": "info", "format": "logfmt"},
    }
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


@dataclass
class PromStack:
    prometheus: procs.Proc
    node_exporter: procs.Proc


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for p in procs.live_procs():
            rep.sections.append((f"process log: {p.name} (pid {p.pid})", p.describe()))


def _require_daemon() -> None:
    procs.require_built(procs.daemon_bin(), "PROMFEED_BIN")


@pytest.fixture(scope="session")
def prom_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromStack]:
    d = tmp_path_factory.mktemp("prom-stack")
    with (
        procs.start_node_exporter(d / "node-exporter") as ne,
        procs.start_prometheus(
            d / "prometheus", scrape_interval="1s", targets={"node": [ne.address]}
        ) as prom,
    ):
        yield PromStack(prometheus=prom, node_exporter=ne)


@pytest.fixture
def daemon_factory(tmp_path: Any, prom_stack: PromStack) -> Iterator[Callable[..., procs.Proc]]:
    _require_daemon()
    started: list[procs.Proc] = []

    def make(config: dict[str, Any] | str | None = None, **kw: Any) -> procs.Proc:
        cfg = config if config is not None else daemon_config(prom_stack.prometheus.url)
        p = procs.start_daemon(cfg, tmp_path / f"promfeed-{len(started)}", **kw)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, prom_stack: PromStack) -> Iterator[procs.Proc]:
    _require_daemon()
    d = tmp_path_factory.mktemp("promfeed")
    with procs.start_daemon(daemon_config(prom_stack.prometheus.url), d) as p:
        yield p
