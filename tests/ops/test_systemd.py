"""systemd integration: the daemon's sd_notify messages, read from a NOTIFY_SOCKET the test
owns (READY after the listeners are bound, STATUS, WATCHDOG at half of WATCHDOG_USEC,
RELOADING/READY around a reload, STOPPING on SIGTERM), and `systemd-analyze verify` and
`security` on the unit in deploy/systemd/."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness import procs
from tests.harness.fixtures import daemon_config
from tests.ops.opsutil import http

UNIT = procs.REPO_ROOT / "deploy" / "systemd" / "promfeed.service"
ENV_FILE = procs.REPO_ROOT / "deploy" / "systemd" / "promfeed.default"


class NotifySocket:
    """An AF_UNIX datagram socket like systemd's: each datagram is one sd_notify call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[tuple[float, dict[str, str]]] = []

    def _drain(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            return
        fields = dict(
            line.split("=", 1) for line in data.decode().split("\n") if "=" in line
        )
        self.messages.append((time.monotonic(), fields))

    def wait_for(self, pred, what: str, timeout: float = 30) -> dict[str, str]:
        """The first message from the current position on for which pred(fields) holds."""
        deadline = time.monotonic() + timeout
        pos = getattr(self, "_pos", 0)
        while True:
            for i in range(pos, len(self.messages)):
                if pred(self.messages[i][1]):
                    self._pos = i + 1
                    return self.messages[i][1]
            pos = len(self.messages)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no notify message {what}; got {self.messages}")
            self._drain(min(left, 1.0))

    def close(self) -> None:
        self.sock.close()


def test_notify_protocol(prom_stack, tmp_path, monkeypatch) -> None:
    ns = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(ns.path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # Watchdog pings every 0.5 s.
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    d = procs.start_daemon(
        daemon_config(prom_stack.prometheus.url), tmp_path, wait_ready=False
    )
    try:
        ready = ns.wait_for(lambda m: m.get("READY") == "1", "READY=1")
        # READY=1 only once the listeners are bound: the web port answers right away.
        assert http(d.web_url + "/-/healthy")[0] == 200
        assert ready["STATUS"].startswith(
            "started; waiting for the first poll of http://127.0.0.1:"
        )
        status = ns.wait_for(
            lambda m: m.get("STATUS", "").startswith("ready;"), "ready STATUS"
        )
        assert re.fullmatch(r"ready; upstream up; \d+ series", status["STATUS"]), status
        # Watchdog pings at about half of WATCHDOG_USEC.
        ns.wait_for(lambda m: m.get("WATCHDOG") == "1", "WATCHDOG=1")
        t0 = ns.messages[ns._pos - 1][0]
        for _ in range(3):
            ns.wait_for(lambda m: m.get("WATCHDOG") == "1", "WATCHDOG=1", timeout=5)
        per_ping = (ns.messages[ns._pos - 1][0] - t0) / 3
        assert 0.3 < per_ping < 0.8, per_ping

        os.kill(d.pid, signal.SIGHUP)
        rl = ns.wait_for(lambda m: m.get("RELOADING") == "1", "RELOADING=1")
        assert int(rl["MONOTONIC_USEC"]) > 0
        done = ns.wait_for(lambda m: m.get("READY") == "1", "READY=1 after reload")
        assert done["STATUS"].startswith("configuration reloaded"), done

        # A bad file: still READY=1 (the old config runs), with the error in STATUS.
        d.config_path.write_text("inputs: [\n")
        os.kill(d.pid, signal.SIGHUP)
        ns.wait_for(lambda m: m.get("RELOADING") == "1", "RELOADING=1")
        bad = ns.wait_for(
            lambda m: m.get("READY") == "1", "READY=1 after failed reload"
        )
        assert bad["STATUS"].startswith(
            "reload failed, previous configuration kept: "
        ), bad
        assert str(d.config_path) + ":" in bad["STATUS"]

        os.kill(d.pid, signal.SIGTERM)
        stop = ns.wait_for(lambda m: m.get("STOPPING") == "1", "STOPPING=1")
        assert stop["STATUS"] == "shutting down"
        assert d.popen.wait(timeout=30) == 0
    finally:
        d.stop()
        ns.close()


def test_without_notify_socket_no_messages_and_runs(
    daemon_factory, monkeypatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    d = daemon_factory()
    assert http(d.web_url + "/-/ready")[0] == 200
    assert "watchdog" not in d.log_path.read_text()


def _unit_for(tmp_path: Path, text: str) -> Path:
    # verify checks that ExecStart exists: point it at the binary under test.
    unit = tmp_path / "promfeed.service"
    unit.write_text(text.replace("/usr/bin/promfeed", str(procs.daemon_bin())))
    return unit


def _analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd not installed"
)
def test_unit_verifies_and_is_hardened(tmp_path) -> None:
    unit = _unit_for(tmp_path, UNIT.read_text())
    r = _analyze("verify", str(unit))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # The check can fail: a misspelt value is reported on stderr (with exit code 0).
    (tmp_path / "broken").mkdir()
    broken = _unit_for(
        tmp_path / "broken",
        UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=stric"),
    )
    r = _analyze("verify", str(broken))
    assert "Failed to parse protect system value, ignoring: stric" in r.stderr, r.stderr

    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "EnvironmentFile=-/etc/default/promfeed",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "WatchdogSec=30s",
    ):
        assert line + "\n" in text, line
    r = _analyze("security", "--offline=yes", str(unit))
    m = re.search(r"Overall exposure level for promfeed.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_environment_file_flags_are_known(tmp_path) -> None:
    env = dict(
        line.split("=", 1)
        for line in ENV_FILE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    args = shlex.split(shlex.split(env["PROMFEED_ARGS"])[0])
    assert any(a.startswith("--config.file=/etc/promfeed/") for a in args)
    # The daemon parses every flag: with a missing config file it fails on the file, not on
    # a flag (exit 1, not the usage error 2).
    args = [
        a
        if not a.startswith("--config.file=")
        else f"--config.file={tmp_path}/none.yml"
        for a in args
    ]
    r = subprocess.run(
        [str(procs.daemon_bin()), *args], capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 1, r.stderr
    assert f"{tmp_path}/none.yml" in r.stderr
