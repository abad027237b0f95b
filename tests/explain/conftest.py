"""Fixtures for the explain tests: one small CNN trained once on synthetic lesions with a planted cue.

The data (``spurious_cue``) has three sites; at sites A and C the model must find the lesion (ground-truth
masks known), at site B a corner marker follows the label. One model therefore serves both the
"maps hit the lesion" tests (sites A/C) and the "accurate for the wrong reason" tests (site B).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _explain_helpers import small_cnn, train  # noqa: E402

DATA_KW = {"size": 32, "contrast": 0.4, "radius": (0.08, 0.14)}


@pytest.fixture(scope="session")
def cue_data():
    """Training set, an in-distribution test set, and a shifted test set where the marker is uninformative."""
    import medimg_kernel as mk

    return {
        "train": mk.synthetic.spurious_cue(450, seed=0, **DATA_KW),
        "test": mk.synthetic.spurious_cue(240, seed=2, **DATA_KW),
        "shift": mk.synthetic.spurious_cue(300, seed=1, cue_strength=0.5, **DATA_KW),
    }


@pytest.fixture(scope="session")
def trained_2d(cue_data):
    """The small CNN trained on ``cue_data['train']`` (accuracy at sites A/C asserted >= 0.8)."""
    import torch

    torch.manual_seed(0)
    tr, te = cue_data["train"], cue_data["test"]
    model = train(small_cnn(2), tr["images"], tr["labels"])
    ac = te["metadata"]["site"].to_numpy() != "B"
    with torch.no_grad():
        pred = model(torch.as_tensor(te["images"][ac])).argmax(1).numpy()
    acc = float((pred == te["labels"][ac]).mean())
    assert acc >= 0.8, f"the fixture model did not learn the lesions (accuracy {acc:.2f})"
    return model


@pytest.fixture(scope="session")
def positives(cue_data):
    """Up to 30 lesion images from sites A and C (no marker) of the test set, and their lesion masks."""
    te = cue_data["test"]
    sel = (te["labels"] == 1) & (te["metadata"]["site"].to_numpy() != "B")
    idx = np.flatnonzero(sel)[:30]
    return te["images"][idx], te["masks"][idx]
