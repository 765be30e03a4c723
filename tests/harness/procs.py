"""Start and stop real Prometheus, node-exporter and promfeed processes for tests.

Every process runs on 127.0.0.1 on a port picked at run time, in its own directory, with its
output in `<dir>/<name>.log`. It is stopped by PID: SIGTERM, then SIGKILL after a deadline.
Readiness is always a condition polled until a deadline, never a fixed sleep.
Environment: PROMFEED_BIN (default <repo>/build/daemon/promfeed), PROMETHEUS_BIN
(default /usr/bin/prometheus), NODE_EXPORTER_BIN (default /usr/bin/prometheus-node-exporter).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "Proc",
    "ProcError",
    "REPO_ROOT",
    "daemon_bin",
    "free_port",
    "live_procs",
    "start_daemon",
    "start_node_exporter",
    "start_prometheus",
    "wait_until",
]

_live: list[Proc] = []
_live_lock = threading.Lock()


class ProcError(RuntimeError):
    """A process failed to start or to become ready; the message includes its log tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, then release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    cond: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.1,
    on_timeout: Callable[[], str] | None = None,
) -> Any:
    """Polls cond() until it returns a truthy value (returned) or `timeout` s pass
    (ProcError naming `what`, plus on_timeout()'s text). Exceptions from cond count as False."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except ProcError:
            raise
        except Exception as e:
            last_exc = e
        if time.monotonic() >= deadline:
            extra = on_timeout() if on_timeout else ""
            raise ProcError(
                f"timed out after {timeout:.0f}s waiting for {what}"
                + (f" (last error: {last_exc})" if last_exc else "")
                + (f"\n{extra}" if extra else "")
            )
        time.sleep(interval)


def live_procs() -> list[Proc]:
    """Processes started by this module and not yet stopped."""
    with _live_lock:
        return list(_live)


class Proc:
    """A started process: its Popen, name, directory, log file and addresses.

    A context manager: leaving it stops the process (SIGTERM, then SIGKILL)."""

    def __init__(self, name: str, argv: list[str], workdir: Path, **attrs: Any) -> None:
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.attrs = attrs
        self.__dict__.update(attrs)
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.exit_code: int | None = None
        with _live_lock:
            _live.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, max_bytes: int = 6000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode(errors="replace")

    def describe(self) -> str:
        state = "running" if self.alive() else f"exited with {self.popen.returncode}"
        return (
            f"--- {self.name} (pid {self.pid}, {state}) {' '.join(self.argv)}\n"
            f"--- log {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to `timeout` s, then SIGKILL. Returns the exit code."""
        try:
            if self.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGTERM)
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGKILL)
                    self.popen.wait(timeout=10)
            self.exit_code = self.popen.returncode
            return self.exit_code
        finally:
            self._log.close()
            with _live_lock:
                if self in _live:
                    _live.remove(self)

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Proc({self.name}, pid={self.pid}, {self.attrs})"


def _fail(proc: Proc, why: str) -> ProcError:
    proc.stop(timeout=5)
    return ProcError(f"{proc.name} {why}\n{proc.describe()}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status == 200


def _start_with_retry(
    start: Callable[[], Proc], ready: Callable[[Proc], None], attempts: int = 3
) -> Proc:
    """Starts and waits for readiness; retries when a picked port was taken meanwhile."""
    for i in range(attempts):
        p = start()
        try:
            ready(p)
            return p
        except ProcError as e:
            if i + 1 < attempts and "address already in use" in str(e).lower():
                continue
            raise
    raise AssertionError("unreachable")


def start_node_exporter(
    workdir: str | os.PathLike, timeout: float = 30.0, binary: str | None = None
) -> Proc:
    """Starts prometheus-node-exporter on 127.0.0.1:<free port>; waits until /metrics
    answers. The Proc has .address ("127.0.0.1:P") and .url."""
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    exe = binary or os.environ.get("NODE_EXPORTER_BIN", "/usr/bin/prometheus-node-exporter")

    def start() -> Proc:
        port = free_port()
        addr = f"127.0.0.1:{port}"
        return Proc(
            "node-exporter",
            [exe, f"--web.listen-address={addr}", "--no-collector.systemd"],
            wd,
            address=addr,
            url=f"http://{addr}",
            port=port,
        )

    def ready(p: Proc) -> None:
        def ok() -> bool:
            if not p.alive():
                raise _fail(p, "exited before becoming ready")
            return _http_ok(p.url + "/metrics")

        try:
            wait_until(ok, timeout, "node-exporter /metrics")
        except ProcError as e:
            if p.alive():
                raise _fail(p, str(e)) from None
            raise

    return _start_with_retry(start, ready)


def start_prometheus(
    workdir: str | os.PathLike,
    scrape_interval: str = "1s",
    targets: Mapping[str, Iterable[str]] | None = None,
    timeout: float = 60.0,
    binary: str | None = None,
    extra_args: Iterable[str] = (),
) -> Proc:
    """Starts Prometheus on 127.0.0.1:<free port> with data in <workdir>/prometheus-data.

    It scrapes itself (job "prometheus") and every `targets` job ({job: ["host:port"]},
    e.g. {"node": [node_exporter.address]}) every `scrape_interval`. Waits until `up` has a
    sample for every job via the HTTP API. The Proc has .address, .url, .port, .jobs."""
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    exe = binary or os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
    jobs_extra = {j: list(t) for j, t in (targets or {}).items()}

    def start() -> Proc:
        port = free_port()
        addr = f"127.0.0.1:{port}"
        jobs = {"prometheus": [addr], **jobs_extra}
        lines = [
            "global:",
            f"  scrape_interval: {scrape_interval}",
            f"  evaluation_interval: {scrape_interval}",
            "scrape_configs:",
        ]
        for job, tg in jobs.items():
            lines += [
                f"  - job_name: {json.dumps(job)}",
                "    static_configs:",
                f"      - targets: {json.dumps(tg)}",
            ]
        cfg = wd / "prometheus.yml"
        cfg.write_text("\n".join(lines) + "\n")
        argv = [
            exe,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={wd / 'prometheus-data'}",
            f"--web.listen-address={addr}",
            "--web.enable-lifecycle",
            "--log.level=info",
            *extra_args,
        ]
        return Proc(
            "prometheus",
            argv,
            wd,
            address=addr,
            url=f"http://{addr}",
            port=port,
            jobs=sorted(jobs),
            config_path=cfg,
        )

    def ready(p: Proc) -> None:
        from tests.harness import promql

        def up_for_all_jobs() -> bool:
            if not p.alive():
                raise _fail(p, "exited before becoming ready")
            got = {r["metric"].get("job") for r in promql.query(p.url, "up", timeout=2)}
            return set(p.jobs) <= got

        try:
            wait_until(up_for_all_jobs, timeout, f"`up` samples for jobs {p.jobs}", interval=0.2)
        except ProcError as e:
            if p.alive():
                raise _fail(p, str(e)) from None
            raise

    return _start_with_retry(start, ready)


def daemon_bin() -> Path:
    """$PROMFEED_BIN or <repo>/build/daemon/promfeed."""
    return Path(os.environ.get("PROMFEED_BIN", REPO_ROOT / "build" / "daemon" / "promfeed"))


def ctl_bin() -> Path:
    """$PROMFEEDCTL_BIN or promfeedctl in the daemon's build tree."""
    default = daemon_bin().parents[1] / "client" / "cpp" / "promfeedctl"
    return Path(os.environ.get("PROMFEEDCTL_BIN", default))


def require_built(exe: Path, env: str) -> Path:
    """exe, or skip the test when it is not built (fail when PROMFEED_REQUIRE_DAEMON=1, as in CI)."""
    if not exe.exists():
        import pytest  # only tests call this; the harness is also used by benchmarks

        msg = f"{exe.name} not built at {exe} (set {env})"
        if os.environ.get("PROMFEED_REQUIRE_DAEMON") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


def _to_yaml(config: Mapping[str, Any] | str) -> str:
    if isinstance(config, str):
        return config
    try:
        import yaml

        return yaml.safe_dump(dict(config), sort_keys=False)
    except ImportError:  # JSON is valid YAML
        return json.dumps(config, indent=2)


def start_daemon(
    config: Mapping[str, Any] | str,
    workdir: str | os.PathLike,
    timeout: float = 60.0,
    binary: str | os.PathLike | None = None,
    extra_args: Iterable[str] = (),
    wait_ready: bool = True,
) -> Proc:
    """Writes <workdir>/promfeed.yml from `config` (dict or YAML text) and runs
    `promfeed --config.file=... --grpc.listen-address=127.0.0.1:P --web.listen-address=
    127.0.0.1:Q`; waits until gRPC GetStatus says ready (unless wait_ready=False).
    The Proc has .target ("127.0.0.1:P"), .web_url, .grpc_port, .web_port, .config_path.
    Raises ProcError with the daemon's log when it exits or is not ready in time."""
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    exe = Path(binary) if binary else daemon_bin()
    if not exe.exists():
        raise ProcError(f"promfeed daemon binary not found at {exe} (set PROMFEED_BIN)")
    cfg = wd / "promfeed.yml"
    cfg.write_text(_to_yaml(config))

    def start() -> Proc:
        gport, wport = free_port(), free_port()
        while wport == gport:
            wport = free_port()
        argv = [
            str(exe),
            f"--config.file={cfg}",
            f"--grpc.listen-address=127.0.0.1:{gport}",
            f"--web.listen-address=127.0.0.1:{wport}",
            *extra_args,
        ]
        return Proc(
            "promfeed",
            argv,
            wd,
            target=f"127.0.0.1:{gport}",
            web_url=f"http://127.0.0.1:{wport}",
            grpc_port=gport,
            web_port=wport,
            config_path=cfg,
        )

    def ready(p: Proc) -> None:
        if not wait_ready:
            return
        import grpc
        from promfeed.v1 import metric_feed_pb2 as pb
        from promfeed.v1 import metric_feed_pb2_grpc as pb_grpc

        with grpc.insecure_channel(p.target) as ch:
            stub = pb_grpc.MetricFeedStub(ch)

            def is_ready() -> bool:
                if not p.alive():
                    raise _fail(p, "exited before becoming ready")
                # wait_for_ready: grpcio keeps a channel whose first connect was refused
                # failing fast for many seconds; waiting makes it reconnect.
                return stub.GetStatus(pb.GetStatusRequest(), timeout=2, wait_for_ready=True).ready

            try:
                wait_until(
                    is_ready, timeout, f"promfeed at {p.target} GetStatus.ready", interval=0.2
                )
            except ProcError as e:
                if p.alive():
                    raise _fail(p, str(e)) from None
                raise

    return _start_with_retry(start, ready)
