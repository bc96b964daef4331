"""A time-partitioned ``Timelog`` spread over the workers of a Dask cluster.

``ShardedTimelog(client, bucket=...)`` starts one Dask actor per shard, each owning
a plain ``Timelog`` in its worker's memory, and offers the ``Timelog`` API on top.

Partitioning: a record at ``ts`` belongs to the time bucket
``b = floor((ts - origin) / bucket)`` (covering ``[origin + b*bucket,
origin + (b+1)*bucket)``), and bucket ``b`` lives on shard ``b mod shards``
(Python's modulo, so negative buckets map to ``0 .. shards-1`` too). Every record
of one bucket is on one shard, so equal timestamps keep their insertion order and
a read of one bucket is one snapshot of one shard.

Consistency: each call to a shard sees a snapshot of that shard; a read spanning
several shards (``len``, ``range``, ``to_pandas``, ``count_by`` ...) is not
atomic against writes running concurrently from other clients. ``extend`` sends
one batch per shard in parallel; if one shard fails, the batches of the others
stay applied (the error names the failed shard).

Failures: a lost worker loses its shard's in-memory records. The next call that
needs that shard raises ``timelog.TimelogError`` naming the shard, its worker and
the Dask error; no call returns partial results silently. ``save(directory)``
writes one file per shard on each worker's file system, to reload after a loss.

Needs dask.distributed, numpy and pandas: ``pip install 'timelog[distributed]'``.
"""

import itertools
import json
import operator
import os
import pickle

try:
    import numpy as np
    import pandas as pd
    import dask
    import dask.dataframe as dd
    import distributed
except ImportError as exc:          # pragma: no cover - exercised without dask
    raise ImportError(
        "timelog.distributed needs dask.distributed, numpy and pandas, which are not "
        f"all installed ({exc}): pip install 'timelog[distributed]'") from exc

from timelog import Timelog, TimelogError
from timelog import _persist

__all__ = ["ShardedTimelog", "ShardedIter", "ShardActor"]

_MIN = -(1 << 63)
_MAX = (1 << 63) - 1
_MISSING = object()
_END = 1 << 63          # exclusive upper bound standing for "unbounded" (includes _MAX)

# Errors raised by the Timelog on a shard for bad arguments: re-raised as they are.
# Anything else (a lost worker, a comm failure, an engine error) becomes TimelogError.
_ARGUMENT_ERRORS = (TypeError, ValueError, OverflowError)


def _floor_div(ts, width, origin):
    """``floor((ts - origin) / width)`` mod nothing, as int64 parts that cannot
    overflow: returns ``(a, q, borrow)`` with the result ``a - q - borrow``."""
    return ts // width, origin // width, (ts % width < origin % width).astype(np.int64)


def _ts(value, what="timestamp"):
    """A timestamp argument as a Python int in int64 range."""
    try:
        t = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}") from None
    if not _MIN <= t <= _MAX:
        raise OverflowError(f"{what} {t} is outside the signed 64-bit range")
    return t


def _bounds(t1, t2):
    """``[lo, hi)`` as Python ints for ``range(t1, t2)`` (``None`` = unbounded)."""
    lo = _MIN if t1 is None else _ts(t1, "t1")
    hi = _END if t2 is None else _ts(t2, "t2")
    return lo, hi


def _arg(hi):
    """An exclusive upper bound as a Timelog argument (``None`` when unbounded)."""
    return None if hi >= _END else hi


class ShardActor:
    """The Dask actor owning one shard: a ``Timelog`` in its worker's memory.

    Its methods run one at a time in the worker's actor thread. Open cursors
    (``open``/``more``) hold a snapshot of the shard until exhausted or closed.
    """

    def __init__(self, index, options, path=None):
        self.index = index
        self.log = Timelog(**options) if path is None else Timelog.load(path, **options)
        self._cursors = {}
        self._ids = itertools.count()

    # writes
    def append(self, ts, obj):
        self.log.append(ts, obj)

    def extend(self, blob, mostly_ordered=None):
        """``blob``: ``pickle.dumps((timestamps, objects))``. One bytes argument is
        much cheaper for Dask's comms than a list it would serialize item by item."""
        ts, objs = pickle.loads(blob)
        self.log.extend(ts, objs, mostly_ordered=mostly_ordered)
        return len(objs)

    def delete(self, t1, t2):
        self.log.delete(t1, t2)

    def cutoff(self, ts):
        self.log.cutoff(ts)

    # reads
    def where(self):
        return os.getpid(), distributed.get_worker().address

    def at(self, ts):
        return self.log.at(ts)

    def count(self, t1, t2):
        return self.log.count(t1, t2)

    def count_by(self, every, t1, t2, origin):
        return self.log.count_by(every, t1, t2, origin=origin)

    def first(self, lo, hi):
        """The smallest timestamp in ``[lo, hi)``, or ``None``."""
        if lo >= hi:
            return None
        t = self.log.min_ts() if lo == _MIN else self.log.next_ts(lo - 1)
        return t if t is not None and t < hi else None

    def last(self, lo, hi):
        """The largest timestamp in ``[lo, hi)``, or ``None``."""
        if lo >= hi:
            return None
        t = self.log.max_ts() if hi >= _END else self.log.prev_ts(hi)
        return t if t is not None and t >= lo else None

    def bounds(self):
        return self.log.min_ts(), self.log.max_ts()

    def open(self, lo, hi, n, after_lo, after_hi):
        """Start reading ``[lo, hi)``: ``(cursor, rows, next)`` with the first ``n``
        rows, a cursor id for ``more`` (``None`` if that was all) and the smallest
        timestamp of ``[after_lo, after_hi)`` (where the caller goes next)."""
        it = self.log.range(lo, _arg(hi))
        rows = it.next_batch(n)
        cid = None
        if len(it):
            cid = next(self._ids)
            self._cursors[cid] = it
        else:
            it.close()
        return cid, _pack(rows), self.first(after_lo, after_hi)

    def more(self, cid, n):
        """The next ``n`` rows of cursor ``cid``: ``(rows, done)``."""
        it = self._cursors[cid]
        rows = it.next_batch(n)
        if len(it):
            return _pack(rows), False
        del self._cursors[cid]
        it.close()
        return _pack(rows), True

    def close_cursor(self, cid):
        it = self._cursors.pop(cid, None)
        if it is not None:
            it.close()

    def to_pandas(self, t1, t2, name):
        return self.log.to_pandas(t1, t2, name=name)

    def frame(self, lo, hi):
        """``pandas.DataFrame`` (columns ``ts``, ``value``; index the timestamps)."""
        ts, objs = self.log.to_numpy(lo, _arg(hi))
        return _frame(ts, objs)

    def stats(self):
        return self.log.stats()

    def save(self, path):
        self.log.save(path)
        return path

    def save_layout(self, path, layout):
        """Write the ShardedTimelog's layout (a JSON text) next to the shard files,
        atomically, as ``Timelog.save`` writes its file."""
        with _persist.atomic_file(path, buffering=-1) as f:
            f.write(layout.encode("utf-8"))
        return path

    def close(self):
        for it in self._cursors.values():
            it.close()
        self._cursors.clear()
        self.log.close()


def _pack(value):
    """``value`` as one bytes object: Dask's comms serialize a list item by item,
    far slower. cloudpickle (what Dask falls back to) for what pickle refuses."""
    try:
        return pickle.dumps(value, protocol=5)
    except Exception:
        import cloudpickle
        return cloudpickle.dumps(value, protocol=5)


def _frame(ts, objs):
    ts = np.asarray(ts, dtype=np.int64)
    return pd.DataFrame({"ts": ts, "value": pd.Series(objs, dtype=object, index=ts)},
                        index=pd.Index(ts, dtype=np.int64))


_LAYOUT = "layout.json"


def _read_layout(path):
    """The layout ``save`` wrote, checked (runs on a worker)."""
    try:
        with open(path, encoding="utf-8") as f:
            layout = json.load(f)
    except FileNotFoundError:
        raise TimelogError(f"{path} does not exist: not a directory written by "
                           "ShardedTimelog.save()") from None
    except (OSError, ValueError) as exc:
        raise TimelogError(f"{path} is not a readable layout: {exc}") from exc
    ok = (isinstance(layout, dict) and layout.get("format") == "timelog.distributed"
          and all(type(layout.get(k)) is int for k in ("bucket", "origin", "shards")))
    if not ok:
        raise TimelogError(f"{path} is not a ShardedTimelog layout")
    if layout.get("version") != 1:
        raise TimelogError(f"{path} has layout version {layout.get('version')!r}; "
                           "this timelog reads version 1")
    if layout["bucket"] <= 0 or layout["shards"] <= 0:
        raise TimelogError(f"{path} has an invalid bucket or shard count")
    return layout


def _read_partition(actor, lo, hi):
    """A ``to_dask_dataframe`` partition, read by the actor owning its bucket."""
    return actor.frame(lo, hi).result()


class ShardedTimelog:
    """A ``Timelog`` partitioned by time buckets over Dask actors (one per shard).

    ``ShardedTimelog(client, bucket=B, origin=0, shards=None, **options)``: records
    at ``ts`` go to bucket ``floor((ts - origin) / B)``, bucket ``b`` to shard
    ``b mod shards``. ``shards`` defaults to the number of workers; shard ``i`` is
    pinned to the ``i``-th worker (sorted by address, round robin). ``options`` are
    the keyword options of ``Timelog()`` for every shard.
    """

    def __init__(self, client, *, shards=None, bucket, origin=0, prefetch_rows=4096,
                 _paths=None, **options):
        if isinstance(bucket, bool) or isinstance(shards, bool):
            raise TypeError("bucket and shards must be integers, not bool")
        self._bucket = operator.index(bucket)
        if self._bucket <= 0:
            raise ValueError(f"bucket must be > 0, got {self._bucket}")
        self._origin = _ts(origin, "origin")
        self._batch = operator.index(prefetch_rows)
        if self._batch <= 0:
            raise ValueError(f"prefetch_rows must be > 0, got {self._batch}")
        # Validate the options here, where the error is readable, not on a worker.
        probe = Timelog(**options)
        self._time_unit = probe.time_unit
        probe.close()
        self._client = client
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ValueError("the Dask cluster has no workers")
        n = len(workers) if shards is None else operator.index(shards)
        if n <= 0:
            raise ValueError(f"shards must be > 0, got {n}")
        self._shards = n
        self._workers = [workers[i % len(workers)] for i in range(n)]
        if _paths is not None and len(_paths) != n:
            raise ValueError(f"the saved layout has {len(_paths)} shards, not {n}")
        futures = [
            client.submit(ShardActor, i, dict(options),
                          None if _paths is None else _paths[i], actor=True, workers=[w],
                          allow_other_workers=False, pure=False)
            for i, w in enumerate(self._workers)]
        self._futures = futures
        self._actors = []
        try:
            for i, f in enumerate(futures):
                self._actors.append(self._wait(i, f))
        except BaseException:
            client.cancel(futures)      # no shard outlives a failed construction
            raise
        self._closed = False

    # ------------------------------------------------------------ plumbing

    @property
    def shards(self):
        return self._shards

    @property
    def bucket(self):
        return self._bucket

    @property
    def origin(self):
        return self._origin

    @property
    def workers(self):
        """The worker address of each shard, by shard index."""
        return list(self._workers)

    @property
    def closed(self):
        return self._closed

    def _wait(self, i, future):
        try:
            return future.result()
        except _ARGUMENT_ERRORS:
            raise
        except Exception as exc:
            raise TimelogError(
                f"shard {i} (worker {self._workers[i]}) failed: "
                f"{type(exc).__name__}: {exc}") from exc

    def _call(self, i, method, *args):
        """Start ``method(*args)`` on shard ``i``; returns its ActorFuture."""
        self._check()
        try:
            return getattr(self._actors[i], method)(*args)
        except Exception as exc:
            raise TimelogError(
                f"shard {i} (worker {self._workers[i]}) failed: "
                f"{type(exc).__name__}: {exc}") from exc

    def _all(self, method, *args, shards=None):
        """``method(*args)`` on every shard (or ``shards``) in parallel: results in
        shard order. Every call is awaited before the first error is raised."""
        shards = range(self._shards) if shards is None else shards
        return self._gather([(i, self._call(i, method, *args)) for i in shards])

    def _gather(self, futures):
        """Results of ``(shard, future)`` pairs in their order; every future is
        awaited before the first error is raised."""
        results, error = [], None
        for i, f in futures:
            try:
                results.append(self._wait(i, f))
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error
        return results

    def _check(self):
        if self._closed:
            raise TimelogError("the ShardedTimelog is closed")

    def bucket_of(self, ts):
        """The bucket index of timestamp ``ts``."""
        return (_ts(ts) - self._origin) // self._bucket

    def shard_of(self, ts):
        """The shard index owning timestamp ``ts``."""
        return self.bucket_of(ts) % self._shards

    def _bucket_span(self, b, lo, hi):
        start = self._origin + b * self._bucket
        return max(start, lo), min(start + self._bucket, hi)

    # ------------------------------------------------------------ writes

    def append(self, *args, ts=None):
        """``append(ts, obj)`` or ``append(obj, ts=ts)``: one record, to its shard."""
        if ts is not None:
            if len(args) != 1:
                raise TypeError("append(obj, ts=ts) takes one positional argument")
            obj = args[0]
        elif len(args) == 2:
            ts, obj = args
        else:
            raise TypeError("ShardedTimelog.append needs append(ts, obj) or append(obj, ts=ts)")
        t = _ts(ts)
        i = self.shard_of(t)
        self._wait(i, self._call(i, "append", t, obj))

    def __setitem__(self, ts, obj):
        self.append(ts, obj)

    def extend(self, *args, mostly_ordered=None):
        """``extend(pairs)`` or ``extend(timestamps, objects)``: one batch per shard,
        sent in parallel; every batch is awaited, then the first error raised."""
        if len(args) == 1:
            pairs = [tuple(p) for p in args[0]]
            if any(len(p) != 2 for p in pairs):
                raise ValueError("extend(pairs) needs (timestamp, object) pairs")
            tss = [p[0] for p in pairs]
            objs = [p[1] for p in pairs]
        elif len(args) == 2:
            tss, objs = args
            objs = list(objs)
        else:
            raise TypeError("extend takes extend(pairs) or extend(timestamps, objects)")
        ts = self._ts_array(tss)
        if len(ts) != len(objs):
            raise ValueError(f"extend: {len(ts)} timestamps but {len(objs)} objects")
        if len(ts) == 0:
            self._check()
            return
        shard = self._shard_array(ts)
        order = np.argsort(shard, kind="stable")
        cuts = np.searchsorted(shard[order], np.arange(self._shards + 1))
        futures = []
        objs_arr = np.empty(len(objs), dtype=object)
        objs_arr[:] = objs
        for i in range(self._shards):
            a, b = cuts[i], cuts[i + 1]
            if a == b:
                continue
            idx = order[a:b]
            blob = _pack((ts[idx], objs_arr[idx].tolist()))
            futures.append((i, self._call(i, "extend", blob, mostly_ordered)))
        error = None
        for i, f in futures:
            try:
                self._wait(i, f)
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error

    @staticmethod
    def _ts_array(tss):
        if isinstance(tss, np.ndarray) and tss.dtype.kind in "iu":
            if tss.dtype.kind == "u" and len(tss) and tss.max() > _MAX:
                raise OverflowError("a timestamp is outside the signed 64-bit range")
            return np.ascontiguousarray(tss, dtype=np.int64).ravel()
        return np.array([_ts(t) for t in tss], dtype=np.int64)

    def _shard_array(self, ts):
        a, q, borrow = _floor_div(ts, self._bucket, self._origin)
        s = self._shards
        return (a % s - q % s - borrow) % s

    def delete(self, t1, t2=_MISSING, *more):
        """``delete(ts)`` or ``delete(t1, t2)`` (``[t1, t2)``, ``None`` = unbounded),
        sent to the shards whose buckets the range overlaps (all of them when it
        spans ``shards`` buckets or more)."""
        if more:
            raise TypeError("delete takes delete(ts) or delete(t1, t2)")
        if t2 is _MISSING:
            t = _ts(t1)
            self._delete(t, t + 1, t, t + 1 if t < _MAX else None)
            return
        lo, hi = _bounds(t1, t2)
        if lo > hi and t2 is not None:
            raise ValueError(f"delete: t1 > t2 ({lo} > {hi})")
        if lo == hi:
            return
        self._delete(lo, hi, t1, t2)

    def _delete(self, lo, hi, t1, t2):
        b1 = (lo - self._origin) // self._bucket
        b2 = (hi - 1 - self._origin) // self._bucket
        if b2 - b1 + 1 >= self._shards:
            shards = range(self._shards)
        else:
            shards = sorted({b % self._shards for b in range(b1, b2 + 1)})
        self._all("delete", t1, t2, shards=shards)

    def __delitem__(self, key):
        if isinstance(key, slice):
            if key.step is not None:
                raise ValueError("del log[t1:t2] takes no step")
            self.delete(key.start, key.stop)
        else:
            self.delete(key)

    def cutoff(self, ts):
        """Delete every record ``< ts`` on every shard."""
        self._all("cutoff", _ts(ts))

    # ------------------------------------------------------------ reads

    def at(self, ts):
        """The objects at exactly ``ts``, in insertion order."""
        t = _ts(ts)
        i = self.shard_of(t)
        return self._wait(i, self._call(i, "at", t))

    def __getitem__(self, key):
        if isinstance(key, slice):
            if key.step is not None:
                raise ValueError("log[t1:t2] takes no step")
            return self.range(key.start, key.stop)
        raise TypeError(
            f"ShardedTimelog is not a sequence: log[{key!r}] would read as position "
            f"{key!r}; use log.at({key!r}) for the objects at a timestamp, or "
            "log[t1:t2] for a time range")

    def __contains__(self, ts):
        return bool(self.at(ts))

    def range(self, t1, t2):
        """``ShardedIter`` over ``[t1, t2)`` in timestamp order (``None`` = unbounded)."""
        lo, hi = _bounds(t1, t2)
        self._check()
        return ShardedIter(self, lo, hi)

    def __iter__(self):
        return self.range(None, None)

    def count(self, t1=None, t2=None):
        """Number of records in ``[t1, t2)``, summed over the shards."""
        lo, hi = _bounds(t1, t2)
        if lo >= hi:
            return 0
        return sum(self._all("count", lo, _arg(hi)))

    def __len__(self):
        return self.count()

    def count_by(self, every, t1=None, t2=None, *, origin=0):
        """``(starts, counts)`` like ``Timelog.count_by()``: int64 arrays of every
        bucket ``[origin + k*every, origin + (k+1)*every)`` covering ``[t1, t2)``
        (empty buckets included; a ``None`` bound stops at the first or last
        record of all shards), counts summed over the shards."""
        if isinstance(every, bool):
            raise TypeError("every must be an integer, not bool")
        every = operator.index(every)
        if every <= 0:
            raise ValueError(f"count_by() needs every > 0, got every={every!r}")
        origin = _ts(origin, "origin")
        lo, hi = _bounds(t1, t2)
        empty = np.empty(0, dtype=np.int64)
        if t1 is None or t2 is None:
            found = [b for b in self._all("bounds") if b[0] is not None]
            if not found:
                return empty, empty.copy()
            if t1 is None:
                lo = min(b[0] for b in found)
            if t2 is None:
                hi = max(b[1] for b in found) + 1
        if lo >= hi:
            return empty, empty.copy()
        # Every shard gets the same explicit lower bound, so each answer is a
        # prefix of the same bucket grid (a shard asked with t2=None stops at its
        # own last record); the longest is the whole grid.
        parts = self._all("count_by", every, lo, _arg(hi), origin)
        starts = max((p[0] for p in parts), key=len, default=empty)
        counts = np.zeros(len(starts), dtype=np.int64)
        for _, c in parts:
            counts[:len(c)] += c
        return starts.astype(np.int64), counts

    def min_ts(self):
        """Smallest timestamp over the shards, or ``None``."""
        found = [lo for lo, _ in self._all("bounds") if lo is not None]
        return min(found) if found else None

    def max_ts(self):
        """Largest timestamp over the shards, or ``None``."""
        found = [hi for _, hi in self._all("bounds") if hi is not None]
        return max(found) if found else None

    def to_pandas(self, t1=None, t2=None, *, name=None):
        """``pandas.Series`` of ``[t1, t2)`` like ``Timelog.to_pandas()``: the shards'
        Series concatenated in time order (ties stay in insertion order: they are
        on one shard)."""
        lo, hi = _bounds(t1, t2)
        parts = self._all("to_pandas", lo, _arg(hi), name) if lo < hi else \
            self._all("to_pandas", 0, 0, name)
        s = pd.concat(parts)
        order = np.argsort(s.index.asi8, kind="stable")
        return s.iloc[order]

    def to_dask_dataframe(self, t1=None, t2=None):
        """``dask.dataframe.DataFrame`` of ``[t1, t2)`` with columns ``ts`` (int64)
        and ``value`` (object), indexed by the int64 timestamps. One partition per
        non-empty bucket, read by its shard's actor; divisions are known and fall
        on bucket boundaries (clipped to ``t1``; the last is the largest timestamp)."""
        lo, hi = _bounds(t1, t2)
        meta = _frame(np.empty(0, dtype=np.int64), [])
        starts = np.empty(0, dtype=np.int64)
        last = None
        if lo < hi:
            grid, counts = self.count_by(self._bucket, t1, t2, origin=self._origin)
            starts = grid[counts > 0]
            if len(starts):
                lasts = [t for t in self._all("last", lo, hi) if t is not None]
                last = max(lasts) if lasts else None
        if last is None:
            return dd.from_pandas(meta, npartitions=1)
        args, divisions = [], []
        for start in starts.tolist():
            b = (start - self._origin) // self._bucket
            a, z = self._bucket_span(b, lo, hi)
            i = b % self._shards
            args.append((self._actors[i], a, z))
            divisions.append(a)
        divisions.append(last)
        with dask.config.set({"dataframe.convert-string": False}):
            return dd.from_map(_read_partition, *zip(*args), meta=meta,
                               divisions=tuple(divisions), enforce_metadata=False)

    def stats(self):
        """``{shard index: Timelog.stats() of that shard}``."""
        return dict(enumerate(self._all("stats")))

    def where(self):
        """``{shard index: (pid, worker address)}`` of each shard's actor."""
        return dict(enumerate(self._all("where")))

    def save(self, directory):
        """Save each shard to ``directory/shard-<i>.timelog`` on its worker's file
        system (``Timelog.save``) and the layout (``bucket``, ``origin``, ``shards``)
        to ``directory/layout.json`` on shard 0's worker; returns the shard files'
        paths by shard index. ``ShardedTimelog.load`` reads them back."""
        directory = os.fspath(directory)
        paths = dict(enumerate(self._all_indexed(
            "save", lambda i: os.path.join(directory, f"shard-{i}.timelog"))))
        layout = json.dumps({"format": "timelog.distributed", "version": 1,
                             "bucket": self._bucket, "origin": self._origin,
                             "shards": self._shards})
        self._wait(0, self._call(0, "save_layout", os.path.join(directory, _LAYOUT),
                                 layout))
        return paths

    @classmethod
    def load(cls, client, directory, *, prefetch_rows=4096, **overrides):
        """A ``ShardedTimelog`` from a directory written by ``save``: the same
        ``bucket``, ``origin`` and number of shards, shard ``i`` loaded by
        ``Timelog.load(directory/shard-<i>.timelog, **overrides)`` on the worker it is
        placed on (so every worker must be able to read ``directory``: the same
        machine or a shared file system). Like ``Timelog.load``, this runs pickle on
        the payloads: load only files you trust. A missing or malformed layout or
        shard file raises ``TimelogError`` naming it, and no actor is left behind."""
        directory = os.fspath(directory)
        try:
            layout = client.submit(_read_layout, os.path.join(directory, _LAYOUT),
                                   pure=False).result()
        except TimelogError:
            raise
        except Exception as exc:
            raise TimelogError(f"ShardedTimelog.load({directory!r}): cannot read "
                               f"{_LAYOUT}: {type(exc).__name__}: {exc}") from exc
        n = layout["shards"]
        paths = [os.path.join(directory, f"shard-{i}.timelog") for i in range(n)]
        try:
            return cls(client, shards=n, bucket=layout["bucket"], origin=layout["origin"],
                       prefetch_rows=prefetch_rows, _paths=paths, **overrides)
        except TimelogError as exc:
            raise TimelogError(f"ShardedTimelog.load({directory!r}): {exc}") from exc

    def _all_indexed(self, method, arg_of):
        """``method(arg_of(i))`` on every shard ``i`` in parallel, as ``_all``."""
        return self._gather([(i, self._call(i, method, arg_of(i)))
                             for i in range(self._shards)])

    # ------------------------------------------------------------ lifecycle

    def close(self):
        """Close every shard's Timelog and release the actors (idempotent)."""
        if self._closed:
            return
        try:
            self._all("close")
        finally:
            self._closed = True
            for f in self._futures:
                f.release()
            self._actors = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __repr__(self):
        state = "closed" if self._closed else f"{self._shards} shards"
        return (f"<ShardedTimelog {state}, bucket={self._bucket}, origin={self._origin}, "
                f"time_unit={self._time_unit!r}>")


class ShardedIter:
    """Iterator over ``[lo, hi)`` of a ``ShardedTimelog`` in timestamp order.

    Reads bucket by bucket from the owning shard, ``prefetch_rows`` rows per call,
    with at most two calls in flight: the next batch of the current bucket and the
    first batch of the next non-empty bucket. Each shard reports its next non-empty
    timestamp along with a bucket's first batch, so empty buckets cost nothing.
    """

    def __init__(self, owner, lo, hi):
        self._owner = owner
        self._lo, self._hi = lo, hi
        self._n = owner._batch
        self._rows = []
        self._pos = 0
        self._cur = None        # (shard, cursor id, future of its next batch)
        self._open = None       # (shard, future of the next bucket's first batch)
        self._done = lo >= hi
        self._nexts = {}
        if not self._done:
            firsts = owner._all("first", lo, hi)
            self._nexts = {i: t for i, t in enumerate(firsts) if t is not None}
            self._issue_open()

    def _issue_open(self):
        if not self._nexts:
            self._open = None
            return
        i, t = min(self._nexts.items(), key=lambda kv: kv[1])
        o = self._owner
        a, z = o._bucket_span((t - o._origin) // o._bucket, self._lo, self._hi)
        del self._nexts[i]
        self._open = (i, o._call(i, "open", a, z, self._n, z, self._hi))

    def _fill(self):
        """Load the next batch into ``self._rows``; False when exhausted."""
        o = self._owner
        while True:
            if self._cur is not None:
                i, cid, fut = self._cur
                rows, done = o._wait(i, fut)
                rows = pickle.loads(rows)
                self._cur = None if done else (i, cid, o._call(i, "more", cid, self._n))
            elif self._open is not None:
                i, fut = self._open
                cid, rows, nxt = o._wait(i, fut)
                rows = pickle.loads(rows)
                if nxt is not None:
                    self._nexts[i] = nxt
                if cid is not None:
                    self._cur = (i, cid, o._call(i, "more", cid, self._n))
                self._issue_open()
            else:
                self._done = True
                return False
            if rows:
                self._rows, self._pos = rows, 0
                return True

    def __iter__(self):
        return self

    def __next__(self):
        if self._pos >= len(self._rows):
            if self._done or not self._fill():
                raise StopIteration
        row = self._rows[self._pos]
        self._pos += 1
        return row

    def next_batch(self, n):
        """Up to ``n`` more rows as a list (``[]`` when exhausted)."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"next_batch(n) needs n >= 0, got {n}")
        out = []
        while len(out) < n:
            if self._pos >= len(self._rows):
                if self._done or not self._fill():
                    break
            take = self._rows[self._pos:self._pos + n - len(out)]
            self._pos += len(take)
            out.extend(take)
        return out

    def close(self):
        """Stop reading: release the cursors held on the shards (idempotent)."""
        o = self._owner
        if self._cur is not None and not o._closed:
            i, cid, fut = self._cur
            try:
                fut.result()
                o._call(i, "close_cursor", cid).result()
            except Exception:
                pass
        if self._open is not None and not o._closed:
            i, fut = self._open
            try:
                cid = fut.result()[0]
                if cid is not None:
                    o._call(i, "close_cursor", cid).result()
            except Exception:
                pass
        self._cur = self._open = None
        self._nexts = {}
        self._rows, self._pos = [], 0
        self._done = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False
