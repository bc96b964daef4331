"""Type stubs for timelog._core (the Cython binding of the C++ engine)."""

import datetime
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Literal, SupportsIndex, TypedDict, final, overload

from typing_extensions import Self, Unpack

TimeUnit = Literal["s", "ms", "us", "ns"]
MaintenanceMode = Literal["background", "disabled"]
BusyPolicy = Literal["raise", "silent", "flush"]
# An int in the log's time_unit, or a time object converted exactly to it:
# datetime.datetime (naive = UTC), numpy.datetime64, pandas.Timestamp.
Timestamp = SupportsIndex | datetime.datetime | Any
# An int number of time_unit, or datetime.timedelta / numpy.timedelta64 / pandas.Timedelta.
Duration = SupportsIndex | datetime.timedelta | Any
Row = tuple[int, Any]

class TimelogError(Exception): ...

class TimelogBusyError(TimelogError):
    committed: int | None
    def __init__(self, *args: object, committed: int | None = ...) -> None: ...

class CompactionOptions(TypedDict, total=False):
    target_bytes: int
    max_inputs: int
    max_windows: int

class AdaptiveOptions(TypedDict, total=False):
    target_records: int
    min_window: int
    max_window: int
    hysteresis_pct: int
    window_quantum: int
    alpha: float
    warmup_flushes: int
    stale_flushes: int
    failure_backoff_threshold: int
    failure_backoff_pct: int

class TimelogOptions(TypedDict, total=False):
    """The keyword options of Timelog(), its presets, reopen() and load()."""
    time_unit: TimeUnit
    maintenance: MaintenanceMode
    busy_policy: BusyPolicy
    memtable_max_bytes: int
    ooo_budget_bytes: int
    sealed_max_runs: int
    sealed_wait_ms: int
    maintenance_wakeup_ms: int
    target_page_bytes: int
    max_delta_segments: int
    window_size: int | None
    window_origin: int
    delete_debt_threshold: float
    drain_batch_limit: int
    compaction: CompactionOptions | Mapping[str, int] | None
    adaptive: AdaptiveOptions | Mapping[str, float] | None
    min_ts: int | None
    mostly_ordered_default: bool

class StorageStats(TypedDict):
    segments_l0: int
    segments_l1: int
    windows_l1: int
    pages_total: int
    records_estimate: int
    records_physical: int
    min_ts: int | None
    max_ts: int | None
    tombstone_count: int
    engine_bytes: int
    window_size: int

class MemtableStats(TypedDict):
    active_records: int
    ooo_records: int
    sealed_runs: int

class OperationalStats(TypedDict):
    seals_total: int
    ooo_budget_hits: int
    backpressure_waits: int
    flushes_total: int
    compactions_total: int
    compaction_retries: int
    windows_dropped: int
    records_dropped: int

class HandleStats(TypedDict):
    retired_count: int
    drained_count: int
    retired_queue_len: int
    pins: int
    alloc_failures: int

class Stats(TypedDict):
    storage: StorageStats
    memtable: MemtableStats
    operational: OperationalStats
    handles: HandleStats

class Timelog:
    __signature__: ClassVar[Any]  # inspect.Signature of Timelog(**options)
    def __init__(
        self,
        *,
        time_unit: TimeUnit = "ms",
        maintenance: MaintenanceMode = "background",
        busy_policy: BusyPolicy = "raise",
        memtable_max_bytes: int = 1048576,
        ooo_budget_bytes: int = 0,
        sealed_max_runs: int = 4,
        sealed_wait_ms: int = 100,
        maintenance_wakeup_ms: int = 100,
        target_page_bytes: int = 65536,
        max_delta_segments: int = 8,
        window_size: int | None = None,
        window_origin: int = 0,
        delete_debt_threshold: float = 0.0,
        drain_batch_limit: int = 0,
        compaction: CompactionOptions | Mapping[str, int] | None = None,
        adaptive: AdaptiveOptions | Mapping[str, float] | None = None,
        min_ts: int | None = None,
        mostly_ordered_default: bool = True,
    ) -> None: ...
    @classmethod
    def for_streaming(cls, **overrides: Unpack[TimelogOptions]) -> Self: ...
    @classmethod
    def for_bulk_ingest(cls, **overrides: Unpack[TimelogOptions]) -> Self: ...
    @classmethod
    def for_low_latency(cls, **overrides: Unpack[TimelogOptions]) -> Self: ...
    @property
    def closed(self) -> bool: ...
    @property
    def time_unit(self) -> TimeUnit: ...
    @property
    def maintenance_mode(self) -> MaintenanceMode: ...
    @property
    def busy_policy(self) -> BusyPolicy: ...
    @property
    def retired_queue_len(self) -> int: ...
    @property
    def alloc_failures(self) -> int: ...
    # writes
    # append(obj), append(obj, ts=T) or append(T, obj)
    @overload
    def append(self, a: Any, *, ts: Timestamp = ...) -> None: ...
    @overload
    def append(self, a: Timestamp, b: Any) -> None: ...
    def __setitem__(self, key: Timestamp, value: Any) -> None: ...
    @overload
    def extend(
        self,
        data: Iterable[Sequence[Any]],
        *,
        mostly_ordered: bool | None = None,
        insert_on_error: bool = False,
    ) -> None: ...
    @overload
    def extend(
        self,
        data: Sequence[Timestamp] | Any,
        objects: Sequence[Any],
        *,
        mostly_ordered: bool | None = None,
        insert_on_error: bool = False,
    ) -> None: ...
    def delete(self, t1: Timestamp | None, t2: Timestamp | None = ...) -> None: ...
    def __delitem__(self, key: Timestamp | slice) -> None: ...
    def cutoff(self, ts: Timestamp) -> None: ...
    # reads
    def __getitem__(self, key: slice) -> TimelogIter: ...  # log[k] without a slice: TypeError
    def at(self, ts: Timestamp) -> list[Any]: ...
    def range(self, t1: Timestamp | None, t2: Timestamp | None, *, reverse: bool = False) -> TimelogIter: ...
    def since(self, t: Timestamp | None) -> TimelogIter: ...
    def until(self, t: Timestamp | None) -> TimelogIter: ...
    def all(self) -> TimelogIter: ...
    def equal(self, t: Timestamp) -> TimelogIter: ...
    def point(self, t: Timestamp) -> TimelogIter: ...
    def __iter__(self) -> TimelogIter: ...
    def __reversed__(self) -> TimelogIter: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object) -> bool: ...
    def min_ts(self) -> int | None: ...
    def max_ts(self) -> int | None: ...
    def next_ts(self, t: Timestamp) -> int | None: ...
    def prev_ts(self, t: Timestamp) -> int | None: ...
    def count(self, t1: Timestamp | None = None, t2: Timestamp | None = None) -> int: ...
    def first(self) -> Row | None: ...
    def last(self) -> Row | None: ...
    def asof(self, t: Timestamp) -> Row | None: ...
    def nearest(self, t: Timestamp) -> Row | None: ...
    def count_by(
        self, every: Duration, t1: Timestamp | None = None, t2: Timestamp | None = None, *,
        origin: Timestamp = 0,
    ) -> tuple[Any, Any]: ...  # (numpy int64 starts, numpy int64 counts)
    def timestamps(self, t1: Timestamp | None = None, t2: Timestamp | None = None) -> Any: ...  # numpy int64
    def to_numpy(self, t1: Timestamp | None = None, t2: Timestamp | None = None) -> tuple[Any, Any]: ...
    def views(self, t1: Timestamp | None = None, t2: Timestamp | None = None) -> PageSpanIter: ...
    def page_spans(self, t1: Timestamp | None = None, t2: Timestamp | None = None) -> PageSpanIter: ...
    # maintenance
    def flush(self) -> None: ...
    def compact(self) -> None: ...
    def maint_step(self) -> bool: ...
    def start_maintenance(self) -> None: ...
    def stop_maintenance(self) -> None: ...
    def stats(self) -> Stats: ...
    # lifecycle
    def close(self) -> None: ...
    def reopen(self, **overrides: Unpack[TimelogOptions]) -> None: ...
    # copies, pickling, files
    def __reduce_ex__(self, protocol: SupportsIndex, /) -> tuple[Any, ...]: ...
    def __copy__(self) -> Self: ...
    def __deepcopy__(self, memo: dict[int, Any] | None, /) -> Self: ...
    def save(self, path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> None: ...
    @classmethod
    def load(cls, path: str | bytes | os.PathLike[str] | os.PathLike[bytes], **overrides: Unpack[TimelogOptions]) -> Self: ...
    # exports and display (pandas / pyarrow / matplotlib are optional dependencies)
    def to_pandas(
        self, t1: Timestamp | None = None, t2: Timestamp | None = None, *, name: Any = None
    ) -> Any: ...  # pandas.Series
    def to_arrow(self, t1: Timestamp | None = None, t2: Timestamp | None = None) -> Any: ...  # pyarrow.Table
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def _repr_html_(self) -> str: ...
    def plot(
        self,
        every: int | None = None,
        t1: Timestamp | None = None,
        t2: Timestamp | None = None,
        *,
        ax: Any = None,
    ) -> Any: ...  # matplotlib.axes.Axes
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

@final
class TimelogIter(Iterator[Row]):
    # Made by iter(log), log[t1:t2], log.range(), ...; calling TimelogIter() raises TypeError.
    def __init__(self, *args: object, **kwargs: object) -> None: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Row: ...
    def __len__(self) -> int: ...
    def next_batch(self, n: SupportsIndex) -> list[Row]: ...
    def __reversed__(self) -> TimelogIter: ...  # TypeError once it has yielded rows
    def to_numpy(self) -> tuple[Any, Any]: ...  # (numpy int64, numpy object); consumes it
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

@final
class PageSpanIter(Iterator[PageSpan]):
    def __iter__(self) -> Self: ...
    def __next__(self) -> PageSpan: ...
    def __len__(self) -> int: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

@final
class PageSpan:
    @property
    def start_ts(self) -> int | None: ...
    @property
    def end_ts(self) -> int | None: ...
    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...
    def objects(self) -> PageSpanObjectsView: ...
    def copy_timestamps(self) -> list[int]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

@final
class PageSpanObjectsView(Sequence[Any]):
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: SupportsIndex, /) -> Any: ...
    @overload
    def __getitem__(self, key: slice, /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...

__all__ = ["Timelog", "TimelogError", "TimelogBusyError", "TimelogIter", "PageSpan",
           "PageSpanIter", "PageSpanObjectsView"]
