"""End to end on the synthetic cohort, trained with the course Trainer: fusion beats every single source,
and late fusion still predicts when a modality is missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medimg_kernel.data.synthetic import generate
from medimg_kernel.fusion import (
    CoxPHLoss,
    FeatureFusion,
    LateFusion,
    TabularEncoder,
    TabularPreprocessor,
    harrell_c_index,
    region_features,
    survival_targets,
)
from medimg_kernel.train import Trainer

SOURCES = ("imaging", "clinical", "genomic")


def _train(model, x, y):
    trainer = Trainer(
        model,
        task="custom",
        loss=CoxPHLoss(),
        max_epochs=30,
        batch_size=80,
        lr=1e-2,
        weight_decay=1e-3,
        progress=False,
        seed=0,
    )
    trainer.fit((x, y))
    return trainer


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    c = generate("multimodal_cohort", 480, seed=11, size=24)
    n = len(c["time"])
    tr = np.arange(n) < 320
    te = ~tr
    images = {m: c[m] for m in c["modalities"]}
    tables = {
        "imaging": region_features(images, c["seg"] > 0, spacing=c["spacing"]),
        "clinical": c["clinical"],
        "genomic": c["genomic"],
    }
    x = {}
    for k, df in tables.items():
        pre = TabularPreprocessor(name=k).fit(df[tr])
        x[k] = torch.from_numpy(pre.transform(df))
    y = survival_targets(c["time"], c["event"])
    xtr = {k: v[tr] for k, v in x.items()}
    xte = {k: v[te] for k, v in x.items()}
    singles, scores = {}, {}
    for k in SOURCES:
        torch.manual_seed(0)
        model = FeatureFusion({k: TabularEncoder(x[k].shape[1], 8, hidden=())})
        _train(model, {k: xtr[k]}, y[tr])
        singles[k] = model.eval()
    torch.manual_seed(0)
    fused = FeatureFusion(
        {k: TabularEncoder(x[k].shape[1], 8, hidden=()) for k in SOURCES}, modality_dropout=0.1
    )
    trainer = _train(fused, xtr, y[tr])
    late = LateFusion({k: _Only(singles[k], k) for k in SOURCES}).eval()
    with torch.no_grad():
        for k in SOURCES:
            scores[k] = singles[k]({k: xte[k]}).numpy().ravel()
        scores["intermediate"] = trainer.predict((xte, y[te])).numpy().ravel()
        scores["late"] = late(xte).numpy().ravel()
    return {"c": c, "te": te, "xte": xte, "late": late, "scores": scores}


class _Only(torch.nn.Module):
    """Adapter: a single-source FeatureFusion applied to its own input tensor."""

    def __init__(self, model, key):
        super().__init__()
        self.model, self.key = model, key

    def forward(self, x):
        return self.model({self.key: x})


def _c(trained, risk):
    c, te = trained["c"], trained["te"]
    return harrell_c_index(c["time"][te], c["event"][te], risk)


@pytest.mark.slow
def test_fusion_beats_every_single_source(trained):
    cidx = {k: _c(trained, v) for k, v in trained["scores"].items()}
    best_single = max(cidx[k] for k in SOURCES)
    assert all(cidx[k] > 0.55 for k in SOURCES), cidx  # each source carries signal
    assert cidx["intermediate"] > best_single + 0.05, cidx
    assert cidx["late"] > best_single + 0.02, cidx


@pytest.mark.slow
def test_late_fusion_predicts_with_a_missing_modality(trained):
    xte = dict(trained["xte"])
    xte["genomic"] = None
    with torch.no_grad():
        risk = trained["late"](xte).numpy().ravel()
    assert risk.shape == (int(trained["te"].sum()),) and np.isfinite(risk).all()
    with_two = _c(trained, risk)
    singles = {k: _c(trained, trained["scores"][k]) for k in ("imaging", "clinical")}
    assert with_two > max(singles.values()) + 0.02, (with_two, singles)
