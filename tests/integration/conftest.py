"""Integration tests of the promfeed daemon against a real Prometheus and node-exporter."""

pytest_plugins = ["tests.harness.fixtures"]
