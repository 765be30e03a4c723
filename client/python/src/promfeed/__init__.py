"""promfeed: read the promfeed daemon's Prometheus series as numpy arrays and tf.data datasets.

    import promfeed
    with promfeed.Client("127.0.0.1:9401") as c:
        grid = c.read_range('up', start=timedelta(minutes=5), step="1s")
        for batch in c.windows(["go_goroutines"], window=60, shift=1):
            batch.x  # [N, 60, F] zero-copy view

TensorFlow is optional and only imported by `promfeed.tf` and `promfeed.tfio`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from promfeed import errors
from promfeed._types import Fill, ReadRangeResult, Series, StreamHeader, WindowBatch
from promfeed.client import Client, WindowStream

if TYPE_CHECKING:
    from promfeed import tf, tfio

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Fill",
    "ReadRangeResult",
    "Series",
    "StreamHeader",
    "WindowBatch",
    "WindowStream",
    "__version__",
    "errors",
    "tf",
    "tfio",
]


def __getattr__(name: str) -> Any:
    # `promfeed.tf` / `promfeed.tfio` import TensorFlow only when first touched.
    if name in ("tf", "tfio"):
        return importlib.import_module(f"promfeed.{name}")
    raise AttributeError(f"module 'promfeed' has no attribute {name!r}")
