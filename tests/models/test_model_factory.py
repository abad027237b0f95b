"""Model factory: every architecture builds for 2D/3D with any channel counts, without downloads."""

from __future__ import annotations

import pytest
import torch

from medimg_kernel.errors import ConfigError
from medimg_kernel.models import available_models, build_model, model_info


@pytest.mark.parametrize(
    "name,dims,size,kw",
    [
        ("simplecnn", 2, 32, {}),
        ("simplecnn", 3, 16, {}),
        ("densenet121", 2, 32, {}),
        ("resnet18", 2, 32, {}),
        ("resnet18", 3, 16, {}),
        ("resnet50", 2, 32, {}),
        ("efficientnet-b0", 2, 32, {}),
    ],
)
def test_classifiers_build_and_run(name: str, dims: int, size: int, kw: dict) -> None:
    model = build_model(name, dims, in_channels=3, out_channels=5, **kw).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, *(size,) * dims))
    assert out.shape == (2, 5)
    assert model.medimg_spec == {"name": name, "task": "classification", "spatial_dims": dims,
                                 "in_channels": 3, "out_channels": 5}


@pytest.mark.parametrize(
    "name,dims,size,kw",
    [
        ("tinyunet", 2, 32, {}),
        ("tinyunet", 3, 16, {}),
        ("unet", 2, 32, {}),
        ("segresnet", 3, 16, {"init_filters": 8}),
        ("swinunetr", 2, 64, {"feature_size": 12}),
        ("unetr", 3, 16, {"img_size": (16, 16, 16), "feature_size": 8, "hidden_size": 96, "mlp_dim": 192,
                          "num_heads": 4}),
    ],
)
def test_segmenters_build_and_run(name: str, dims: int, size: int, kw: dict) -> None:
    model = build_model(name, dims, in_channels=2, out_channels=3, **kw).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 2, *(size,) * dims))
    assert out.shape == (1, 3, *(size,) * dims)


def test_unknown_model_lists_choices() -> None:
    with pytest.raises(ConfigError, match="densenet121") as err:
        build_model("vgg16", 2, 1, 2)
    assert "unknown model 'vgg16'" in str(err.value)


def test_aliases_and_registry() -> None:
    assert model_info("DenseNet").name == "densenet121"
    assert "unet" in available_models("segmentation")
    assert "unet" not in available_models("classification")
    with pytest.raises(ConfigError, match="spatial_dims"):
        build_model("unet", 4, 1, 2)
    with pytest.raises(ConfigError, match="no registered weights for .efficientnet"):  # only registry weights
        build_model("efficientnet-b0", 2, 1, 2, pretrained=True)
    with pytest.raises(ConfigError, match="img_size"):
        build_model("unetr", 3, 1, 2)
