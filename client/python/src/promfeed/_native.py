"""The C++ StreamWindows transport (module _promfeed_native, built by CMake), when present.

A C++ thread per stream receives the messages with the GIL released, so the reader's Python
work (decoding, copying rows into blocks, tf.data) no longer takes turns with grpcio's receive
loop and a pump thread for the GIL. Clients fall back to grpcio when the module is not built,
when PROMFEED_NATIVE=0, or when they were given raw gRPC credentials or channel options (which
only grpcio understands). Both transports deliver the same bytes to the same decoder.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import grpc


def _load() -> Any:
    """The module, or None when not built (see client/python/native): grpcio is used then.

    Loaded with RTLD_DEEPBIND: it links Debian's libgrpc, while grpcio carries its own copy of
    gRPC's core; once TensorFlow has loaded libraries with global symbols, libgrpc's calls could
    otherwise land in grpcio's copy (uninitialised there: "Attempt to create timer before
    initialization", then a crash, seen in scripts/demo.sh). Deep binding keeps it to its own."""
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
    try:
        import _promfeed_native

        return _promfeed_native
    except ImportError:
        return None
    finally:
        sys.setdlopenflags(flags)


_mod = _load()

# gRPC status codes by number (grpc.StatusCode's values are (number, name) pairs).
_CODES = {c.value[0]: c for c in grpc.StatusCode}


def enabled() -> bool:
    """True when streams may use the C++ transport (built, and PROMFEED_NATIVE is not 0)."""
    return _mod is not None and os.environ.get("PROMFEED_NATIVE", "1") != "0"


def channel(
    target: str, tls_pem: tuple[bytes | None, bytes | None, bytes | None] | None, max_bytes: int
) -> Any:
    """A C++ channel to target; tls_pem = (root CAs, private key, certificate chain) or None."""
    root, key, chain = tls_pem or (None, None, None)
    return _mod.Channel(
        target, root or b"", chain or b"", key or b"", tls_pem is not None, max_bytes
    )


class NativeRpcError(grpc.RpcError):
    """How a C++ stream ended, in grpc.RpcError's shape (for errors.from_rpc_error)."""

    def __init__(self, code: int, details: str) -> None:
        super().__init__(details)
        self._code = _CODES.get(code, grpc.StatusCode.UNKNOWN)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details
