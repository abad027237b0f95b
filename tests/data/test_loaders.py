"""Loaders on files fetched from the loopback server: MedNIST folders, MSD dataset.json, MedMNIST npz."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import medimg_kernel as mk
from medimg_kernel.errors import ConfigError


def test_mednist_loader(manifest, data_dir):
    ds = mk.load("test-mednist", split="train", tier="smoke", data_dir=data_dir, manifests=[manifest])
    assert len(ds) == 36  # 60 images, 60 % train
    item = ds[0]
    assert item["image"].dtype == torch.float32 and tuple(item["image"].shape) == (1, 32, 32)
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert ds.class_names == ["AbdomenCT", "BreastMRI", "CXR", "ChestCT", "Hand", "HeadCT"]
    # splits are disjoint and cover everything
    paths = {
        s: {
            d["image"] for d in mk.load("test-mednist", split=s, data_dir=data_dir, manifests=[manifest]).data
        }
        for s in ("train", "val", "test")
    }
    assert (
        sum(map(len, paths.values())) == 60
        and not (paths["train"] & paths["val"])
        and not (paths["val"] & paths["test"])
    )
    arrays = mk.load(
        "test-mednist", split="val", data_dir=data_dir, manifests=[manifest], as_arrays=True, size=64
    )
    assert arrays["images"].shape == (12, 1, 64, 64) and arrays["images"].dtype == np.float32
    # the generated classes differ in brightness: labels must follow the folders
    means = [arrays["images"][arrays["labels"] == k].mean() for k in np.unique(arrays["labels"])]
    assert means == sorted(means)


def test_msd_loader(manifest, data_dir):
    ds = mk.load("test-msd", split="train", data_dir=data_dir, manifests=[manifest], size=16)
    assert len(ds) == 3  # 5 training cases, 60 %
    item = ds[0]
    assert tuple(item["image"].shape) == (1, 16, 16, 16) and item["image"].dtype == torch.float32
    assert tuple(item["label"].shape) == (1, 16, 16, 16)
    assert set(torch.unique(item["label"]).tolist()) == {0.0, 1.0, 2.0}
    assert ds.class_names == ["background", "Anterior", "Posterior"]
    assert len(mk.load("test-msd", split="val", data_dir=data_dir, manifests=[manifest])) == 2
    test = mk.load("test-msd", split="test", data_dir=data_dir, manifests=[manifest], size=16)
    assert len(test) == 2 and "label" not in test[0]
    assert all("._" not in d["image"] for d in ds.data)


def test_medmnist_loader(manifest, data_dir):
    ds = mk.load("test-medmnist", split="test", data_dir=data_dir, manifests=[manifest])
    assert len(ds) == 12
    item = ds[0]
    assert tuple(item["image"].shape) == (1, 28, 28) and item["label"].dtype == torch.int64
    arr = mk.load(
        "test-medmnist", split="train", data_dir=data_dir, manifests=[manifest], as_arrays=True, n=16
    )
    assert arr["images"].shape == (16, 1, 28, 28) and arr["labels"].shape == (16,)
    assert arr["class_names"] == ["normal", "pneumonia"]


def test_load_without_download_raises(manifest, data_dir):
    with pytest.raises(ConfigError, match="medimg data fetch test-medmnist"):
        mk.load("test-medmnist", data_dir=data_dir, manifests=[manifest], download=False)


def test_unknown_split(manifest):
    with pytest.raises(ConfigError, match="train, val, test"):
        mk.load("synthetic-mednist", split="holdout")


def test_ixi_loader(ixi_manifest, data_dir):
    ds = mk.load("test-ixi", split="train", data_dir=data_dir, manifests=[ixi_manifest], size=8)
    assert len(ds) == 8 and ds.class_names == ["Guys", "HH", "IOP"]
    item = ds[0]
    assert tuple(item["image"].shape) == (1, 8, 8, 8)
    site = ds.data[0]["site"]
    assert int(item["label"]) == ["Guys", "HH", "IOP"].index(site) and ds.data[0]["subject"].startswith("IXI")
    arrays = mk.load(
        "test-ixi", split="test", data_dir=data_dir, manifests=[ixi_manifest], size=8, as_arrays=True
    )
    assert arrays["images"].shape == (1, 1, 8, 8, 8) and arrays["labels"].shape == (1,)


def test_survival_table_shipped_by_scikit_survival_splits_by_patient():
    """GSE7390 (198 real patients) comes from scikit-survival's own file: numeric tables, disjoint splits."""
    pytest.importorskip("sksurv")
    from sksurv.datasets import load_breast_cancer

    splits = {s: mk.load("gse7390-breast-cancer", split=s, as_arrays=True) for s in ("train", "val", "test")}
    ids = [set(d["patient_id"]) for d in splits.values()]
    assert sum(map(len, ids)) == 198 and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    x, y = load_breast_cancer()
    tr = splits["train"]
    assert list(tr["clinical"].columns) == ["age", "er_positive", "grade", "size"]
    assert tr["genomic"].shape[1] == 76 and all(c.endswith("_at") for c in tr["genomic"].columns)
    rows = [int(p[1:]) for p in tr["patient_id"]]  # P<row>: the row of scikit-survival's table
    np.testing.assert_array_equal(tr["time"], y["t.tdm"][rows])
    np.testing.assert_array_equal(tr["event"], y["e.tdm"][rows].astype(int))
    np.testing.assert_array_equal(tr["clinical"]["er_positive"], (x["er"].iloc[rows] == "positive").astype(float))
    grades = pd.concat([d["clinical"]["grade"] for d in splits.values()])
    assert grades.isna().sum() == 2 and set(grades.dropna()) == {1.0, 2.0, 3.0}  # 'unkown' in the source
    with pytest.raises(ConfigError, match="is a table: use mk.load"):
        mk.load("gse7390-breast-cancer", split="train")
