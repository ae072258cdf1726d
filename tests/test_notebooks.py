"""Every notebook's code cells run top to bottom against the installed package."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_cells_run(path: Path, tmp_path: Path, monkeypatch) -> None:
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__notebook__"}
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert cells
    for index, cell in enumerate(cells):
        exec(compile("".join(cell["source"]), f"{path.name}[cell {index}]", "exec"), namespace)  # noqa: S102
    assert namespace["result"].summary["status"] == "complete"
    assert os.path.exists(tmp_path / "cellfleet-out" / f"notebook-{path.stem}" / "summary.json")
