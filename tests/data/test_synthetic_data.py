"""Synthetic generators: shapes, dtypes, ground truth consistency, determinism, registry loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import medimg_kernel as mk
from medimg_kernel.data.synthetic import generate, generators


def test_generators_registered():
    assert {"mednist_like", "lesions2d", "brain_tissue", "lesions3d"} <= set(generators())


def test_mednist_like():
    d = generate("mednist_like", 60, seed=1, size=48)
    assert d["images"].shape == (60, 1, 48, 48) and d["images"].dtype == np.float32
    assert d["labels"].dtype == np.int64 and np.bincount(d["labels"]).tolist() == [10] * 6
    assert 0.0 <= d["images"].min() and d["images"].max() <= 1.0
    assert d["class_names"] == ["AbdomenCT", "BreastMRI", "CXR", "ChestCT", "Hand", "HeadCT"]
    again = generate("mednist_like", 60, seed=1, size=48)
    assert np.array_equal(d["images"], again["images"]) and np.array_equal(d["labels"], again["labels"])
    other = generate("mednist_like", 60, seed=2, size=48)
    assert not np.array_equal(d["images"], other["images"])
    # classes are distinct on average but individual images vary (pose, noise)
    means = np.stack([d["images"][d["labels"] == k].mean(axis=0) for k in range(6)]).reshape(6, -1)
    dist = np.linalg.norm(means[:, None] - means[None], axis=-1)
    assert dist[~np.eye(6, dtype=bool)].min() > 1.0
    assert d["images"][d["labels"] == 0].std(axis=0).mean() > 0.05


def test_lesions2d_masks_match_lesions():
    d = generate("lesions2d", 40, seed=3, size=64, prevalence=0.5, max_lesions=3)
    assert d["images"].shape == (40, 1, 64, 64) and d["masks"].dtype == np.uint8
    assert d["labels"].sum() == 20
    has = d["masks"].reshape(40, -1).any(axis=1)
    assert np.array_equal(has, d["labels"].astype(bool))
    for c, r, lab, m in zip(d["centers"], d["radii"], d["labels"], d["masks"]):
        assert c.shape == (len(r), 2) and (1 <= len(r) <= 3 if lab else len(r) == 0)
        for row, col in c:
            assert m[0, int(round(row)), int(round(col))] == 1
    # bright lesions: inside-mask pixels are brighter than the rest of the body
    pos = d["labels"] == 1
    inside = d["images"][pos][d["masks"][pos] == 1].mean()
    outside = d["images"][pos][(d["masks"][pos] == 0) & (d["images"][pos] > 0.2)].mean()
    assert inside > outside + 0.1


def test_brain_tissue():
    d = generate("brain_tissue", 4, seed=0, size=24)
    assert d["images"].shape == (4, 1, 24, 24, 24) and d["images"].dtype == np.float32
    assert d["labels"].shape == (4, 1, 24, 24, 24) and d["labels"].dtype == np.int64
    assert set(np.unique(d["labels"])) == {0, 1, 2, 3} and d["affine"].shape == (4, 4)
    img, lab = d["images"][:, 0], d["labels"][:, 0]
    # T1 contrast: WM > GM > CSF, background dark
    means = [img[lab == k].mean() for k in range(4)]
    assert means[3] > means[2] > means[1] and means[0] < means[1]
    assert not np.array_equal(img[0], img[1])  # subjects differ (deformation, bias, noise)
    assert np.array_equal(img, generate("brain_tissue", 4, seed=0, size=24)["images"][:, 0])


def test_lesions3d():
    d = generate("lesions3d", 10, seed=5, size=20, prevalence=0.4)
    assert d["images"].shape == (10, 1, 20, 20, 20) and d["masks"].shape == (10, 1, 20, 20, 20)
    assert d["labels"].sum() == 4
    assert np.array_equal(d["masks"].reshape(10, -1).any(axis=1), d["labels"].astype(bool))
    assert all(c.shape[1] == 3 for c in d["centers"])
    assert np.array_equal(d["images"], generate("lesions3d", 10, seed=5, size=20, prevalence=0.4)["images"])


@pytest.mark.parametrize(
    "name, shape", [("synthetic-mednist", (1, 32, 32)), ("synthetic-lesions2d", (1, 32, 32))]
)
def test_load_synthetic_by_tier(name, shape):
    ds = mk.load(name, split="train", tier="smoke")
    assert len(ds) == mk.tier_params(tier="smoke")["n_samples"]
    item = ds[0]
    assert tuple(item["image"].shape) == shape and item["image"].dtype == torch.float32 and "label" in item
    val = mk.load(name, split="val", tier="smoke", as_arrays=True)
    assert len(val["images"]) == 64
    train = mk.load(name, split="train", tier="smoke", as_arrays=True, n=64)
    assert not np.array_equal(train["images"], val["images"])  # separate seeds per split
    assert np.array_equal(
        train["images"], mk.load(name, split="train", tier="smoke", as_arrays=True, n=64)["images"]
    )


def test_load_3d_small():
    ds = mk.load("synthetic-lesions3d", split="val", n=8, tier="smoke")
    assert len(ds) == 8 and tuple(ds[0]["mask"].shape) == (1, 32, 32, 32)


def test_load_brain_tissue_small():
    ds = mk.load("synthetic-brain-tissue", split="test", n=3, size=16)
    assert (
        len(ds) == 3
        and tuple(ds[0]["image"].shape) == (1, 16, 16, 16)
        and tuple(ds[0]["label"].shape) == (1, 16, 16, 16)
    )


def test_other_modules_can_add_generators():
    from medimg_kernel.data.synthetic import _GENERATORS, register_generator

    @register_generator("toy_for_test")
    def toy(n, *, seed=0, size=4):
        return {"images": np.full((n, 1, size, size), seed, np.float32), "labels": np.zeros(n, np.int64)}

    try:
        assert mk.synthetic.toy_for_test is toy
        assert generate("toy_for_test", 2, seed=7)["images"].max() == 7
    finally:
        _GENERATORS.pop("toy_for_test")


def _train_small_cnn(name: str, n_classes: int, steps: int) -> float:
    """Train a two-layer CNN for ``steps`` Adam steps on 512 images; return validation accuracy."""
    torch.manual_seed(0)
    tr, va = generate(name, 512, seed=1, size=32), generate(name, 256, seed=2, size=32)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 8 * 8, n_classes),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    x, y = torch.from_numpy(tr["images"]), torch.from_numpy(tr["labels"])
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=g)
        loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net(torch.from_numpy(va["images"])).argmax(1).numpy()
    return float((pred == va["labels"]).mean())


@pytest.mark.slow
def test_learnable_by_a_small_cnn():
    """Both 2D sets are learnable in a few dozen steps, from chance level, without being trivial."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: one thread is fastest on a shared 2-core machine
    try:
        assert _train_small_cnn("mednist_like", 6, 40) > 0.7
        assert _train_small_cnn("lesions2d", 2, 90) > 0.7
    finally:
        torch.set_num_threads(threads)


def test_patient_images_share_label_and_anatomy_within_a_patient():
    d = mk.synthetic.patient_images(60, seed=3, per_patient=5, size=24)
    again = mk.synthetic.patient_images(60, seed=3, per_patient=5, size=24)
    assert np.array_equal(d["images"], again["images"])
    assert d["images"].shape == (60, 1, 24, 24) and d["images"].dtype == np.float32
    assert np.bincount(d["patients"]).tolist() == [5] * 12
    for p in range(12):
        assert len(set(d["labels"][d["patients"] == p])) == 1
    flat = d["images"].reshape(60, -1)
    same = np.corrcoef(flat[0], flat[1])[0, 1]  # two images of patient 0
    other = np.mean([np.corrcoef(flat[0], flat[k])[0, 1] for k in range(5, 60, 5)])
    assert same > other + 0.3  # a patient's images resemble each other more than other patients'
    with pytest.raises(mk.errors.ConfigError, match="per_patient"):
        mk.synthetic.patient_images(4, per_patient=3)


def test_growth_series_differ_only_in_the_order_of_visits():
    d = mk.synthetic.growth_series(40, seed=2, frames=5, size=20)
    assert d["images"].shape == (40, 1, 5, 20, 20) and d["labels"].mean() == 0.5
    area = (d["images"][:, 0] > 0.55).sum(axis=(2, 3))  # lesion pixels per visit
    slope = np.array([np.polyfit(np.arange(5), a, 1)[0] for a in area])
    assert (slope[d["labels"] == 1] > 0).all() and (slope[d["labels"] == 0] < 0).all()
    with pytest.raises(mk.errors.ConfigError, match="2 frames"):
        mk.synthetic.growth_series(4, frames=1)
