"""Early fusion: channel stacking with a geometry check, and the EarlyFusion module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medimg_kernel.errors import ShapeMismatchError
from medimg_kernel.fusion import EarlyFusion, MissingModalityError, stack_modalities


def test_stack_same_grid_order():
    a, b = np.zeros((4, 4, 4)), np.ones((4, 4, 4))
    out = stack_modalities({"t1": a, "flair": b}, order=["flair", "t1"])
    assert out.shape == (2, 4, 4, 4) and out.dtype == np.float32
    assert out[0].mean() == 1 and out[1].mean() == 0


def test_stack_mismatch_raises_naming_both():
    t1 = np.zeros((8, 8, 8))
    pet = np.zeros((4, 4, 4))
    aff_pet = np.diag([2.0, 2.0, 2.0, 1.0])
    with pytest.raises(ShapeMismatchError) as info:
        stack_modalities({"t1": t1, "pet": pet}, {"t1": np.eye(4), "pet": aff_pet})
    msg = str(info.value)
    assert "'pet'" in msg and "'t1'" in msg and "(8, 8, 8)" in msg and "(4, 4, 4)" in msg
    assert "resample=True" in msg


def test_stack_same_shape_different_origin_is_caught():
    a = np.zeros((4, 4, 4))
    shifted = np.eye(4)
    shifted[0, 3] = 3.0
    with pytest.raises(ShapeMismatchError, match="origin"):
        stack_modalities({"ct": a, "pet": a}, {"ct": np.eye(4), "pet": shifted})


def test_stack_resample_explicitly():
    rng = np.random.default_rng(1)
    t1 = rng.random((8, 8, 8))
    pet_fine = np.zeros((8, 8, 8), np.float32)
    pet_fine[2:6, 2:6, 2:6] = 1.0
    # PET at 2 mm voxels: voxel i covers fine voxels 2i, 2i+1 (centre at 2i + 0.5)
    pet = pet_fine.reshape(4, 2, 4, 2, 4, 2).mean(axis=(1, 3, 5))
    aff_pet = np.diag([2.0, 2.0, 2.0, 1.0])
    aff_pet[:3, 3] = 0.5
    out = stack_modalities({"t1": t1, "pet": pet}, {"t1": np.eye(4), "pet": aff_pet}, resample=True)
    assert out.shape == (2, 8, 8, 8)
    assert out[1][3:5, 3:5, 3:5].min() > 0.99  # the hot cube lands where it was, not shifted
    assert out[1][0, 0, 0] == 0


def test_stack_errors():
    with pytest.raises(MissingModalityError, match="t2"):
        stack_modalities({"t1": np.zeros((2, 2, 2))}, order=["t1", "t2"])
    with pytest.raises(ShapeMismatchError, match="3D"):
        stack_modalities({"t1": np.zeros((1, 2, 2, 2))})


def test_early_fusion_module():
    backbone = torch.nn.Conv3d(3, 2, 1)
    model = EarlyFusion(backbone, ["t1", "t2", "pet"])
    x = {m: torch.randn(2, 1, 4, 4, 4) for m in ["pet", "t1", "t2"]}
    out = model(x)
    expected = backbone(torch.cat([x["t1"], x["t2"], x["pet"]], 1))
    torch.testing.assert_close(out, expected)
    with pytest.raises(MissingModalityError, match="pet"):
        model({"t1": x["t1"], "t2": x["t2"]})
    with pytest.raises(ShapeMismatchError):
        model({"t1": x["t1"], "t2": x["t2"], "pet": torch.randn(2, 1, 2, 2, 2)})
