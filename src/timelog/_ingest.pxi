# Batch ingest helpers of Timelog.extend(): staging columns and reference bookkeeping.

cdef int _reserve_rows(vector[int64_t]* tsv, vector[uint64_t]* hv,
                       Py_ssize_t n_ts, Py_ssize_t n_h) except -1:
    """Reserve the staging columns of a batch; a failure names what and how big."""
    cdef Py_ssize_t n = n_ts
    try:
        if tsv != NULL:
            tsv.reserve(n_ts)
        n = n_h
        if hv != NULL:
            hv.reserve(n_h)
    except MemoryError:
        raise MemoryError(
            f"could not allocate the staging column for a batch of {n} records: "
            f"{n} rows x 8 bytes = {n * 8 / 2**20:.1f} MiB") from None
    return 0


cdef void _decref_all(vector[uint64_t]* hv, size_t start) noexcept:
    """Release the references ``hv[start:]`` (records not committed, or the
    references a closed log collected); ``hv`` is left empty."""
    cdef size_t i
    cdef vector[uint64_t] tmp
    if start >= hv.size():
        hv.clear()
        return
    # Move them out first (no allocation): a __del__ may run during the loop.
    if start > 0:
        hv.erase(hv.begin(), hv.begin() + start)
    tmp.swap(hv[0])
    for i in range(tmp.size()):
        _decref(<PyObject*>tmp[i])
