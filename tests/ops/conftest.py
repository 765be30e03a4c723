"""Operations tests: the daemon's HTTP endpoints, self-metrics, config reload and systemd
integration, against real Prometheus, node-exporter and daemon processes."""

pytest_plugins = ["tests.harness.fixtures"]
