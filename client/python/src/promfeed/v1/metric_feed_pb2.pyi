from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    FLOAT32: _ClassVar[DType]
    FLOAT64: _ClassVar[DType]

class Fill(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILL_UNSPECIFIED: _ClassVar[Fill]
    NAN_MASK: _ClassVar[Fill]
    PREVIOUS: _ClassVar[Fill]
    ZERO: _ClassVar[Fill]
    DROP: _ClassVar[Fill]

class UpstreamState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPSTREAM_STATE_UNSPECIFIED: _ClassVar[UpstreamState]
    UP: _ClassVar[UpstreamState]
    DOWN: _ClassVar[UpstreamState]
DTYPE_UNSPECIFIED: DType
FLOAT32: DType
FLOAT64: DType
FILL_UNSPECIFIED: Fill
NAN_MASK: Fill
PREVIOUS: Fill
ZERO: Fill
DROP: Fill
UPSTREAM_STATE_UNSPECIFIED: UpstreamState
UP: UpstreamState
DOWN: UpstreamState

class Label(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Series(_message.Message):
    __slots__ = ("labels", "samples_held", "oldest_time_ms", "newest_time_ms")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_HELD_FIELD_NUMBER: _ClassVar[int]
    OLDEST_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    NEWEST_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    samples_held: int
    oldest_time_ms: int
    newest_time_ms: int
    def __init__(self, labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ..., samples_held: _Optional[int] = ..., oldest_time_ms: _Optional[int] = ..., newest_time_ms: _Optional[int] = ...) -> None: ...

class ListSeriesRequest(_message.Message):
    __slots__ = ("selectors", "limit")
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    selectors: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    def __init__(self, selectors: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListSeriesResponse(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[Series]
    def __init__(self, series: _Optional[_Iterable[_Union[Series, _Mapping]]] = ...) -> None: ...

class ReadRangeRequest(_message.Message):
    __slots__ = ("selectors", "start_ms", "end_ms", "step_ms", "lookback_ms", "max_rows_per_message")
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    STEP_MS_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    selectors: _containers.RepeatedScalarFieldContainer[str]
    start_ms: int
    end_ms: int
    step_ms: int
    lookback_ms: int
    max_rows_per_message: int
    def __init__(self, selectors: _Optional[_Iterable[str]] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., step_ms: _Optional[int] = ..., lookback_ms: _Optional[int] = ..., max_rows_per_message: _Optional[int] = ...) -> None: ...

class ReadRangeResponse(_message.Message):
    __slots__ = ("series", "time_ms", "values", "mask", "row_count")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[Series]
    time_ms: bytes
    values: bytes
    mask: bytes
    row_count: int
    def __init__(self, series: _Optional[_Iterable[_Union[Series, _Mapping]]] = ..., time_ms: _Optional[bytes] = ..., values: _Optional[bytes] = ..., mask: _Optional[bytes] = ..., row_count: _Optional[int] = ...) -> None: ...

class StreamWindowsRequest(_message.Message):
    __slots__ = ("features", "step_ms", "window", "shift", "fill", "start_ms", "end_ms", "follow", "dtype", "lookback_ms", "max_rows_per_message")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    STEP_MS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[str]
    step_ms: int
    window: int
    shift: int
    fill: Fill
    start_ms: int
    end_ms: int
    follow: bool
    dtype: DType
    lookback_ms: int
    max_rows_per_message: int
    def __init__(self, features: _Optional[_Iterable[str]] = ..., step_ms: _Optional[int] = ..., window: _Optional[int] = ..., shift: _Optional[int] = ..., fill: _Optional[_Union[Fill, str]] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ..., follow: bool = ..., dtype: _Optional[_Union[DType, str]] = ..., lookback_ms: _Optional[int] = ..., max_rows_per_message: _Optional[int] = ...) -> None: ...

class WindowHeader(_message.Message):
    __slots__ = ("features", "feature_selector_index", "step_ms", "lookback_ms", "window", "shift", "fill", "dtype", "start_time_ms", "end_time_ms")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SELECTOR_INDEX_FIELD_NUMBER: _ClassVar[int]
    STEP_MS_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_MS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    END_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[Series]
    feature_selector_index: _containers.RepeatedScalarFieldContainer[int]
    step_ms: int
    lookback_ms: int
    window: int
    shift: int
    fill: Fill
    dtype: DType
    start_time_ms: int
    end_time_ms: int
    def __init__(self, features: _Optional[_Iterable[_Union[Series, _Mapping]]] = ..., feature_selector_index: _Optional[_Iterable[int]] = ..., step_ms: _Optional[int] = ..., lookback_ms: _Optional[int] = ..., window: _Optional[int] = ..., shift: _Optional[int] = ..., fill: _Optional[_Union[Fill, str]] = ..., dtype: _Optional[_Union[DType, str]] = ..., start_time_ms: _Optional[int] = ..., end_time_ms: _Optional[int] = ...) -> None: ...

class RowBlock(_message.Message):
    __slots__ = ("first_row_index", "row_count", "time_ms", "values", "mask", "first_window_index", "window_count", "dropped_window_indices", "lost_windows", "dropped_windows_total", "lost_windows_total")
    FIRST_ROW_INDEX_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    FIRST_WINDOW_INDEX_FIELD_NUMBER: _ClassVar[int]
    WINDOW_COUNT_FIELD_NUMBER: _ClassVar[int]
    DROPPED_WINDOW_INDICES_FIELD_NUMBER: _ClassVar[int]
    LOST_WINDOWS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_WINDOWS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    LOST_WINDOWS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    first_row_index: int
    row_count: int
    time_ms: bytes
    values: bytes
    mask: bytes
    first_window_index: int
    window_count: int
    dropped_window_indices: _containers.RepeatedScalarFieldContainer[int]
    lost_windows: int
    dropped_windows_total: int
    lost_windows_total: int
    def __init__(self, first_row_index: _Optional[int] = ..., row_count: _Optional[int] = ..., time_ms: _Optional[bytes] = ..., values: _Optional[bytes] = ..., mask: _Optional[bytes] = ..., first_window_index: _Optional[int] = ..., window_count: _Optional[int] = ..., dropped_window_indices: _Optional[_Iterable[int]] = ..., lost_windows: _Optional[int] = ..., dropped_windows_total: _Optional[int] = ..., lost_windows_total: _Optional[int] = ...) -> None: ...

class StreamWindowsResponse(_message.Message):
    __slots__ = ("header", "rows")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    header: WindowHeader
    rows: RowBlock
    def __init__(self, header: _Optional[_Union[WindowHeader, _Mapping]] = ..., rows: _Optional[_Union[RowBlock, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("version", "upstream_url", "upstream_state", "last_error", "last_poll_time_ms", "last_poll_duration_ms", "poll_interval_ms", "series_count", "max_series", "series_rejected_total", "samples_held", "ring_bytes", "polls_total", "poll_failures_total", "active_streams", "ready", "complete_through_ms", "retention_ms")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_URL_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_POLL_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_POLL_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    POLL_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    SERIES_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_SERIES_FIELD_NUMBER: _ClassVar[int]
    SERIES_REJECTED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_HELD_FIELD_NUMBER: _ClassVar[int]
    RING_BYTES_FIELD_NUMBER: _ClassVar[int]
    POLLS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    POLL_FAILURES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_STREAMS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_THROUGH_MS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MS_FIELD_NUMBER: _ClassVar[int]
    version: str
    upstream_url: str
    upstream_state: UpstreamState
    last_error: str
    last_poll_time_ms: int
    last_poll_duration_ms: int
    poll_interval_ms: int
    series_count: int
    max_series: int
    series_rejected_total: int
    samples_held: int
    ring_bytes: int
    polls_total: int
    poll_failures_total: int
    active_streams: int
    ready: bool
    complete_through_ms: int
    retention_ms: int
    def __init__(self, version: _Optional[str] = ..., upstream_url: _Optional[str] = ..., upstream_state: _Optional[_Union[UpstreamState, str]] = ..., last_error: _Optional[str] = ..., last_poll_time_ms: _Optional[int] = ..., last_poll_duration_ms: _Optional[int] = ..., poll_interval_ms: _Optional[int] = ..., series_count: _Optional[int] = ..., max_series: _Optional[int] = ..., series_rejected_total: _Optional[int] = ..., samples_held: _Optional[int] = ..., ring_bytes: _Optional[int] = ..., polls_total: _Optional[int] = ..., poll_failures_total: _Optional[int] = ..., active_streams: _Optional[int] = ..., ready: bool = ..., complete_through_ms: _Optional[int] = ..., retention_ms: _Optional[int] = ...) -> None: ...
