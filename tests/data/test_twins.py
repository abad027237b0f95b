"""Format twins: each is in its dataset's published layout, loads through the real loader, and a redefined
dataset whose file has the wrong layout is refused in one line with nothing extracted."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tarfile

import nibabel as nib
import numpy as np
import pytest
import yaml

import medimg_kernel as mk
from medimg_kernel.data.twins import make_twin, write_twins
from medimg_kernel.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    out = tmp_path_factory.mktemp("twins")
    names = ["mednist", "msd-braintumour", "msd-spleen", "pneumoniamnist", "pathmnist", "organmnist3d", "ixi-t1",
             "oasis1-disc1"]
    manifest = write_twins(names, out, n={"mednist": 6}, progress=False)
    return out, manifest


def test_mednist_twin_is_a_targz_of_class_folders_of_jpegs(twins):
    out, _ = twins
    with tarfile.open(out / "MedNIST.tar.gz", "r:gz") as tf:
        names = tf.getnames()
        member = tf.extractfile(names[0]).read()
    classes = {n.split("/")[1] for n in names}
    assert classes == set(mk.dataset_info("mednist").labels)
    assert all(n.startswith("MedNIST/") and n.endswith(".jpeg") for n in names) and len(names) == 36
    assert member[:3] == b"\xff\xd8\xff"  # JPEG magic


def test_msd_twin_has_dataset_json_nifti_and_real_affines(twins, tmp_path):
    out, _ = twins
    with tarfile.open(out / "Task01_BrainTumour.tar") as tf:
        tf.extractall(tmp_path, filter="data")
    root = tmp_path / "Task01_BrainTumour"
    meta = json.loads((root / "dataset.json").read_text())
    assert meta["modality"] == {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"}
    assert set(meta["labels"].values()) == set(mk.dataset_info("msd-braintumour").labels)
    assert meta["numTraining"] == len(meta["training"]) and meta["numTest"] == len(meta["test"]) > 0
    img = nib.load(root / meta["training"][0]["image"])
    lab = nib.load(root / meta["training"][0]["label"])
    assert img.shape[-1] == 4 and img.ndim == 4 and lab.ndim == 3 and lab.shape == img.shape[:3]
    assert img.affine[0, 0] < 0 and img.affine[1, 1] < 0  # stored LPS-flipped, as the MSD files are
    assert set(np.unique(np.asarray(lab.dataobj))) == {0, 1, 2, 3}
    assert (root / "imagesTr" / "._BRATS_001.nii.gz").exists()  # AppleDouble junk, as in the real tars
    spleen = tarfile.open(out / "Task09_Spleen.tar")
    first = next(m for m in spleen.getnames() if "imagesTr/spleen_" in m)
    ct = nib.Nifti1Image.from_bytes(gzip.decompress(spleen.extractfile(first).read()))
    assert ct.get_data_dtype() == np.int16 and np.isclose(ct.header.get_zooms()[2], 5.0)  # HU, 5 mm slices


def test_medmnist_twins_use_the_published_keys_and_dtypes(twins):
    out, _ = twins
    with np.load(out / "pathmnist.npz") as z:
        assert sorted(z.files) == sorted(f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels"))
        assert z["train_images"].dtype == np.uint8 and z["train_images"].shape[1:] == (28, 28, 3)
        assert z["train_labels"].shape[1:] == (1,)
    with np.load(out / "organmnist3d.npz") as z:
        assert z["val_images"].shape[1:] == (28, 28, 28)


def test_manifest_redefines_the_real_names_and_the_real_loaders_read_it(twins, tmp_path, monkeypatch):
    out, manifest = twins
    entries = {e["name"]: e for e in yaml.safe_load(manifest.read_text())["datasets"]}
    assert entries["mednist"]["files"][0]["sha256"] and "md5" not in entries["mednist"]["files"][0]
    assert entries["mednist"]["description"].startswith("FORMAT TWIN")
    monkeypatch.setenv("MEDIMG_REGISTRY", str(manifest))
    monkeypatch.setenv("MEDIMG_DATA", str(tmp_path / "cache"))
    d = mk.load("mednist", split="train", as_arrays=True, size=32)
    assert d["images"].shape[1:] == (1, 32, 32) and d["class_names"] == list(mk.dataset_info("mednist").labels)
    v = mk.load("msd-braintumour", split="train", as_arrays=True, n=2, size=16)
    assert v["images"].shape == (2, 4, 16, 16, 16)
    ixi = mk.load("ixi-t1", split="train", as_arrays=True, n=3, size=16)
    assert ixi["images"].shape == (3, 1, 16, 16, 16)


def test_oasis_twin_has_session_folders_sheets_and_analyze_images(twins, tmp_path, monkeypatch):
    out, manifest = twins
    with tarfile.open(out / "oasis_cross-sectional_disc1.tar.gz", "r:gz") as tf:
        names = tf.getnames()
        tf.extractall(tmp_path, filter="data")
    sid = "OAS1_0001_MR1"
    stem = f"disc1/{sid}/PROCESSED/MPRAGE/T88_111/{sid}_mpr_n4_anon_111_t88_masked_gfc"
    assert {f"disc1/{sid}/{sid}.txt", f"{stem}.hdr", f"{stem}.img"} <= set(names)
    img = nib.load(tmp_path / f"{stem}.img")
    assert isinstance(img, nib.AnalyzeImage) and img.shape[-1] == 1 and img.get_data_dtype() == np.int16
    sheet = (tmp_path / f"disc1/{sid}/{sid}.txt").read_text()
    assert "M/F:" in sheet and "CDR:" in sheet and "nWBV:" in sheet
    monkeypatch.setenv("MEDIMG_REGISTRY", str(manifest))
    monkeypatch.setenv("MEDIMG_DATA", str(tmp_path / "cache"))
    splits = {s: mk.load("oasis1-disc1", split=s, as_arrays=True, size=16) for s in ("train", "val", "test")}
    subjects = [set(d["subject"]) for d in splits.values()]
    assert sum(map(len, subjects)) == 20 and not (subjects[0] & subjects[1] | subjects[0] & subjects[2])
    tr = splits["train"]
    assert tr["images"].shape == (3 * len(subjects[0]), 1, 16, 16) and 0 <= tr["images"].min() < tr["images"].max() <= 1
    meta = tr["metadata"]
    assert list(tr["labels"]) == [int(s == "M") for s in meta["sex"]]
    assert meta.loc[meta.age < 60, "cdr"].isna().all()  # young subjects have no dementia rating
    assert set(meta.columns) >= {"subject", "sex", "age", "cdr", "mmse", "etiv", "nwbv"}


def test_oasis_sheet_without_sex_is_refused(tmp_path):
    from medimg_kernel.data.datalists import oasis_session_info
    from medimg_kernel.errors import RegistryError

    p = tmp_path / "OAS1_0001_MR1.txt"
    p.write_text("SESSION ID: OAS1_0001_MR1\nAGE: 74\nCDR:\n")
    with pytest.raises(RegistryError, match="OAS1_0001_MR1.txt: no 'M/F:' line"):
        oasis_session_info(p)
    p.write_text("AGE: 74\nM/F: Female\nCDR: \nMMSE: 29\n")
    info = oasis_session_info(p)
    assert info["sex"] == "F" and info["age"] == 74 and np.isnan(info["cdr"]) and info["mmse"] == 29


def test_twin_of_a_dataset_without_a_family_is_refused_before_writing(tmp_path):
    with pytest.raises(ConfigError, match="no format twin for 'synthetic-mednist'"):
        write_twins(["mednist", "synthetic-mednist"], tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_redefined_dataset_with_the_wrong_layout_is_refused_and_nothing_is_left(tmp_path, monkeypatch):
    # a mirror whose "MedNIST.tar.gz" is really an MSD tar: the hash matches the manifest, the layout does not
    src = make_twin("msd-spleen", tmp_path / "src")
    wrong = make_twin("mednist", tmp_path / "m")
    wrong["files"][0].update(urls=src["files"][0]["urls"], sha256=src["files"][0]["sha256"],
                             size=src["files"][0]["size"])
    man = tmp_path / "bad.yaml"
    man.write_text(yaml.safe_dump({"datasets": [wrong]}))
    cache = tmp_path / "cache"
    res = subprocess.run([sys.executable, "-m", "medimg_kernel", "data", "fetch", "mednist", "--manifest", str(man),
                          "--quiet"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MEDIMG_DATA": str(cache)})
    assert res.returncode != 0
    err = [ln for ln in res.stderr.splitlines() if "error" in ln]
    assert len(err) == 1, res.stderr
    assert "MedNIST.tar.gz" in err[0] and "MedNIST/<ClassName>/<n>.jpeg" in err[0] and "nothing was extracted" in err[0]
    left = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert left == [], left


def test_medmnist_npz_with_the_wrong_keys_is_refused(tmp_path, monkeypatch):
    e = make_twin("pneumoniamnist", tmp_path / "m")
    bad = tmp_path / "m" / "pneumoniamnist.npz"
    np.savez(bad, images=np.zeros((2, 28, 28), np.uint8))
    import hashlib

    e["files"][0].update(sha256=hashlib.sha256(bad.read_bytes()).hexdigest(), size=bad.stat().st_size)
    man = tmp_path / "bad.yaml"
    man.write_text(yaml.safe_dump({"datasets": [e]}))
    monkeypatch.setenv("MEDIMG_DATA", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="pneumoniamnist.npz of dataset 'pneumoniamnist' is not an .npz holding"):
        mk.fetch("pneumoniamnist", manifests=[man], progressbar=False)
    assert not (tmp_path / "cache" / "pneumoniamnist" / "pneumoniamnist.npz").exists()


def test_oasis_layout_accepts_session_folders_and_refuses_other_archives():
    from medimg_kernel.data.layouts import LAYOUTS

    words, ok = LAYOUTS["oasis1"]
    sid = "OAS1_0001_MR1"
    assert ok([f"disc1/{sid}/{sid}.txt", f"disc1/{sid}/RAW/{sid}_mpr-1_anon.img"])
    assert not ok([f"disc1/{sid}/{sid}.txt"])  # a sheet without any image
    assert not ok(["IXI002-Guys-0828-T1.nii.gz"]) and not ok([f"disc1/{sid}/OAS1_0002_MR1.txt", "x.img"])
    assert "OAS1_<id>_MR<k>" in words
