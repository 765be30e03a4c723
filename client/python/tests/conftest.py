"""Test setup: the repository root goes on sys.path so `tests.harness` imports; the shared
harness fixtures (real Prometheus, node-exporter, daemon) are loaded from it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.harness.fixtures import *  # noqa: E402,F403
from tests.harness.fixtures import pytest_runtest_makereport  # noqa: E402,F401


@pytest.fixture(params=["native", "grpcio"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test once per stream transport: the C++ one (_promfeed_native) and grpcio.
    The C++ one is skipped when not built, unless PROMFEED_REQUIRE_NATIVE=1 (scripts/test.sh)."""
    from promfeed import _native

    if request.param == "grpcio":
        monkeypatch.setenv("PROMFEED_NATIVE", "0")
    else:
        monkeypatch.delenv("PROMFEED_NATIVE", raising=False)
        if not _native.enabled():
            if os.environ.get("PROMFEED_REQUIRE_NATIVE") == "1":
                pytest.fail("_promfeed_native is not importable: run scripts/build.sh, then "
                            "scripts/python-env.sh (which puts build/python on the venv's path)")
            pytest.skip("_promfeed_native not built")
    return request.param
