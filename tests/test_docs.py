"""The examples in docstrings and in docs/*.md are doctests: they must stay true."""
import doctest
import pathlib

import pytest

import timelog
from timelog import _core

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


# Methods whose examples need optional dependencies: run only where those are installed.
OPTIONAL = {
    "to_pandas": ("pandas",),
    "to_arrow": ("pyarrow",),
    "__arrow_c_stream__": ("pyarrow",),
    "plot": ("matplotlib", "numpy"),
}


def _method(test):
    return test.name.split(" ")[0].rsplit(".", 1)[-1]


def _run(tests):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test)
    return runner.summarize(verbose=False)


def _core_tests():
    return [t for t in doctest.DocTestFinder().find(_core) if t.examples]


def test_module_docstrings():
    result = _run([t for t in _core_tests() if _method(t) not in OPTIONAL])
    assert result.attempted > 50, "the binding's docstrings lost their examples"
    assert result.failed == 0


@pytest.mark.parametrize("method", sorted(OPTIONAL))
def test_optional_dependency_docstrings(method):
    for module in OPTIONAL[method]:
        pytest.importorskip(module, reason=f"the example of {method}() needs {module}")
    tests = [t for t in _core_tests() if _method(t) == method]
    assert tests, f"{method}() lost its example"
    assert _run(tests).failed == 0


def test_package_docstrings():
    assert doctest.testmod(timelog, optionflags=FLAGS).failed == 0


@pytest.mark.parametrize("name", ["api.md", "user-guide.md", "index.md", "design.md"])
def test_markdown_examples(name):
    path = DOCS / name
    if not path.exists():
        pytest.skip(f"{path} is not shipped here")
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS)
    assert result.failed == 0
