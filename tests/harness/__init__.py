"""Shared helpers for promfeed's Python integration tests: real processes on 127.0.0.1.

    from tests.harness import procs, promql
    with procs.start_node_exporter(tmp) as ne, \
         procs.start_prometheus(tmp, targets={"node": [ne.address]}) as prom, \
         procs.start_daemon({"upstream": {"url": prom.url}, "inputs": [...]}, tmp) as d:
        ...

pytest fixtures: `pytest_plugins = ["tests.harness.fixtures"]` (repository root on sys.path).
"""
