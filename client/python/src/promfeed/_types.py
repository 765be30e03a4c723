"""Plain data types returned by the promfeed reader (numpy arrays, no protobuf objects)."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from promfeed.v1 import metric_feed_pb2 as pb

__all__ = ["Fill", "ReadRangeResult", "Series", "StreamHeader", "WindowBatch"]


class Fill(str, enum.Enum):
    """What a grid point without a sample becomes (proto `Fill`)."""

    NAN = "nan"  # NaN in values, False in mask (daemon default)
    PREVIOUS = "previous"  # previous grid value of the same feature; mask False
    ZERO = "zero"  # 0.0; mask False
    DROP = "drop"  # windows with any missing value are dropped and reported

    def to_proto(self) -> int:
        return {
            Fill.NAN: pb.NAN_MASK,
            Fill.PREVIOUS: pb.PREVIOUS,
            Fill.ZERO: pb.ZERO,
            Fill.DROP: pb.DROP,
        }[self]

    @classmethod
    def from_proto(cls, value: int) -> Fill:
        return {
            pb.FILL_UNSPECIFIED: Fill.NAN,
            pb.NAN_MASK: Fill.NAN,
            pb.PREVIOUS: Fill.PREVIOUS,
            pb.ZERO: Fill.ZERO,
            pb.DROP: Fill.DROP,
        }[value]


@dataclass(frozen=True)
class Series:
    """One series: its full label set (the identity) and what the daemon holds of it."""

    labels: Mapping[str, str]
    samples_held: int = 0
    oldest_time_ms: int = 0
    newest_time_ms: int = 0

    @property
    def name(self) -> str:
        """The metric name (`__name__`), or "" when absent."""
        return self.labels.get("__name__", "")

    @property
    def job(self) -> str:
        return self.labels.get("job", "")

    @property
    def instance(self) -> str:
        return self.labels.get("instance", "")

    def key(self) -> tuple[tuple[str, str], ...]:
        """Hashable identity: the sorted label pairs."""
        return tuple(sorted(self.labels.items()))

    def __str__(self) -> str:
        inner = ",".join(
            f'{k}="{_escape(v)}"' for k, v in sorted(self.labels.items()) if k != "__name__"
        )
        return f"{self.name}{{{inner}}}"

    @classmethod
    def from_proto(cls, s: pb.Series) -> Series:
        return cls(
            labels={lab.name: lab.value for lab in s.labels},
            samples_held=s.samples_held,
            oldest_time_ms=s.oldest_time_ms,
            newest_time_ms=s.newest_time_ms,
        )


class SeriesList(Sequence[Series]):
    """A stream header's feature columns: a read-only sequence of Series, built from the
    proto on first use (so a reader that only needs the column count, as for raw rows, does
    not pay for a thousand label sets per stream). Compares equal to a list of the same
    Series. header: the WindowHeader holding the protos, if any (see `header`)."""

    __slots__ = ("_header", "_items", "_proto")

    def __init__(self, proto: Sequence[pb.Series], header: pb.WindowHeader | None = None) -> None:
        self._proto: Sequence[pb.Series] | None = proto
        self._header = header
        self._items: list[Series] | None = None

    def _all(self) -> list[Series]:
        if self._items is None:
            assert self._proto is not None
            self._items = [Series.from_proto(s) for s in self._proto]
            self._proto = self._header = None
        return self._items

    @property
    def proto(self) -> Sequence[pb.Series] | None:
        """The header's Series protos, until the Series are built (then None)."""
        return self._proto

    @property
    def header(self) -> pb.WindowHeader | None:
        """The WindowHeader whose `features` these are, until the Series are built (then
        None): its serialized form lets a reader compare all label sets at once."""
        return self._header

    def __len__(self) -> int:
        items = self._items if self._items is not None else self._proto
        return len(items)  # type: ignore[arg-type]

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        return self._all()[i]

    def __iter__(self) -> Iterator[Series]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SeriesList):
            other = other._all()
        return isinstance(other, list) and self._all() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._all())


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class ReadRangeResult:
    """Series sampled on a grid.

    time_ms: int64[R] grid times; values: float64[R, S] (NaN where missing);
    mask: bool[R, S] (True where a real sample); series: the S columns, in order.
    """

    series: list[Series]
    time_ms: np.ndarray
    values: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return int(self.time_ms.shape[0])


@dataclass(frozen=True)
class StreamHeader:
    """What a StreamWindows stream's rows mean (proto `WindowHeader`)."""

    features: Sequence[Series]  # a SeriesList when read from a stream
    feature_selector_index: list[int]
    step_ms: int
    lookback_ms: int
    window: int
    shift: int
    fill: Fill
    dtype: np.dtype
    start_time_ms: int
    end_time_ms: int

    @property
    def num_features(self) -> int:
        return len(self.features)


@dataclass(frozen=True)
class WindowBatch:
    """The windows one stream message completed.

    x: [N, W, F] values (a zero-copy view over the received rows unless windows were dropped);
    time_ms: int64[N, W]; mask: bool[N, W, F], or None when every value is a real sample;
    index: int64[N] window indices (window k spans rows [k*shift, k*shift + W)).
    dropped: indices the DROP policy removed in this message; lost: windows lost just before
    this message because the reader fell behind the daemon's ring.
    """

    x: np.ndarray
    time_ms: np.ndarray
    index: np.ndarray
    mask: np.ndarray | None = None
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lost: int = 0

    def __len__(self) -> int:
        return int(self.x.shape[0])
