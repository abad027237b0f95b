"""Fixtures for the deploy tests: small real models, exported once per session, and real DICOM data."""

from __future__ import annotations

import numpy as np
import pytest
import torch


class ThresholdNet(torch.nn.Module):
    """A 1x1 convolution whose argmax is exactly ``x > 0.5``: a model whose correct output is known."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 1)
        with torch.no_grad():
            self.conv.weight[:] = torch.tensor([-10.0, 10.0]).view(2, 1, 1, 1)
            self.conv.bias[:] = torch.tensor([5.0, -5.0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@pytest.fixture(scope="session")
def lesions():
    from medimg_kernel.data.synthetic import generate

    d = generate("lesions2d", 40, seed=3, size=32, prevalence=0.75)
    return d["images"], d["masks"].astype(np.int64), d["labels"]


@pytest.fixture(scope="session")
def unet_bundle(tmp_path_factory, lesions):
    """A small MONAI UNet (untrained, fixed seed) exported as a bundle with int8 and held-out accuracy."""
    import medimg_kernel as mk
    from medimg_kernel.deploy import export_bundle

    x, m, _ = lesions
    mk.seed_everything(0)
    arch = {"name": "unet", "spatial_dims": 2, "in_channels": 1, "out_channels": 2,
            "kwargs": {"channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 0}}
    net = mk.build_model("unet", 2, 1, 2, **arch["kwargs"])
    return export_bundle(net, tmp_path_factory.mktemp("unet_bundle"), task="segmentation", train_images=x[:28],
                         train_targets=m[:28], heldout_images=x[28:], heldout_targets=m[28:], arch=arch,
                         class_names=["background", "lesion"], n_calibration=16)


@pytest.fixture(scope="session")
def threshold_bundle(tmp_path_factory, lesions):
    """The threshold model as a 64x64 bundle (fp32 only), for the DICOM node."""
    from medimg_kernel.data.synthetic import generate
    from medimg_kernel.deploy import export_bundle

    x = generate("lesions2d", 4, seed=1, size=64)["images"]
    return export_bundle(ThresholdNet(), tmp_path_factory.mktemp("thr_bundle"), task="segmentation",
                         train_images=x, int8=False, class_names=["background", "bright"])
