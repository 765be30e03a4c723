"""Shared paths for the deployment tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def build_dir() -> Path:
    """${BUILD_DIR} (default <repo>/build): a configured and built tree."""
    d = Path(os.environ.get("BUILD_DIR", REPO / "build"))
    if not (d / "CMakeCache.txt").exists():
        pytest.fail(
            f"{d} is not a configured build dir; run scripts/build.sh or set BUILD_DIR"
        )
    return d
