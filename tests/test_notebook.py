"""docs/explore.ipynb runs top to bottom in a fresh kernel (needs the `notebook` extra:
pip install 'timelog[notebook]')."""
import pathlib

import pytest

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "docs" / "explore.ipynb"
NEEDS = "pip install 'timelog[notebook]'"

nbformat = pytest.importorskip("nbformat", reason=f"nbformat is not installed ({NEEDS})")
nbclient = pytest.importorskip("nbclient", reason=f"nbclient is not installed ({NEEDS})")
pytest.importorskip("ipykernel", reason=f"ipykernel is not installed ({NEEDS})")
for _module in ("numpy", "pandas", "pyarrow", "matplotlib"):
    pytest.importorskip(_module, reason=f"the notebook uses {_module} ({NEEDS})")


@pytest.fixture(scope="module")
def notebook():
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK} is not shipped here")
    return nbformat.read(NOTEBOOK, as_version=4)


def test_stored_outputs_are_cleared(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_notebook_runs(notebook, tmp_path):
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()          # raises CellExecutionError naming the failing cell
    outputs = [out for cell in notebook.cells if cell.cell_type == "code"
               for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    html = [out.data["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    assert any("records, from" in page for page in html)        # the log's view
    assert any("closed" in page for page in html)
    assert sum("image/png" in out.get("data", {}) for out in outputs) == 2   # two plots
