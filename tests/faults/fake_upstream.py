"""A scriptable fake Prometheus HTTP API for fault tests: a ThreadingHTTPServer on
127.0.0.1:<free port> that answers the daemon's queries with deterministic data, or, when
told to, with hostile answers (hangs, trickles, broken JSON, error statuses, redirects).

The data: `series` series `fake_metric{job="fake", instance="i<k>"}` with one sample every
second at whole seconds, value `value_at(t_ms, k)`. A selector query `sel[<D>ms]` at time T
returns every sample in (T - D, T], as Prometheus does for a range-vector instant query, so
the daemon's store can be checked sample for sample against `value_at`.

Behaviour is a callable `(req) -> Reply | None` installed with `set_behaviour`; None means the
normal data answer. Every request is recorded (path, form, start and end time, outcome).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeUpstream", "Reply", "Request", "value_at"]

METRIC = "fake_metric"


def value_at(t_ms: int, k: int) -> float:
    """The fake series k's value at t_ms: distinct per series and time, exact in float64."""
    return float((t_ms // 1000) % 100_000) + k / 1000.0


@dataclass
class Request:
    path: str
    form: dict[str, str]
    started: float  # time.monotonic()
    ended: float | None = None
    outcome: str = ""  # "data", "reply", "hang", "trickle-aborted", "trickle-done", ...


@dataclass
class Reply:
    """A scripted answer. kind: "raw" (status, body, headers), "hang" (read the request,
    never answer until the server stops or the client goes away), "trickle" (send `body`
    one byte every `interval` s), "delay" (answer normally after `delay` s)."""

    kind: str = "raw"
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    interval: float = 1.0


class FakeUpstream:
    def __init__(self, series: int = 3) -> None:
        self.series = series
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._behaviour: Callable[[Request], Reply | None] = lambda req: None
        self._stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                outer._handle(self, "GET")

            def do_POST(self) -> None:
                outer._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---- control ------------------------------------------------------------------------
    def start(self) -> FakeUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_behaviour(self, fn: Callable[[Request], Reply | None] | None) -> None:
        with self._lock:
            self._behaviour = fn or (lambda req: None)

    def always(self, reply: Reply) -> None:
        self.set_behaviour(lambda req: reply)

    def once(self, reply: Reply) -> None:
        """The next request gets `reply`; later ones get normal data."""
        used = threading.Event()

        def fn(req: Request) -> Reply | None:
            if used.is_set():
                return None
            used.set()
            return reply

        self.set_behaviour(fn)

    def count(self, pred: Callable[[Request], bool] = lambda r: True) -> int:
        with self._lock:
            return sum(1 for r in self.requests if pred(r))

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    # ---- data ---------------------------------------------------------------------------
    def matrix_body(self, end_ms: int, span_ms: int) -> bytes:
        """Every sample in (end - span, end] of every series, as Prometheus answers `sel[span]`."""
        first = (end_ms - span_ms) // 1000 * 1000 + 1000
        times = range(first, end_ms // 1000 * 1000 + 1, 1000)
        result = [
            {
                "metric": {"__name__": METRIC, "job": "fake", "instance": f"i{k}"},
                "values": [[t / 1000, repr(value_at(t, k))] for t in times],
            }
            for k in range(self.series)
        ]
        return json.dumps(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        ).encode()

    def data_reply(self, req: Request) -> Reply:
        if req.path.endswith("/api/v1/status/config"):
            body = {"status": "success", "data": {"yaml": "global:\n  scrape_interval: 1s\n"}}
            return Reply(body=json.dumps(body).encode())
        if req.path.endswith("/api/v1/query"):
            q = req.form.get("query", "")
            t_ms = int(round(float(req.form["time"]) * 1000))
            span_ms = int(q[q.rindex("[") + 1 : -3]) if q.endswith("ms]") else 0
            return Reply(body=self.matrix_body(t_ms, span_ms))
        body = {"status": "error", "errorType": "bad_data", "error": f"fake: no {req.path}"}
        return Reply(status=400, body=json.dumps(body).encode())

    # ---- serving ------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length).decode() if length else ""
        path, _, query = h.path.partition("?")
        form = dict(urllib.parse.parse_qsl(raw or query))
        req = Request(path=path, form=form, started=time.monotonic())
        with self._lock:
            self.requests.append(req)
            behaviour = self._behaviour
        reply = behaviour(req)
        try:
            if reply is None:
                req.outcome = "data"
                self._send(h, self.data_reply(req))
            elif reply.kind == "hang":
                req.outcome = "hang"
                self._hang(h)
            elif reply.kind == "trickle":
                self._trickle(h, req, reply)
            elif reply.kind == "delay":
                req.outcome = "delay"
                self._stopping.wait(reply.delay)
                self._send(h, self.data_reply(req))
            else:
                req.outcome = "reply"
                self._send(h, reply)
        except (BrokenPipeError, ConnectionResetError, OSError):
            req.outcome += "-aborted"
        finally:
            req.ended = time.monotonic()

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        h.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(reply.body)))
        h.end_headers()
        h.wfile.write(reply.body)
        h.wfile.flush()

    def _hang(self, h: BaseHTTPRequestHandler) -> None:
        """Never answers; returns when the client closes the connection or the server stops."""
        sock: socket.socket = h.connection
        sock.settimeout(0.1)
        while not self._stopping.is_set():
            try:
                if sock.recv(1) == b"":
                    raise ConnectionResetError("client closed")
            except TimeoutError:
                continue
        h.close_connection = True

    def _trickle(self, h: BaseHTTPRequestHandler, req: Request, reply: Reply) -> None:
        """A valid answer, one byte every `interval` seconds."""
        body = reply.body or self.data_reply(req).body
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        req.outcome = "trickle"
        for b in head + body:
            if self._stopping.wait(reply.interval):
                break
            h.wfile.write(bytes([b]))
            h.wfile.flush()
        h.close_connection = True
        req.outcome = "trickle-done"
