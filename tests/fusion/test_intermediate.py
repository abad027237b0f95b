"""Feature fusion: encoders, concat/attention fusion, modality dropout, missing modalities."""

from __future__ import annotations

import pytest
import torch

from medimg_kernel.errors import ConfigError, ShapeMismatchError
from medimg_kernel.fusion import (
    AttentionFusion,
    FeatureFusion,
    ImageEncoder,
    MissingModalityError,
    ModalityDropout,
    TabularEncoder,
)


def _inputs(b=4):
    torch.manual_seed(0)
    return {
        "imaging": torch.randn(b, 2, 8, 8, 8),
        "clinical": torch.randn(b, 5),
        "genomic": torch.randn(b, 7),
    }


def _model(fusion="concat", **kw):
    return FeatureFusion(
        {
            "imaging": ImageEncoder(2, 6, channels=(4, 8)),
            "clinical": TabularEncoder(5, 6),
            "genomic": TabularEncoder(7, 6, hidden=()),
        },
        fusion=fusion,
        **kw,
    )


@pytest.mark.parametrize("fusion", ["concat", "attention"])
def test_forward_and_gradients_reach_every_encoder(fusion):
    model = _model(fusion)
    out = model(_inputs())
    assert out.shape == (4, 1)
    out.sum().backward()
    for name, enc in model.encoders.items():
        grads = [p.grad for p in enc.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    assert model.fused_features == (18 if fusion == "concat" else 6)


def test_attention_weights_sum_to_one_over_present():
    model = _model("attention", allow_missing=True).eval()
    x = _inputs()
    model(x)
    w = model.fuse.last_weights
    torch.testing.assert_close(w.sum(1), torch.ones(4))
    x["genomic"] = None
    model(x)
    w = model.fuse.last_weights
    assert (w[:, 2] == 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(4))


def test_missing_modality_raises_unless_allowed():
    x = _inputs()
    del x["clinical"]
    with pytest.raises(MissingModalityError, match="clinical"):
        _model()(x)
    out = _model(allow_missing=True).eval()(x)
    assert out.shape == (4, 1) and torch.isfinite(out).all()
    with pytest.raises(MissingModalityError):
        _model(allow_missing=True)({})


def test_modality_dropout():
    drop = ModalityDropout(0.6)
    present = torch.ones(500, 3, dtype=torch.bool)
    present[:, 2] = False
    torch.manual_seed(0)
    out = drop.train()(present)
    assert out.any(1).all()  # nobody loses every modality
    assert not out[:, 2].any()  # an absent modality never comes back
    assert 0.3 < (~out[:, :2]).float().mean() < 0.7
    assert torch.equal(drop.eval()(present), present)
    with pytest.raises(ConfigError):
        ModalityDropout(1.0)


def test_encoders_check_shapes():
    with pytest.raises(ShapeMismatchError, match="5"):
        TabularEncoder(5)(torch.randn(2, 4))
    with pytest.raises(ShapeMismatchError, match="channel"):
        ImageEncoder(1)(torch.randn(2, 8, 8, 8))
    fmap = ImageEncoder(1, 3, channels=(4,), pooled=False)(torch.randn(2, 1, 8, 8, 8))
    assert fmap.shape == (2, 3, 8, 8, 8)


def test_feature_maps_fuse_for_segmentation():
    model = FeatureFusion(
        {m: ImageEncoder(1, 4, channels=(4,), pooled=False) for m in ("t1", "flair")},
        head=torch.nn.Conv3d(8, 3, 1),
    )
    out = model({"t1": torch.randn(2, 1, 8, 8, 8), "flair": torch.randn(2, 1, 8, 8, 8)})
    assert out.shape == (2, 3, 8, 8, 8)
    att = FeatureFusion(
        {m: ImageEncoder(1, 4, channels=(4,), pooled=False) for m in ("t1", "flair")},
        head=torch.nn.Conv3d(4, 3, 1),
        fusion="attention",
    )
    assert att({"t1": torch.randn(2, 1, 8, 8, 8), "flair": torch.randn(2, 1, 8, 8, 8)}).shape == (
        2,
        3,
        8,
        8,
        8,
    )


def test_config_errors():
    with pytest.raises(ConfigError, match="attention"):
        FeatureFusion({"a": TabularEncoder(2, 3), "b": TabularEncoder(2, 4)}, fusion="attention")
    with pytest.raises(ConfigError, match="concat"):
        FeatureFusion({"a": TabularEncoder(2, 3)}, fusion="sum")
    with pytest.raises(ConfigError, match="embed_dims"):
        FeatureFusion({"a": torch.nn.Sequential(torch.nn.Linear(2, 3))})
    assert isinstance(AttentionFusion(4), torch.nn.Module)
