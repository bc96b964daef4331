"""The examples in docstrings and in docs/*.md are doctests: they must stay true."""
import doctest
import pathlib

import pytest

import timelog
from timelog import _core

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_module_docstrings():
    result = doctest.testmod(_core, optionflags=FLAGS)
    assert result.attempted > 50, "the binding's docstrings lost their examples"
    assert result.failed == 0


def test_package_docstrings():
    assert doctest.testmod(timelog, optionflags=FLAGS).failed == 0


@pytest.mark.parametrize("name", ["api.md", "user-guide.md", "index.md", "design.md"])
def test_markdown_examples(name):
    path = DOCS / name
    if not path.exists():
        pytest.skip(f"{path} is not shipped here")
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS)
    assert result.failed == 0
