"""Upstream https: the daemon polling a local TLS server (Python ssl) that serves canned
Prometheus JSON: verification, ca_file, client certificate, bearer and basic auth, and
secrets kept out of logs, GetStatus and /metrics."""

from __future__ import annotations

import base64
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

import promfeed
from tests.faults.fake_upstream import METRIC, FakeUpstream
from tests.harness import procs

BEARER = "upstream-bearer-7d2e9c"
PASSWORD = "upstream-basic-pw-51aa"


class TlsUpstream(FakeUpstream):
    """FakeUpstream over TLS; records the Authorization header and the client certificate."""

    def __init__(self, pki: Any) -> None:
        super().__init__(series=2)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.server_cert, pki.server_key)
        ctx.load_verify_locations(pki.ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.port}"
        self.auth: list[str] = []
        self.peer_cns: list[str] = []
        self._seen = threading.Lock()

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        cert = h.connection.getpeercert() if isinstance(h.connection, ssl.SSLSocket) else None
        cn = dict(x[0] for x in cert["subject"]).get("commonName", "") if cert else ""
        with self._seen:
            self.auth.append(h.headers.get("Authorization") or "")
            self.peer_cns.append(cn)
        super()._handle(h, method)


def _config(url: str, **upstream: Any) -> dict[str, Any]:
    return {
        "global": {"poll_interval": "1s", "backfill": "30s"},
        "upstream": {"url": url, "timeout": "2s", **upstream},
        "inputs": [{"selector": METRIC}],
        "storage": {"retention": "5m"},
        "log": {"level": "debug", "format": "logfmt"},
    }


@pytest.fixture
def upstream(pki: Any) -> Iterator[TlsUpstream]:
    with TlsUpstream(pki) as u:
        yield u


def _secrets_absent(p: procs.Proc, *secrets: str) -> None:
    with promfeed.Client(p.target, timeout=10) as c:
        status = str(c.status())
    with urllib.request.urlopen(p.web_url + "/metrics", timeout=10) as r:
        metrics = r.read().decode()
    log = p.log_path.read_text(errors="replace")
    for s in secrets:
        for where, text in (("log", log), ("GetStatus", status), ("/metrics", metrics)):
            assert s not in text, f"secret in {where}"


def test_self_signed_without_ca_file_fails_naming_the_url(
    tmp_path: Path, upstream: TlsUpstream
) -> None:
    p = procs.start_daemon(_config(upstream.url), tmp_path, wait_ready=False)
    try:
        with promfeed.Client(p.target, timeout=5, wait_for_ready=True) as c:

            def failed() -> str | None:
                st = c.status()
                return st.last_error if st.last_error else None

            err = procs.wait_until(failed, 30, "a failed poll of the untrusted upstream")
            st = c.status()
        assert not st.ready
        assert upstream.url in err, err
        assert "certificate" in err.lower(), err
        assert upstream.url in p.log_tail()
    finally:
        p.stop()


def test_ca_file_client_cert_and_bearer_token(
    tmp_path: Path, upstream: TlsUpstream, pki: Any
) -> None:
    token = tmp_path / "token"
    token.write_text(BEARER + "\n")
    cfg = _config(
        upstream.url,
        bearer_token_file=str(token),
        tls_config={"ca_file": str(pki.ca), "cert_file": str(pki.client_cert),
                    "key_file": str(pki.client_key)},
    )  # fmt: skip
    with procs.start_daemon(cfg, tmp_path / "d") as p:
        with promfeed.Client(p.target, timeout=10) as c:
            assert len(c.series([METRIC])) == 2
        assert f"Bearer {BEARER}" in upstream.auth
        assert set(upstream.auth) == {f"Bearer {BEARER}"}
        assert "client" in upstream.peer_cns
        _secrets_absent(p, BEARER)


def test_basic_auth_over_https(tmp_path: Path, upstream: TlsUpstream, pki: Any) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    cfg = _config(
        upstream.url,
        basic_auth={"username": "promfeed", "password_file": str(pw)},
        tls_config={"ca_file": str(pki.ca)},
    )
    with procs.start_daemon(cfg, tmp_path / "d") as p:
        with promfeed.Client(p.target, timeout=10) as c:
            assert c.series([METRIC])
        want = "Basic " + base64.b64encode(f"promfeed:{PASSWORD}".encode()).decode()
        assert set(upstream.auth) == {want}
        assert upstream.peer_cns and set(upstream.peer_cns) == {""}  # no client cert set
        _secrets_absent(p, PASSWORD, base64.b64encode(f"promfeed:{PASSWORD}".encode()).decode())
