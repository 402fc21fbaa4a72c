"""Every notebook in notebooks/ runs top to bottom in smoke mode, and is committed without outputs.

Smoke mode (STYLEGAN2_ADA_SMOKE=1) is each notebook's own switch in its parameters cell: the same cells at a
tiny resolution and sample count, so a notebook that no longer matches the package fails here, not in a
user's Colab session. Results go to a temporary folder (STYLEGAN2_ADA_RESULTS), never into results/.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300


def test_notebooks_exist() -> None:
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells, "a notebook without code"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"cell {index} has stored outputs: clear them before committing"
        assert cell.execution_count is None, f"cell {index} has an execution count: clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_in_smoke_mode(
    path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pyfeat_data: Path,  # the sample photos the notebooks default to; skips where the package index is unreachable
) -> None:
    results = tmp_path / "results"
    # The kernel is a child process and inherits this environment.
    monkeypatch.setenv("STYLEGAN2_ADA_SMOKE", "1")
    monkeypatch.setenv("STYLEGAN2_ADA_RESULTS", str(results))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # run where Jupyter would: next to the notebook
    )
    client.execute()  # raises CellExecutionError (with the cell and its traceback) on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert results.is_dir() and any(results.iterdir()), "the notebook wrote nothing to its results folder"
