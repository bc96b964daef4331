# Error translation and busy-policy helpers: the C++ translator learns TimelogError; _relieve makes room for a busy write.

# C++ exceptions raised by the engine become these classes (_translate.h).
_set_error_class(TimelogError)


cdef int _relieve(CEngine* eng, bint wait, bint flush, uint32_t ms) except -1 nogil:
    """The busy policy's attempt to make room after a write found the log busy.

    Background mode with ``sealed_wait_ms > 0`` first waits up to ``ms`` for the
    worker; then ``busy_policy="flush"`` flushes. Returns 1 if the log is still busy.
    The caller owns the writer lock; the write itself is already committed.
    """
    if wait and eng.WaitForRoom(ms):
        return 0
    if flush:
        eng.Flush()
        return 0
    return 1
