"""Sphinx configuration of the timelog documentation site (`tox -e docs`).

The pages are the Markdown files in this directory (MyST); reference.md pulls the API
reference out of the installed package's docstrings with autodoc, so the extension
must be built and importable (tox installs the package first).
"""
import timelog

project = "timelog"
author = "timelog developers"
copyright = "2026, timelog developers"
release = timelog.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "performance/results.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}

html_theme = "alabaster"
html_title = f"timelog {release}"
html_static_path = []
