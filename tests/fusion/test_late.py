"""Late fusion: mean, weighted and stacking aggregation; prediction with a missing modality."""

from __future__ import annotations

import pytest
import torch

from medimg_kernel.errors import ConfigError
from medimg_kernel.fusion import CoxPHLoss, LateFusion, MissingModalityError


class Scale(torch.nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return self.k * x.sum(1, keepdim=True)


def _x():
    torch.manual_seed(0)
    return {"a": torch.randn(6, 2), "b": torch.randn(6, 3), "c": torch.randn(6, 1)}


def test_mean_and_missing():
    models = {"a": Scale(1.0), "b": Scale(2.0), "c": Scale(-1.0)}
    late = LateFusion(models)
    x = _x()
    outs = {k: models[k](v) for k, v in x.items()}
    torch.testing.assert_close(late(x), (outs["a"] + outs["b"] + outs["c"]) / 3)
    x2 = dict(x, b=None)
    torch.testing.assert_close(late(x2), (outs["a"] + outs["c"]) / 2)
    del x2["c"]
    torch.testing.assert_close(late(x2), outs["a"])
    with pytest.raises(MissingModalityError):
        late({})


def test_weighted_renormalises():
    models = {"a": Scale(1.0), "b": Scale(2.0), "c": Scale(-1.0)}
    late = LateFusion(models, "weighted", weights={"a": 3.0, "b": 1.0, "c": 0.0})
    x = _x()
    outs = {k: models[k](v) for k, v in x.items()}
    torch.testing.assert_close(late(x), 0.75 * outs["a"] + 0.25 * outs["b"])
    torch.testing.assert_close(late({"b": x["b"], "c": x["c"]}), outs["b"])
    with pytest.raises(MissingModalityError, match="zero-weight"):
        late({"c": x["c"]})
    with pytest.raises(ConfigError):
        LateFusion(models, "weighted")
    with pytest.raises(ConfigError, match="unknown"):
        LateFusion(models, "weighted", weights={"z": 1.0})
    with pytest.raises(ConfigError, match="mean"):
        LateFusion(models, "vote")


def test_stacking_learns_to_trust_the_informative_model():
    torch.manual_seed(1)
    n = 300
    z = torch.randn(n)
    time = torch.exp(-z + 0.3 * torch.randn(n))
    event = (torch.rand(n) < 0.8).float()
    y = torch.stack([time, event], 1)
    x = {"good": z[:, None], "noise": torch.randn(n, 1)}
    late = LateFusion({"good": torch.nn.Identity(), "noise": torch.nn.Identity()}, "stacking")
    with pytest.raises(ConfigError, match="fit_stacking"):
        late(x)
    late.fit_stacking(x, y, CoxPHLoss(), steps=300)
    w = late.stacker.weight.detach()[0]
    assert w[0] > 5 * abs(w[1])
    out = late({"good": x["good"]})  # noise missing: replaced by its training mean
    assert out.shape == (n, 1) and torch.isfinite(out).all()
    with pytest.raises(MissingModalityError):
        late.fit_stacking({"good": x["good"]}, y, CoxPHLoss())
