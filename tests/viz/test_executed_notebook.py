"""Executed notebooks stay small: views write no voxel data into regular outputs (nbclient, no browser)."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

CELLS = [
    "import numpy as np\nimport medimg_kernel as mk\nfrom medimg_kernel.data.samples import load_mni152\n"
    "m = load_mni152(2)\ngm = (m.gm > 0.5).astype(np.uint8)",
    "mk.view(m.t1, gm, m.wm, affine=m.affine)",
    "mk.view(m.t1, gm, affine=m.affine, backend='light')",
    "mk.compare(m.t1, gm, (m.gm > 0.4).astype(np.uint8), affine=m.affine)",
]


@pytest.mark.slow
def test_executed_notebook_does_not_balloon(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    path = tmp_path / "out.ipynb"
    nbformat.write(nb, str(path))
    size = path.stat().st_size
    # three views of a 98x116x94 volume hold ~4 MB of voxels: none of it may land in the file
    assert size < 50_000, f"executed notebook is {size} bytes"
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 3
    assert all(len(json.dumps(o)) < 2_000 for o in views)
