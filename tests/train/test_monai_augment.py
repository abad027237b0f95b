"""MONAI transforms as the Trainer's augmentation: per sample, reproducible per (epoch, batch), labels moved
with their image by dictionary transforms, and they reach the training step."""

from __future__ import annotations

import torch
from monai.transforms import Compose, RandFlip, RandFlipd, RandRotate90d

import medimg_kernel as mk
from medimg_kernel.train.augment import MonaiAugment, make_augment


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_array_transform_flips_some_samples_reproducibly():
    aug = make_augment(RandFlip(prob=0.5, spatial_axis=1))
    assert isinstance(aug, MonaiAugment) and not aug.dictionary
    x = torch.arange(8 * 1 * 4 * 5, dtype=torch.float32).reshape(8, 1, 4, 5)
    a, y = aug(x, torch.zeros(8), _gen(1))
    b, _ = aug(x, torch.zeros(8), _gen(1))
    assert torch.equal(a, b) and y.shape == (8,) and type(a) is torch.Tensor
    flipped = [bool(torch.equal(a[i], x[i].flip(-1))) for i in range(8)]
    kept = [bool(torch.equal(a[i], x[i])) for i in range(8)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    c, _ = aug(x, None, _gen(2))
    assert not torch.equal(a, c)  # another batch seed, other draws


def test_dictionary_transform_moves_the_label_with_the_image():
    aug = make_augment(Compose([RandFlipd(keys=["image", "label"], prob=1.0, spatial_axis=0),
                                RandRotate90d(keys=["image", "label"], prob=1.0)]))
    assert aug.dictionary
    x = torch.rand(3, 1, 6, 6)
    y = (x > 0.5).long()
    xa, ya = aug(x, y, _gen(0), segmentation=True)
    assert torch.equal((xa > 0.5).long(), ya) and not torch.equal(xa, x)


def test_trainer_trains_with_a_monai_transform():
    calls = []
    base = RandFlip(prob=1.0, spatial_axis=1)

    def spy(img):
        calls.append(tuple(img.shape))
        return base(img)

    aug = MonaiAugment(Compose([spy]))
    x = torch.rand(16, 1, 8, 8)
    y = torch.randint(0, 2, (16,))
    model = mk.build_model("simplecnn", spatial_dims=2, in_channels=1, out_channels=2, channels=(4, 8))
    mk.Trainer(model, max_epochs=1, batch_size=8, augment=aug, progress=False, precision="fp32").fit((x, y))
    assert calls == [(1, 8, 8)] * 16  # every training sample, once, channel-first
