"""Threads for the tests: one helper instead of a start/join/collect-errors block in
every threaded test."""
import threading
import time


class Workers:
    """Runs each target in a daemon thread. An exception in a target is kept and sets
    ``stop`` (so the other loops end); ``join()`` waits up to ``deadline`` seconds in
    all, fails if a thread is still running (a hang fails the test instead of stalling
    the run) and re-raises the first exception.

    >>> w = Workers()
    >>> w.start(lambda: None, stops=True)
    >>> w.join()
    >>> w.stop.is_set()
    True
    """

    def __init__(self, deadline=60.0):
        self.deadline = deadline
        self.stop = threading.Event()
        self.errors = []
        self._threads = []

    def start(self, target, *args, stops=False):
        """Start ``target(*args)``; with ``stops``, set ``stop`` when it returns."""
        def run():
            try:
                target(*args)
            except BaseException as e:   # reported by join()
                self.errors.append(e)
                self.stop.set()
            finally:
                if stops:
                    self.stop.set()

        th = threading.Thread(target=run, daemon=True)
        self._threads.append(th)
        th.start()

    def join(self):
        end = time.monotonic() + self.deadline
        for th in self._threads:
            th.join(max(0.0, end - time.monotonic()))
        stuck = sum(th.is_alive() for th in self._threads)
        assert not stuck, f"{stuck} thread(s) still running after {self.deadline} s"
        if self.errors:
            raise self.errors[0]
