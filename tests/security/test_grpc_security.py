"""gRPC TLS, mutual TLS and bearer tokens: the daemon, the Python reader and promfeedctl."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

import promfeed
from promfeed import errors
from tests.harness import procs
from tests.harness.fixtures import PromStack, daemon_config

TOKENS = "# readers\n\nfirst-token-4f1c\n  s3cret-reader-token-9a7e  \n"
GOOD_TOKEN = "s3cret-reader-token-9a7e"
HEALTH = "/grpc.health.v1.Health/Check"


def _health_request(service: str) -> bytes:
    name = service.encode()
    return b"\x0a" + bytes([len(name)]) + name  # HealthCheckRequest{service}


def _start(
    tmp: Path, prom: PromStack, server: dict[str, Any], **client: Any
) -> procs.Proc:
    """A TLS daemon over `prom`, waited for with a Client built from `client` kwargs."""
    cfg = daemon_config(prom.prometheus.url, inputs=[{"selector": "up"}])
    cfg["server"] = server
    p = procs.start_daemon(cfg, tmp, wait_ready=False)

    def ready() -> bool:
        if not p.alive():
            raise AssertionError(f"daemon exited:\n{p.log_tail()}")
        with promfeed.Client(p.target, timeout=2, wait_for_ready=True, **client) as c:
            try:
                return c.status().ready
            except errors.UnavailableError:
                return False

    try:
        procs.wait_until(ready, 60, f"TLS daemon at {p.target} ready", interval=0.2)
    except Exception:
        p.stop()
        raise
    return p


def _tls(pki: Any, **extra: Any) -> dict[str, Any]:
    return {"tls_config": {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key),
                           **extra}}  # fmt: skip


@pytest.fixture(scope="module")
def tls_daemon(
    tmp_path_factory: pytest.TempPathFactory, prom_stack: PromStack, pki: Any
) -> Iterator[procs.Proc]:
    p = _start(tmp_path_factory.mktemp("tls"), prom_stack, _tls(pki), ca_file=str(pki.ca))
    yield p
    p.stop()


@pytest.fixture(scope="module")
def mtls_daemon(
    tmp_path_factory: pytest.TempPathFactory, prom_stack: PromStack, pki: Any
) -> Iterator[procs.Proc]:
    server = _tls(pki)
    server["tls_config"].update(client_auth="require", client_ca_file=str(pki.ca))
    p = _start(
        tmp_path_factory.mktemp("mtls"), prom_stack, server,
        ca_file=str(pki.ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key),
    )  # fmt: skip
    yield p
    p.stop()


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("tokens") / "tokens"
    f.write_text(TOKENS)
    f.chmod(0o600)
    return f


@pytest.fixture(scope="module")
def auth_daemon(
    tmp_path_factory: pytest.TempPathFactory, prom_stack: PromStack, pki: Any, token_file: Path
) -> Iterator[procs.Proc]:
    server = _tls(pki)
    server["auth"] = {"bearer_tokens_file": str(token_file)}
    p = _start(
        tmp_path_factory.mktemp("auth"), prom_stack, server, ca_file=str(pki.ca), token=GOOD_TOKEN
    )
    yield p
    p.stop()


# ---- TLS ------------------------------------------------------------------------------------


def test_tls_with_the_ca_reads_series(tls_daemon: procs.Proc, pki: Any) -> None:
    with promfeed.Client(tls_daemon.target, ca_file=str(pki.ca), timeout=10) as c:
        assert c.status().ready
        assert any(s.labels["__name__"] == "up" for s in c.series(["up"]))


def test_tls_without_the_ca_fails(tls_daemon: procs.Proc) -> None:
    with promfeed.Client(tls_daemon.target, tls=True, timeout=5) as c:
        with pytest.raises(errors.UnavailableError):
            c.status()


def test_plaintext_client_cannot_talk_to_tls_daemon(tls_daemon: procs.Proc) -> None:
    with promfeed.Client(tls_daemon.target, timeout=5) as c:
        with pytest.raises(errors.UnavailableError):
            c.status()


def test_server_without_key_refuses_to_start(tmp_path: Path, prom_stack: PromStack, pki: Any) -> None:
    cfg = daemon_config(prom_stack.prometheus.url, inputs=[{"selector": "up"}])
    cfg["server"] = {"tls_config": {"cert_file": str(pki.server_cert), "key_file": str(pki.ca)}}
    p = procs.start_daemon(cfg, tmp_path, wait_ready=False)
    try:
        procs.wait_until(lambda: not p.alive(), 30, "daemon with a mismatched key exits")
        assert p.popen.returncode != 0
        assert "startup failed" in p.log_tail()
    finally:
        p.stop()


# ---- mutual TLS -----------------------------------------------------------------------------


def test_mtls_rejects_a_client_without_a_certificate(mtls_daemon: procs.Proc, pki: Any) -> None:
    with promfeed.Client(mtls_daemon.target, ca_file=str(pki.ca), timeout=5) as c:
        with pytest.raises(errors.UnavailableError):
            c.status()


def test_mtls_rejects_a_certificate_from_another_ca(mtls_daemon: procs.Proc, pki: Any) -> None:
    with promfeed.Client(
        mtls_daemon.target, ca_file=str(pki.ca), cert_file=str(pki.rogue_cert),
        key_file=str(pki.rogue_key), timeout=5,
    ) as c:  # fmt: skip
        with pytest.raises(errors.UnavailableError):
            c.series(["up"])


def test_mtls_accepts_a_certificate_signed_by_the_ca(mtls_daemon: procs.Proc, pki: Any) -> None:
    with promfeed.Client(
        mtls_daemon.target, ca_file=str(pki.ca), cert_file=str(pki.client_cert),
        key_file=str(pki.client_key), timeout=10,
    ) as c:  # fmt: skip
        assert c.series(["up"])
        now = c.status().complete_through_ms
        got = c.read_range(["up"], start=now - 10_000, end=now, step="1s")
        assert got.values.shape[0] >= 5


# ---- bearer tokens --------------------------------------------------------------------------


def test_no_token_is_unauthenticated(auth_daemon: procs.Proc, pki: Any) -> None:
    with promfeed.Client(auth_daemon.target, ca_file=str(pki.ca), timeout=10) as c:
        with pytest.raises(errors.PermissionDeniedError) as e:
            c.series(["up"])
    assert e.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_malformed_authorization_is_unauthenticated(auth_daemon: procs.Proc, pki: Any) -> None:
    md = [("authorization", f"Basic {GOOD_TOKEN}")]
    with promfeed.Client(auth_daemon.target, ca_file=str(pki.ca), metadata=md, timeout=10) as c:
        with pytest.raises(errors.PermissionDeniedError) as e:
            c.status()
    assert e.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_wrong_token_is_permission_denied(auth_daemon: procs.Proc, pki: Any) -> None:
    for wrong in ("s3cret-reader-token-9a7f", GOOD_TOKEN[:-1], GOOD_TOKEN + "x", "# readers"):
        with promfeed.Client(
            auth_daemon.target, ca_file=str(pki.ca), token=wrong, timeout=10
        ) as c:
            with pytest.raises(errors.PermissionDeniedError) as e:
                c.series(["up"])
        assert e.value.code == grpc.StatusCode.PERMISSION_DENIED, wrong


def test_right_token_reads_data(auth_daemon: procs.Proc, pki: Any, token_file: Path) -> None:
    with promfeed.Client(auth_daemon.target, ca_file=str(pki.ca), token=GOOD_TOKEN) as c:
        assert c.series(["up"])
    # token_file takes the first token line; the stream (StreamWindows) carries it too.
    with promfeed.Client(auth_daemon.target, ca_file=str(pki.ca), token_file=token_file) as c:
        now = c.status().complete_through_ms
        with c.windows(["up"], window=3, step="1s", start=now - 10_000, end=now) as w:
            batch = w.read_all()
        assert len(batch) >= 3


def test_health_answers_without_a_token(auth_daemon: procs.Proc, pki: Any) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    with grpc.secure_channel(auth_daemon.target, creds) as ch:
        check = ch.unary_unary(HEALTH, request_serializer=None, response_deserializer=None)
        resp = check(_health_request("promfeed.v1.MetricFeed"), timeout=10)
        assert resp == b"\x08\x01"  # status: SERVING
        assert check(_health_request(""), timeout=10) == b"\x08\x01"


def test_token_never_in_log_or_status(auth_daemon: procs.Proc, pki: Any) -> None:
    with promfeed.Client(auth_daemon.target, ca_file=str(pki.ca), token=GOOD_TOKEN) as c:
        st = c.status()
    for secret in (GOOD_TOKEN, "first-token-4f1c"):
        assert secret not in str(st)
        assert secret not in auth_daemon.log_path.read_text(errors="replace")
    assert "bearer_auth=true" in auth_daemon.log_path.read_text()


def test_plaintext_with_tokens_is_a_config_error(
    tmp_path: Path, prom_stack: PromStack, token_file: Path
) -> None:
    cfg = daemon_config(prom_stack.prometheus.url, inputs=[{"selector": "up"}])
    cfg["server"] = {"auth": {"bearer_tokens_file": str(token_file)}}
    p = procs.start_daemon(cfg, tmp_path, wait_ready=False)
    try:
        procs.wait_until(lambda: not p.alive(), 30, "daemon with tokens but no TLS exits")
        log = p.log_tail()
        assert "server.auth: bearer tokens need TLS" in log
        assert GOOD_TOKEN not in log
    finally:
        p.stop()


# ---- promfeedctl ----------------------------------------------------------------------------


def _ctl_bin() -> Path:
    return procs.require_built(procs.ctl_bin(), "PROMFEEDCTL_BIN")


def _ctl(target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_ctl_bin()), f"--target={target}", "--timeout=10s", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_promfeedctl_with_token_file(auth_daemon: procs.Proc, pki: Any, token_file: Path) -> None:
    out = _ctl(auth_daemon.target, f"--ca-file={pki.ca}", f"--token-file={token_file}", "series")
    # The first token line of the file is first-token-4f1c, which the daemon also accepts.
    assert out.returncode == 0, out.stderr
    assert "up{" in out.stdout
    denied = _ctl(auth_daemon.target, f"--ca-file={pki.ca}", "series")
    assert denied.returncode != 0
    assert "missing bearer token" in denied.stderr


def test_promfeedctl_mutual_tls(mtls_daemon: procs.Proc, pki: Any) -> None:
    out = _ctl(
        mtls_daemon.target, f"--ca-file={pki.ca}", f"--cert-file={pki.client_cert}",
        f"--key-file={pki.client_key}", "status",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert _ctl(mtls_daemon.target, f"--ca-file={pki.ca}", "status").returncode != 0


# ---- the daemon's own gRPC self-check -------------------------------------------------------


def test_watchdog_self_check_passes_with_mtls_and_tokens(
    tmp_path: Path, prom_stack: PromStack, pki: Any, token_file: Path, monkeypatch: Any
) -> None:
    from tests.ops.test_systemd import NotifySocket

    ns = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(ns.path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    server = _tls(pki, client_auth="require", client_ca_file=str(pki.ca))
    server["auth"] = {"bearer_tokens_file": str(token_file)}
    cfg = daemon_config(prom_stack.prometheus.url, inputs=[{"selector": "up"}])
    cfg["server"] = server
    d = procs.start_daemon(cfg, tmp_path / "d", wait_ready=False)
    try:
        for _ in range(3):
            ns.wait_for(lambda m: m.get("WATCHDOG") == "1", "WATCHDOG=1", timeout=30)
        os.kill(d.pid, signal.SIGHUP)  # Same files: no "needs restart" for TLS or tokens.
        ns.wait_for(lambda m: m.get("STATUS", "").startswith("configuration reloaded"), "reload")
        log = d.log_tail(200_000)
        assert "watchdog withheld" not in log
        assert "needs restart" not in log
        assert GOOD_TOKEN not in log
    finally:
        d.stop()
        ns.close()
