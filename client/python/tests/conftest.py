"""Test setup: the repository root goes on sys.path so `tests.harness` imports; the shared
harness fixtures (real Prometheus, node-exporter, daemon) are loaded from it."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.harness.fixtures import *  # noqa: E402,F403
from tests.harness.fixtures import pytest_runtest_makereport  # noqa: E402,F401
