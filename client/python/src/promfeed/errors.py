"""Exceptions raised by the promfeed reader.

Every error from the daemon is a `PromfeedError` subclass chosen by its gRPC status code and
carries `code` (a `grpc.StatusCode`), `details` (the daemon's message, verbatim) and `target`.

    PromfeedError
      InvalidArgumentError     bad request: window 0, unknown fill, malformed selector
      NotFoundError            a selector matches no series
      OutOfRangeError          start older than the daemon holds
      UnavailableError         daemon unreachable, not warmed up, or shutting down
        DaemonUnreachableError   no connection could be made to the target
      ResourceExhaustedError   stream or size limits
      PermissionDeniedError    UNAUTHENTICATED / PERMISSION_DENIED
      DeadlineExceededError    the call's deadline passed
      CancelledError           the call was cancelled
      ProtocolError            the daemon's stream broke the wire contract
      SeriesCollisionError     tfio drop-in: series collide on (job, instance, __name__)
"""

from __future__ import annotations

from typing import Any

import grpc

__all__ = [
    "CancelledError",
    "DaemonUnreachableError",
    "DeadlineExceededError",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "PromfeedError",
    "ProtocolError",
    "ResourceExhaustedError",
    "SeriesCollisionError",
    "UnavailableError",
    "from_rpc_error",
]


class PromfeedError(Exception):
    """Base class: a failed call to a promfeed daemon."""

    def __init__(
        self,
        details: str,
        *,
        code: grpc.StatusCode | None = None,
        target: str | None = None,
        method: str | None = None,
    ) -> None:
        self.details = details
        self.code = code
        self.target = target
        self.method = method
        parts = []
        if method:
            parts.append(method)
        if target:
            parts.append(f"target={target}")
        if code is not None:
            parts.append(f"code={code.name}")
        prefix = f"[{' '.join(parts)}] " if parts else ""
        super().__init__(prefix + details)


class InvalidArgumentError(PromfeedError, ValueError):
    """INVALID_ARGUMENT: the request is malformed; the message says what to change."""


class NotFoundError(PromfeedError, LookupError):
    """NOT_FOUND: a selector matches no series the daemon holds."""


class OutOfRangeError(PromfeedError):
    """OUT_OF_RANGE: start is older than the daemon's ring holds."""


class UnavailableError(PromfeedError, ConnectionError):
    """UNAVAILABLE: the daemon is unreachable, not warmed up yet, or shutting down."""


class DaemonUnreachableError(UnavailableError):
    """No connection to the daemon at `target` could be made."""


class ResourceExhaustedError(PromfeedError):
    """RESOURCE_EXHAUSTED: a stream, series or size limit was hit."""


class PermissionDeniedError(PromfeedError, PermissionError):
    """UNAUTHENTICATED or PERMISSION_DENIED."""


class DeadlineExceededError(PromfeedError, TimeoutError):
    """DEADLINE_EXCEEDED: the call did not finish within its timeout."""


class CancelledError(PromfeedError):
    """CANCELLED: the call was cancelled (by the client or the server)."""


class ProtocolError(PromfeedError):
    """The daemon's response broke the promfeed.v1 wire contract (a daemon bug)."""


class SeriesCollisionError(PromfeedError, ValueError):
    """Several series share (job, instance, __name__) and cannot be keyed tfio-style."""


_BY_CODE: dict[grpc.StatusCode, type[PromfeedError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAUTHENTICATED: PermissionDeniedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.CANCELLED: CancelledError,
}

# Substrings gRPC core puts in UNAVAILABLE details when no connection could be made.
_UNREACHABLE_HINTS = (
    "failed to connect",
    "connection refused",
    "connect failed",
    "name resolution",
    "dns resolution failed",
    "no address",
    "socket closed",
    "failed to pick subchannel",
    "deadline exceeded while waiting for connections",
)


def from_rpc_error(err: grpc.RpcError, *, target: str, method: str) -> PromfeedError:
    """Maps a grpc.RpcError to the matching PromfeedError (the caller raises it `from err`)."""
    code: grpc.StatusCode | None = err.code() if hasattr(err, "code") else None
    details: Any = err.details() if hasattr(err, "details") else str(err)
    details = str(details or (code.name if code else "unknown error"))
    if code == grpc.StatusCode.UNAVAILABLE and any(
        h in details.lower() for h in _UNREACHABLE_HINTS
    ):
        return DaemonUnreachableError(
            f"cannot reach the promfeed daemon at {target}: {details}. "
            "Check that it runs and listens there (--grpc.listen-address).",
            code=code,
            target=target,
            method=method,
        )
    cls = _BY_CODE.get(code, PromfeedError) if code is not None else PromfeedError
    return cls(details, code=code, target=target, method=method)
