"""Type-checked (not run) by `tox -e stubtest`: mypy --strict --warn-unused-ignores.

Each `type: ignore[...]` marks a call the stub must reject: if the stub accepted it,
the ignore would be unused and mypy would fail."""
from timelog import Timelog, TimelogIter

log = Timelog(time_unit="us", maintenance="disabled", adaptive={"alpha": 0.5})
log.append("event")
log.append("event", ts=5)
log.append(5, "event")
log[6] = "x"
log.extend([(1, "a"), (2, "b")])
log.extend(range(3), ["a", "b", "c"], insert_on_error=True)
it: TimelogIter = log[1:5]
rows: list[tuple[int, object]] = list(it)
n: int = len(log)
bulk = Timelog.for_bulk_ingest(memtable_max_bytes=1 << 24)
bulk.reopen  # a method
Timelog.for_bulk_ingest(memtable_bytes=1)  # type: ignore[call-arg]
Timelog(time_unit="hours")  # type: ignore[arg-type]
Timelog.for_streaming(busy_policy="later")  # type: ignore[arg-type]
log.close()
