"""`import promfeed` stays light; the committed gRPC stubs match proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_import_promfeed_loads_neither_tensorflow_nor_pandas():
    code = (
        "import sys, promfeed, promfeed.errors, promfeed.client\n"
        "c = promfeed.Client('127.0.0.1:1')\n"
        "c.close()\n"
        "bad = sorted(m for m in ('tensorflow', 'pandas', 'keras') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import promfeed loaded: {out.stdout.strip()}"


def test_committed_stubs_match_proto():
    pytest.importorskip("grpc_tools")
    script = Path(__file__).resolve().parents[1] / "scripts" / "gen_proto.py"
    out = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_public_api_is_typed_and_exported():
    import promfeed

    pkg = Path(promfeed.__file__).parent
    assert (pkg / "py.typed").exists()
    for name in promfeed.__all__:
        if name not in ("tf", "tfio"):
            assert hasattr(promfeed, name), name
