# Copies, pickling, files, exports and display: thin hooks onto the plain-Python
# modules _persist.py, _export.py and _display.py.


cdef class _LogInterop(_LogCore):
    """Copies, pickling, files, exports and the notebook view of a Timelog
    (internal base class: construct ``Timelog``)."""

    def __reduce_ex__(self, protocol):
        """Pickle support: the options and the visible records (deleted records
        are not written). With protocol 5 the timestamp column is a
        ``pickle.PickleBuffer`` (out-of-band with a ``buffer_callback``);
        payloads are pickled as a list. Pickling a closed log raises
        ``TimelogError``.

        >>> import pickle
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled", time_unit="us")
        >>> log.extend([(2, "b"), (1, "a"), (2, "c")])
        >>> log.delete(1)
        >>> copy = pickle.loads(pickle.dumps(log))
        >>> list(copy), copy.time_unit
        ([(2, 'b'), (2, 'c')], 'us')
        >>> copy.close(); log.close()
        """
        from timelog import _persist
        return _persist.reduce_log(self, protocol, self._options)

    def __copy__(self):
        """``copy.copy(log)``: a new open log with the same options and visible
        records; the payload objects are shared, not copied.

        >>> import copy
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.append(1, ["payload"])
        >>> twin = copy.copy(log)
        >>> twin.at(1)[0] is log.at(1)[0]
        True
        >>> twin.close(); log.close()
        """
        from timelog import _persist
        return _persist.copy_log(self, self._options, None)

    def __deepcopy__(self, memo):
        """``copy.deepcopy(log)``: like ``copy.copy`` but the payloads are deep
        copies (the ``memo`` is honoured: an object stored twice is copied once).

        >>> import copy
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> shared = ["payload"]
        >>> log.extend([(1, shared), (2, shared)])
        >>> twin = copy.deepcopy(log)
        >>> a, b = twin.at(1)[0], twin.at(2)[0]
        >>> a == shared, a is shared, a is b
        (True, False, True)
        >>> twin.close(); log.close()
        """
        from timelog import _persist
        return _persist.copy_log(self, self._options, memo)

    def save(self, path):
        """Write the options and the visible records to the file ``path``
        (format: docs/file-format.md), atomically: a temporary file in the same
        directory is written in bounded blocks, fsynced and renamed over
        ``path``, so on any failure a previous file at ``path`` is intact.
        Payloads are pickled. Raises ``TimelogError`` on a closed log,
        ``OSError`` for I/O errors and whatever pickling a payload raises.

        >>> import os, tempfile
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, {"b": 2})])
        >>> path = os.path.join(tempfile.mkdtemp(), "events.tlog")
        >>> log.save(path)
        >>> loaded = Timelog.load(path)
        >>> list(loaded)
        [(1, 'a'), (2, {'b': 2})]
        >>> loaded.close(); log.close()
        """
        from timelog import _persist
        _persist.save(self, path, self._options)

    @classmethod
    def load(cls, path, **overrides):
        """A new open log with the options and records of a file written by
        ``save()``; ``overrides`` replace saved options (as in ``reopen``).

        Every section's length and checksum is verified; a missing, empty,
        truncated, corrupted or newer-version file, or a directory, raises
        ``TimelogError`` naming the problem, and no log is returned. **Loading
        runs pickle on the payloads: load only files you trust.**

        >>> import os, tempfile
        >>> from timelog import Timelog, TimelogError
        >>> path = os.path.join(tempfile.mkdtemp(), "empty.tlog")
        >>> open(path, "wb").close()
        >>> Timelog.load(path)
        Traceback (most recent call last):
          ...
        timelog.TimelogError: ...empty.tlog': empty file (0 bytes), not a timelog file
        >>> log = Timelog(maintenance="disabled", time_unit="s")
        >>> log.append(5, "x"); log.save(path); log.close()
        >>> loaded = Timelog.load(path, maintenance="background")
        >>> loaded.time_unit, loaded.maintenance_mode, loaded.at(5)
        ('s', 'background', ['x'])
        >>> loaded.close()
        """
        from timelog import _persist
        return _persist.load(cls, path, overrides)

    # ------------------------------------------------------------ exports and display
    # Thin hooks; the logic is plain Python in timelog/_export.py (pandas, Arrow)
    # and timelog/_display.py (Jupyter view, plot).

    def to_pandas(self, t1=None, t2=None, *, name=None):
        """``pandas.Series`` of the objects in ``[t1, t2)`` (``None`` = unbounded),
        indexed by a ``DatetimeIndex`` named ``"ts"`` of dtype
        ``datetime64[<time_unit>]`` (naive, UTC).

        The values are the stored objects themselves, not copies, in read order
        (equal timestamps in insertion order, duplicates kept); ``name`` names the
        Series. It owns its references and outlives ``close()``. The timestamp
        ``-2**63`` is numpy's ``NaT``. Needs pandas: ``ImportError`` naming
        ``pip install 'timelog[pandas]'`` without it.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled", time_unit="s")
        >>> log.extend([(1_700_000_060, "b"), (1_700_000_000, "a"), (1_700_000_060, "c")])
        >>> s = log.to_pandas(name="event")
        >>> s
        ts
        2023-11-14 22:13:20    a
        2023-11-14 22:14:20    b
        2023-11-14 22:14:20    c
        Name: event, dtype: object
        >>> str(s.index.dtype), len(log.to_pandas(1_700_000_001))
        ('datetime64[s]', 2)
        >>> log.close()
        """
        from timelog import _export
        return _export.to_pandas(self, t1, t2, name)

    def to_arrow(self, t1=None, t2=None):
        """``pyarrow.Table`` of the records in ``[t1, t2)`` (``None`` = unbounded),
        in read order, with the columns ``ts`` (``timestamp[<time_unit>]``, naive,
        UTC) and ``value`` (the payloads converted by pyarrow's type inference).

        A payload that pyarrow cannot convert (or not together with the ones
        before it) raises ``TypeError`` naming its timestamp. The table holds
        Arrow data, no references to the payloads. Needs pyarrow: ``ImportError``
        naming ``pip install 'timelog[arrow]'`` without it.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(2, 20.5), (1, 10.0), (3, None)])
        >>> t = log.to_arrow()
        >>> t.schema
        ts: timestamp[ms]
        value: double
        >>> t.column("value").to_pylist()
        [10.0, 20.5, None]
        >>> log.close()
        """
        from timelog import _export
        return _export.to_arrow(self, t1, t2)

    def __arrow_c_stream__(self, requested_schema=None):
        """Arrow PyCapsule interface: every record as a stream with the columns of
        ``to_arrow()``, so ``pyarrow.table(log)``, ``polars.DataFrame(log)`` and
        DuckDB (``duckdb.sql("select count(*) from log")``) read the log directly.

        >>> import pyarrow
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "a"), (2, "b")])
        >>> pyarrow.table(log).column("value").to_pylist()
        ['a', 'b']
        >>> log.close()
        """
        from timelog import _export
        return _export.arrow_c_stream(self, requested_schema)

    def _repr_html_(self):
        """Jupyter's view of the log: record count, time span as UTC dates, the
        storage layers from ``stats()``, the options that differ from the
        defaults, and the first and last 5 records (each payload's repr cut to 80
        characters and HTML-escaped). A closed log shows as closed.

        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled")
        >>> log.extend([(1, "<b>"), (2, "b")])
        >>> page = log._repr_html_()
        >>> "<b>2</b> records" in page, "&#x27;&lt;b&gt;&#x27;" in page
        (True, True)
        >>> log.close(); "closed" in log._repr_html_()
        True
        """
        from timelog import _display
        return _display.repr_html(self, self._options)

    def plot(self, every=None, t1=None, t2=None, *, ax=None):
        """Bar chart (matplotlib) of the number of records per bucket of ``every``
        time units over ``[t1, t2)``, dates on the x axis; returns the ``Axes``.

        Buckets are ``[k * every, (k + 1) * every)``. Without ``every`` a round width
        giving about 100 buckets is chosen (1/2/5 x 10^k of the unit below a
        second, else 1 s, 2 s, 5 s, ... 1 min, ... 1 h, ... 1 day, ...). Draws on
        ``ax`` if given, else on a new figure. Needs matplotlib and numpy:
        ``ImportError`` naming ``pip install 'timelog[plot]'`` without them.

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from timelog import Timelog
        >>> log = Timelog(maintenance="disabled", time_unit="s")
        >>> log.extend((1_700_000_000 + 7 * i, i) for i in range(1000))
        >>> ax = log.plot()
        >>> ax.get_ylabel(), len(ax.patches)
        ('records per 1 min', 117)
        >>> log.close()
        """
        from timelog import _display
        return _display.plot(self, every, t1, t2, ax)
