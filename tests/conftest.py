"""Shared pytest configuration: hypothesis profiles, an installed-copy guard and the
fixtures every test module may use (``make_log``, ``log``, ``filled_log``).

Hypothesis profiles, chosen with the HYPOTHESIS_PROFILE environment variable:
  dev (default)  local runs, a few seconds per property
  ci             what tox and .ci/run use: fewer examples, no deadline (shared 2-core box)
  thorough       long soak runs: HYPOTHESIS_PROFILE=thorough pytest tests
"""
import os
import pathlib

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

_SOURCE_PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "src" / "timelog"


def _imported_package():
    import timelog

    return pathlib.Path(timelog.__file__).resolve().parent


def pytest_report_header(config):
    profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    try:
        return f"timelog: {_imported_package()}, hypothesis profile: {profile}"
    except Exception as exc:  # an import error is reported by the tests themselves
        return f"timelog: not importable ({exc!r})"


# What each -fsanitize= part leaves in an instrumented extension's dynamic symbols.
_SANITIZER_SYMBOLS = {"address": b"__asan_init", "thread": b"__tsan_init", "undefined": b"__ubsan_handle_"}


def _check_sanitized(wanted):
    """.ci/sanitized.py sets TIMELOG_TEST_SANITIZER: the extension under test must
    really carry that instrumentation, or a sanitizer run would prove nothing."""
    import timelog._core as core

    image = pathlib.Path(core.__file__).read_bytes()
    missing = [s for s in wanted.split(",") if _SANITIZER_SYMBOLS.get(s, b"\0") not in image]
    if missing:
        raise pytest.UsageError(
            f"TIMELOG_TEST_SANITIZER={wanted} but {core.__file__} is not built with "
            f"-fsanitize={','.join(missing)} (build it with TIMELOG_SANITIZE={wanted})"
        )


def pytest_configure(config):
    if os.environ.get("TIMELOG_TEST_SANITIZER"):
        _check_sanitized(os.environ["TIMELOG_TEST_SANITIZER"])
    # tox and .ci/dist_check.py set TIMELOG_TEST_INSTALLED=1: the tests must exercise
    # the installed package, never the source tree that happens to sit next to them.
    if os.environ.get("TIMELOG_TEST_INSTALLED") == "1":
        try:
            where = _imported_package()
        except ImportError:
            return
        if where == _SOURCE_PACKAGE:
            raise pytest.UsageError(
                f"TIMELOG_TEST_INSTALLED=1 but timelog was imported from the source tree "
                f"({where}); run pytest from another directory"
            )


# ------------------------------------------------------------------- fixtures
# timelog is imported inside the fixtures: an import error is reported by the tests.


@pytest.fixture
def make_log():
    """``make_log(**options)``: a new Timelog (``maintenance="disabled"`` unless the
    options say otherwise); every log it made is closed at teardown."""
    try:
        from model import new_log
    except ImportError:  # pragma: no cover
        from tests.model import new_log

    made = []

    def make(**options):
        made.append(new_log(**options))
        return made[-1]

    yield make
    for lg in made:
        lg.close()


@pytest.fixture
def log(make_log):
    """An empty log: maintenance disabled, writes never raise busy; closed at teardown."""
    return make_log(busy_policy="silent")


@pytest.fixture
def filled_log(make_log):
    """A log like ``log`` holding ``(i, Obj(i))`` for i in 0..99, all in the memtable."""
    try:
        from model import Obj
    except ImportError:  # pragma: no cover
        from tests.model import Obj

    lg = make_log(busy_policy="silent")
    lg.extend((i, Obj(i)) for i in range(100))
    return lg
