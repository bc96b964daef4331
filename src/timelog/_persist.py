"""Copies, pickling and timelog files (``save``/``load``) of a ``Timelog``.

The ``Timelog`` methods ``__reduce_ex__``, ``__copy__``, ``__deepcopy__``,
``save`` and ``load`` are thin hooks in ``_core.pyx`` that call the functions
here. Every path takes the visible records in one pass over a snapshot
(``Timelog._next_columns``: an int64 timestamp column plus a list of payloads)
and rebuilds a log with a single ``extend(timestamps, objects)`` of an int64
buffer, so a copy, an unpickled log or a loaded log is complete or does not
exist. The file format is specified byte by byte in docs/file-format.md.
"""

from __future__ import annotations

import array
import contextlib
import copy as _copy
import errno
import io
import json
import operator
import os
import pickle
import secrets
import stat
import struct
import sys
import zlib
from collections.abc import Mapping

from timelog._core import Timelog, TimelogBusyError, TimelogError
from timelog._options import NAMES as _OPTION_NAMES

__all__ = ["reduce_log", "copy_log", "save", "load"]

# ----------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------

_NATIVE_IS_LE = sys.byteorder == "little"


def _to_le(col):
    """A native-endian int64 column (bytearray) as little-endian bytes-like."""
    if _NATIVE_IS_LE:
        return col
    a = array.array("q")
    a.frombytes(col)
    a.byteswap()
    return bytearray(a.tobytes())


def _int64_view(buf, what):
    """A native-endian int64 memoryview over little-endian bytes ``buf``."""
    try:
        mv = memoryview(buf)
    except TypeError:
        raise TypeError(f"{what} must be a bytes-like object, not {type(buf).__name__}") from None
    if not mv.c_contiguous:
        raise ValueError(f"{what} must be a contiguous buffer")
    mv = mv.cast("B")
    if mv.nbytes % 8:
        raise ValueError(f"{what} holds {mv.nbytes} bytes, not a multiple of 8 (int64)")
    if not _NATIVE_IS_LE:
        a = array.array("q")
        a.frombytes(mv)
        a.byteswap()
        return memoryview(a)
    return mv.cast("q")


def _plain(name, value):
    """An option value as plain JSON-able Python (numpy ints -> int, ...)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(f"{name}[{k!r}]", v) for k, v in value.items()}
    if hasattr(type(value), "__index__"):
        return operator.index(value)
    raise TypeError(f"option {name} has a value of type {type(value).__name__} "
                    "that cannot be written")


def _plain_options(options):
    return {k: _plain(k, v) for k, v in options.items()}


def _columns(log):
    """All visible records of ``log``: (native int64 bytearray, list of objects)."""
    it = log.all()
    try:
        return log._next_columns(it, len(it))
    finally:
        it.close()


def _new(cls, options):
    """A new, empty, open instance of ``cls`` (a Timelog subclass) with ``options``.

    Like pickle, this does not call a subclass's ``__init__``.
    """
    if not (isinstance(cls, type) and issubclass(cls, Timelog)):
        raise TypeError(f"expected a Timelog class, not {cls!r}")
    log = cls.__new__(cls)
    Timelog.__init__(log, **options)
    return log


def _fill(log, options, timestamps, objects):
    """Commit the records into the new, empty ``log``; on any error close it.

    ``timestamps`` is a native int64 buffer. With a ``min_ts`` option (an
    override of ``load``) records below it are dropped, as ``min_ts`` does to
    existing records. Under
    backpressure everything is committed anyway; then the log is flushed so it
    is handed out without pending pressure.
    """
    try:
        try:
            log.extend(timestamps, objects, insert_on_error=options.get("min_ts") is not None)
        except TimelogBusyError:
            log.flush()
    except BaseException:
        log.close()
        raise
    return log


def _instance_state(log):
    d = getattr(log, "__dict__", None)
    return dict(d) if d else None


# ----------------------------------------------------------------------------
# Pickling and copies
# ----------------------------------------------------------------------------


def reduce_log(log, protocol, options):
    """``Timelog.__reduce_ex__``: rebuild with ``_new_v1`` + ``_set_state_v1``.

    The records travel in the state (not in the constructor arguments), so the
    new log is memoised before its payloads are unpickled and a payload that
    refers back to the log is restored pointing at the new log.
    """
    if log.closed:
        raise TimelogError("cannot pickle a closed Timelog")
    ts, objs = _columns(log)
    ts = _to_le(ts)
    col = pickle.PickleBuffer(ts) if protocol >= 5 else bytes(ts)
    state = (col, objs, _instance_state(log))
    return (_new_v1, (type(log), _plain_options(options)), state, None, None, _set_state_v1)


def _new_v1(cls, options):
    """Unpickling, step 1: the empty log (pickle streams refer to this name)."""
    return _new(cls, options)


def _set_state_v1(log, state):
    """Unpickling, step 2: ``state`` = (little-endian int64 column, payload list,
    instance ``__dict__`` or None)."""
    try:
        col, objs, inst = state
        if inst:
            log.__dict__.update(inst)
        view = _int64_view(col, "the pickled timestamp column")
    except BaseException:
        log.close()
        raise
    _fill(log, {}, view, objs)   # strict: a pickled log holds no record below its min_ts


def copy_log(log, options, memo):
    """``copy.copy`` (``memo is None``: payloads shared) and ``copy.deepcopy``."""
    if log.closed:
        raise TimelogError("cannot copy a closed Timelog")
    ts, objs = _columns(log)
    new = _new(type(log), options)
    try:
        inst = _instance_state(log)
        if memo is not None:
            memo[id(log)] = new          # payloads referring to the log get the copy
            objs = _copy.deepcopy(objs, memo)
            if inst:
                inst = _copy.deepcopy(inst, memo)
        if inst:
            new.__dict__.update(inst)
    except BaseException:
        new.close()
        raise
    return _fill(new, options, memoryview(ts).cast("q"), objs)


# ----------------------------------------------------------------------------
# Files (docs/file-format.md)
# ----------------------------------------------------------------------------

MAGIC = b"\x89TLG\r\n\x1a\n"
VERSION = 1
BLOCK_RECORDS = 65536            # records per TIME/OBJS block pair (tests lower it)

_HEADER = struct.Struct("<8sHHIQ")   # magic, version, flags, block_records, record_count
_HEADER_SIZE = _HEADER.size + 4      # + crc32
_SECTION = struct.Struct("<4sQ")     # kind, payload length
_SECTION_SIZE = _SECTION.size + 4    # + crc32 of those 12 bytes
_U32 = struct.Struct("<I")
_END = struct.Struct("<QQ")          # record_count, block_count

KIND_OPTS = b"OPTS"
KIND_TIME = b"TIME"
KIND_OBJS = b"OBJS"
KIND_END = b"END "


def _crc(data, value=0):
    return zlib.crc32(data, value) & 0xFFFFFFFF


def _section_header(kind, length):
    head = _SECTION.pack(kind, length)
    return head + _U32.pack(_crc(head))


class _PayloadSink:
    """The file object of the payload Pickler: writes through to the file and
    keeps the length and crc32 of the current OBJS payload."""

    __slots__ = ("_write", "crc", "size")

    def __init__(self, f):
        self._write = f.write
        self.crc = 0
        self.size = 0

    def write(self, data):
        self.crc = zlib.crc32(data, self.crc)
        n = self._write(data)
        self.size += n
        return n


def _create_temp(path):
    directory, name = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{name[:200]}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp, directory
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not create a unique temporary file", directory)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:          # platforms without directory descriptors (Windows)
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path, buffering=1 << 20):
    """A binary file that replaces ``path`` only when the ``with`` block succeeds:
    written to a temporary file in the same directory, fsynced, renamed over ``path``,
    then the directory fsynced. On any exception the temporary file is removed and
    ``path`` is untouched."""
    fd, tmp, directory = _create_temp(path)
    try:
        try:
            f = open(fd, "wb", buffering=buffering)
        except BaseException:
            os.close(fd)
            raise
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def save(log, path, options):
    """``Timelog.save``: stream the visible records to ``path`` atomically."""
    if log.closed:
        raise TimelogError("cannot save a closed Timelog")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "cannot save a Timelog over a directory", path)
    opts = json.dumps(_plain_options(options), sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")
    block = BLOCK_RECORDS
    it = log.all()
    try:
        n = len(it)
        with atomic_file(path) as f:
            head = _HEADER.pack(MAGIC, VERSION, 0, block, n)
            f.write(head + _U32.pack(_crc(head)))
            f.write(_section_header(KIND_OPTS, len(opts)))
            f.write(opts)
            f.write(_U32.pack(_crc(opts)))
            sink = _PayloadSink(f)
            pickler = pickle.Pickler(sink, protocol=5)
            left = n
            blocks = 0
            while left:
                ts, objs = log._next_columns(it, min(block, left))
                k = len(objs)
                if k == 0:
                    raise TimelogError("the snapshot ended before its reported length")
                ts = _to_le(ts)
                f.write(_section_header(KIND_TIME, len(ts)))
                f.write(ts)
                f.write(_U32.pack(_crc(ts)))
                del ts
                # OBJS: unknown length until pickled; write a placeholder header,
                # stream the pickle through the sink, then patch the header.
                start = f.tell()
                f.write(bytes(_SECTION_SIZE))
                sink.crc = 0
                sink.size = 0
                pickler.dump(objs)
                pickler.clear_memo()     # one pickle per block: memory stays bounded
                del objs
                end = f.tell()
                f.seek(start)
                f.write(_section_header(KIND_OBJS, sink.size))
                f.seek(end)
                f.write(_U32.pack(sink.crc & 0xFFFFFFFF))
                left -= k
                blocks += 1
            del pickler, sink
            end_payload = _END.pack(n, blocks)
            f.write(_section_header(KIND_END, len(end_payload)))
            f.write(end_payload)
            f.write(_U32.pack(_crc(end_payload)))
    finally:
        it.close()


class _Reader:
    """Reads and verifies a timelog file; every failure is a TimelogError."""

    def __init__(self, f, size, name):
        self.f = f
        self.size = size
        self.name = name
        self.pos = 0

    def fail(self, msg):
        raise TimelogError(f"{self.name}: {msg}")

    def read_exact(self, n, what):
        data = self.f.read(n)
        if len(data) < n:                    # a short read (not at EOF) is retried
            parts = [data]
            got = len(data)
            while got < n:
                more = self.f.read(n - got)
                if not more:
                    self.fail(f"truncated: {what} at offset {self.pos} needs {n} bytes, "
                              f"the file ends after {got}")
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        self.pos += n
        return data

    def readinto_exact(self, mv, what):
        got = 0
        n = mv.nbytes
        while got < n:
            k = self.f.readinto(mv[got:])
            if not k:
                self.fail(f"truncated: {what} at offset {self.pos} needs {n} bytes, "
                          f"the file ends after {got}")
            got += k
        self.pos += n

    def check_crc(self, data, what, where):
        stored = _U32.unpack(self.read_exact(4, f"the checksum of {what}"))[0]
        if _crc(data) != stored:
            self.fail(f"corrupted {what} at offset {where} (checksum mismatch)")

    def header(self):
        if self.size == 0:
            self.fail("empty file (0 bytes), not a timelog file")
        head = self.f.read(_HEADER_SIZE)
        self.pos = len(head)
        if head[:8] != MAGIC[:len(head[:8])]:
            self.fail(f"not a timelog file (bad magic number {head[:8]!r}, expected {MAGIC!r})")
        if len(head) < 8:
            self.fail(f"truncated: the file ends inside the magic number ({len(head)} bytes)")
        if len(head) < 10:
            self.fail(f"truncated: the file ends inside the header ({len(head)} bytes)")
        version = struct.unpack_from("<H", head, 8)[0]
        if version > VERSION:
            self.fail(f"file format version {version} is newer than this timelog supports "
                      f"(up to {VERSION}); upgrade timelog to load it")
        if version == 0:
            self.fail("invalid file format version 0")
        if len(head) < _HEADER_SIZE:
            self.fail(f"truncated: the file ends inside the header ({len(head)} of "
                      f"{_HEADER_SIZE} bytes)")
        if _crc(head[:_HEADER.size]) != _U32.unpack_from(head, _HEADER.size)[0]:
            self.fail("corrupted header (checksum mismatch)")
        _, _, flags, block, count = _HEADER.unpack_from(head)
        if flags:
            self.fail(f"unsupported header flags 0x{flags:04x} (this timelog knows none)")
        if block == 0:
            self.fail("invalid header: block_records is 0")
        if count * 8 > self.size:
            self.fail(f"invalid header: {count} records cannot fit in {self.size} bytes")
        return block, count

    def section(self, kind):
        where = self.pos
        label = kind.decode("ascii").strip()
        if self.size - where < _SECTION_SIZE:
            self.fail(f"truncated at offset {where}: expected the {label} section")
        raw = self.read_exact(_SECTION_SIZE, f"the {label} section header")
        if _crc(raw[:_SECTION.size]) != _U32.unpack_from(raw, _SECTION.size)[0]:
            self.fail(f"corrupted section header at offset {where} (checksum mismatch)")
        found, length = _SECTION.unpack_from(raw)
        if found != kind:
            self.fail(f"unexpected section {found!r} at offset {where}, expected {kind!r}")
        room = self.size - self.pos - 4
        if length > room:
            self.fail(f"truncated: the {label} section at offset {where} declares {length} "
                      f"bytes, only {max(room, 0)} remain")
        return where, length


def _read_file(f, size, name):
    """Verify and decode a whole file: (options dict, LE int64 bytearray, payload list)."""
    r = _Reader(f, size, name)
    block, count = r.header()

    where, length = r.section(KIND_OPTS)
    raw = r.read_exact(length, "the options")
    r.check_crc(raw, "options section", where)
    try:
        options = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        r.fail(f"the options section is not valid JSON: {e}")
    if not isinstance(options, dict):
        r.fail("the options section is not a JSON object")
    unknown = sorted(k for k in options if k not in _OPTION_NAMES)
    if unknown:
        r.fail(f"unknown option(s) {', '.join(map(repr, unknown))} in the file "
               "(written by a newer timelog?)")

    col = bytearray(count * 8)
    mv = memoryview(col)
    objs = [None] * count
    filled = 0
    blocks = 0
    while filled < count:
        where, length = r.section(KIND_TIME)
        k = length // 8
        if length % 8 or k == 0 or k > block or filled + k > count:
            r.fail(f"invalid TIME section at offset {where}: {length} bytes "
                   f"({count - filled} records left, at most {block} per block)")
        part = mv[filled * 8:(filled + k) * 8]
        r.readinto_exact(part, "the TIME section")
        r.check_crc(part, "TIME section", where)
        del part
        where, length = r.section(KIND_OBJS)
        raw = r.read_exact(length, "the OBJS section")
        r.check_crc(raw, "OBJS section", where)
        stream = io.BytesIO(raw)
        try:
            block_objs = pickle.Unpickler(stream).load()
        except MemoryError:
            raise
        except Exception as e:
            raise TimelogError(f"{name}: cannot unpickle the payloads of block {blocks} "
                               f"(OBJS section at offset {where}): {type(e).__name__}: {e}") from e
        extra = length - stream.tell()
        if extra:
            r.fail(f"the OBJS section at offset {where} has {extra} bytes after its pickle")
        if type(block_objs) is not list or len(block_objs) != k:
            got = len(block_objs) if type(block_objs) is list else type(block_objs).__name__
            r.fail(f"the OBJS section at offset {where} does not hold the {k} payloads "
                   f"of its block (got {got})")
        objs[filled:filled + k] = block_objs
        filled += k
        blocks += 1
        del raw, stream, block_objs

    where, length = r.section(KIND_END)
    if length != _END.size:
        r.fail(f"invalid end marker at offset {where}: {length} bytes, expected {_END.size}")
    raw = r.read_exact(length, "the end marker")
    r.check_crc(raw, "end marker", where)
    n, b = _END.unpack(raw)
    if n != count or b != blocks:
        r.fail(f"the end marker says {n} records in {b} blocks, the file holds "
               f"{count} in {blocks}")
    if r.pos != size or f.read(1):
        r.fail(f"{size - r.pos} unexpected bytes after the end marker at offset {r.pos}")
    return options, col, objs


def load(cls, path, overrides):
    """``Timelog.load``: verify the whole file, then build the log in one extend."""
    for k in overrides:
        if k not in _OPTION_NAMES:
            raise TypeError(f"Timelog.load() got an unexpected keyword argument {k!r}")
    path = os.fspath(path)
    name = repr(os.fsdecode(path))
    try:
        f = open(path, "rb", buffering=0)
    except FileNotFoundError as e:
        raise TimelogError(f"{name}: no such file") from e
    except IsADirectoryError as e:
        raise TimelogError(f"{name}: is a directory, not a timelog file") from e
    except OSError as e:
        raise TimelogError(f"{name}: cannot open: {e.strerror or e}") from e
    try:
        with f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise TimelogError(f"{name}: is a directory, not a timelog file")
            if not stat.S_ISREG(st.st_mode):
                raise TimelogError(f"{name}: not a regular file")
            options, col, objs = _read_file(f, st.st_size, name)
    except OSError as e:
        raise TimelogError(f"{name}: cannot read: {e.strerror or e}") from e
    view = _int64_view(col, "the timestamp column")
    del col
    merged = dict(options)
    merged.update(overrides)
    try:
        log = _new(cls, merged)
    except (TypeError, ValueError, OverflowError) as e:
        if overrides:
            raise
        raise TimelogError(f"{name}: the saved options are not accepted: {e}") from e
    return _fill(log, merged, view, objs)
