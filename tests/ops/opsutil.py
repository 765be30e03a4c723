"""Helpers for the operations tests: HTTP calls to the daemon's web listener, a parser for
the Prometheus text exposition format, and log waiting."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from tests.harness import procs

__all__ = [
    "Family",
    "http",
    "log_size",
    "metric",
    "parse_metrics",
    "scrape",
    "wait_log",
]


def http(
    url: str, method: str = "GET", timeout: float = 10
) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(
        url, method=method, data=b"" if method == "POST" else None
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


@dataclass
class Family:
    name: str
    type: str = ""
    help: str = ""
    samples: dict[str, float] = field(default_factory=dict)  # "name{labels}" -> value


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")


def parse_metrics(text: str) -> dict[str, Family]:
    """Families of the text format 0.0.4 by name. Raises ValueError on a line it cannot
    read, a sample without a TYPE, or a duplicate sample."""
    fams: dict[str, Family] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = (line.split(" ", 3) + [""])[:4]
            f = fams.setdefault(name, Family(name))
            if kind == "TYPE":
                f.type = rest
            else:
                f.help = rest
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {n}: not a sample: {line!r}")
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        f = fams.get(name) or fams.get(base)
        if f is None or not f.type:
            raise ValueError(f"line {n}: sample {name} has no # TYPE")
        key = name + labels
        if key in f.samples:
            raise ValueError(f"line {n}: duplicate sample {key}")
        f.samples[key] = value
    return fams


def scrape(web_url: str) -> dict[str, Family]:
    status, headers, body = http(web_url + "/metrics")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    return parse_metrics(body)


def metric(fams: dict[str, Family], key: str) -> float:
    """The value of sample `key` ("name" or 'name{label="v"}')."""
    base = re.sub(r"_(bucket|sum|count)$", "", key.split("{")[0])
    fam = fams.get(key.split("{")[0]) or fams[base]
    return fam.samples[key]


def wait_log(
    proc: procs.Proc, pattern: str, timeout: float = 30, start: int = 0
) -> re.Match:
    """Waits until the daemon's log (from byte `start`) matches `pattern`; returns the match."""
    rx = re.compile(pattern, re.MULTILINE)

    def found() -> re.Match | None:
        return rx.search(proc.log_path.read_text(errors="replace")[start:])

    return procs.wait_until(
        found,
        timeout,
        f"log line /{pattern}/ from {proc.name}",
        on_timeout=proc.describe,
    )


def log_size(proc: procs.Proc) -> int:
    return len(proc.log_path.read_text(errors="replace"))
