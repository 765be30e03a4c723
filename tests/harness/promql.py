"""A tiny Prometheus HTTP API client (urllib + json) for reference values in tests."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["PromQLError", "query", "query_range", "raw_samples", "series_key"]


class PromQLError(RuntimeError):
    """The Prometheus HTTP API answered with an error (or not at all)."""


def _get(base_url: str, path: str, params: dict[str, Any], timeout: float) -> Any:
    url = f"{base_url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:
        raise PromQLError(f"GET {url}: HTTP {e.code}: {e.read()[:500]!r}") from None
    except (urllib.error.URLError, OSError) as e:
        raise PromQLError(f"GET {url}: {e}") from None
    if body.get("status") != "success":
        raise PromQLError(f"GET {url}: {body.get('errorType')}: {body.get('error')}")
    return body["data"]


def series_key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The sorted label pairs of a result's `metric`, comparable with promfeed Series.key()."""
    return tuple(sorted(metric.items()))


def _ts(t_ms: int | float) -> str:
    return f"{t_ms / 1000:.3f}"


def query(base_url: str, expr: str, time_ms: int | None = None, timeout: float = 10.0) -> list:
    """Instant query; returns the API's `result` list (vector, matrix for `x[5m]`, ...)."""
    params: dict[str, Any] = {"query": expr}
    if time_ms is not None:
        params["time"] = _ts(time_ms)
    return _get(base_url, "/api/v1/query", params, timeout)["result"]


def query_range(
    base_url: str, expr: str, start_ms: int, end_ms: int, step_ms: int, timeout: float = 10.0
) -> dict[tuple, dict[int, float]]:
    """Range query; returns {series key: {time_ms: value}}."""
    data = _get(
        base_url,
        "/api/v1/query_range",
        {
            "query": expr,
            "start": _ts(start_ms),
            "end": _ts(end_ms),
            "step": f"{step_ms / 1000:g}",
        },
        timeout,
    )
    return {
        series_key(r["metric"]): {int(round(float(t) * 1000)): float(v) for t, v in r["values"]}
        for r in data["result"]
    }


def raw_samples(
    base_url: str, selector: str, end_ms: int, range_s: int, timeout: float = 10.0
) -> dict[tuple, tuple[list[int], list[float]]]:
    """Raw samples with their scrape timestamps in (end - range, end], via `selector[range]`.
    Returns {series key: (times_ms, values)}; stale markers are not returned by Prometheus."""
    res = query(base_url, f"{selector}[{int(range_s)}s]", end_ms, timeout)
    out = {}
    for r in res:
        ts = [int(round(float(t) * 1000)) for t, _ in r["values"]]
        vs = [float(v) for _, v in r["values"]]
        out[series_key(r["metric"])] = (ts, vs)
    return out


def grid_from_raw(
    times: list[int], values: list[float], grid: list[int], lookback_ms: int
) -> list[float]:
    """The promfeed grid value at each t: newest sample in (t - lookback, t], else NaN."""
    out = []
    j = 0
    for t in grid:
        while j < len(times) and times[j] <= t:
            j += 1
        if j > 0 and times[j - 1] > t - lookback_ms:
            out.append(values[j - 1])
        else:
            out.append(math.nan)
    return out
