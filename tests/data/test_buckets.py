"""NCI IDC-style bucket datasets: pinned DICOM series fetched from a real S3 server (moto) on 127.0.0.1.

The registry entry is the shipped one (``datasets/idc.yaml``: real IDC series UUIDs and SeriesInstanceUIDs);
its format twin puts DICOM series with those UIDs into a **public** bucket of a local S3 server, and a manifest
redefines the entry's endpoint, exactly as an instructor's mirror would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
import yaml

import medimg_kernel as mk
from medimg_kernel.data.buckets import LOCK_NAME
from medimg_kernel.data.twins import write_twins
from medimg_kernel.errors import ChecksumError, DownloadError, RegistryError

IDC = "idc-qiba-ct-liver-phantom"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s3():
    with mk.cohort.LocalS3() as server:
        yield server


def _client(server):
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id="k", aws_secret_access_key="s")


@pytest.fixture(scope="module")
def twin_files(s3, tmp_path_factory):
    root = tmp_path_factory.mktemp("idc")
    man = write_twins([IDC], root / "tw", base_url=s3.endpoint, progress=False)
    return man, root / "tw" / "idc-open-data"


def _bucket(s3, twin_files, tmp_path, name):
    """A public bucket ``name`` holding the twin, a manifest pointing at it, and a cache folder."""
    man, files = twin_files
    doc = yaml.safe_load(man.read_text())
    doc["datasets"][0]["options"]["bucket"] = name
    out = tmp_path / "twins.yaml"
    out.write_text(yaml.safe_dump(doc))
    if not s3.create_bucket(name, public=True) or not _client(s3).list_objects_v2(Bucket=name).get("KeyCount"):
        mk.cohort.upload(files, f"s3://{name}", s3.storage_options, progress=False)
    return {"manifest": out, "bucket": name, "cache": tmp_path / "cache", "twin": files}


@pytest.fixture
def shared(s3, twin_files, tmp_path):
    """The twin in one bucket shared by the tests that only read it."""
    return _bucket(s3, twin_files, tmp_path, "idc-open-data")


@pytest.fixture
def own(s3, twin_files, tmp_path):
    """The twin in a bucket of this test's own (for tests that change the bucket)."""
    return _bucket(s3, twin_files, tmp_path, f"idc-{tmp_path.name[-10:].lower().replace('_', '-')}")


def _fetch(t):
    return mk.fetch(IDC, manifests=[t["manifest"]], data_dir=t["cache"], progressbar=False)


def test_the_shipped_entry_pins_real_idc_series():
    e = mk.dataset_info(IDC)
    assert e.source == "bucket" and e.loader == "dicom_series" and e.options["bucket"] == "idc-open-data"
    assert e.options["anonymous"] is True and "endpoint_url" not in e.options  # AWS, no credentials
    assert len(e.options["series"]) == 4 and all(s["instances"] == 43 for s in e.options["series"])
    assert [s["description"].split()[-1] for s in e.options["series"]] == ["B20f", "B30f", "B50f", "B70f"]
    assert "10.7937/tcia.rmv0-9y95" in e.citation and e.license == "CC BY 4.0"


def test_fetch_verifies_locks_and_then_works_offline(shared, monkeypatch):
    twin = shared
    folder = _fetch(twin)
    files = sorted(folder.rglob("*.dcm"))
    assert len(files) == 4 * 43
    lock = json.loads((folder / LOCK_NAME).read_text())
    assert len(lock["files"]) == 172 and lock["source"].startswith(f"s3://{twin['bucket']}@http://127.0.0.1:")
    twin_file = twin["twin"] / files[0].relative_to(folder)
    assert files[0].read_bytes() == twin_file.read_bytes()  # the bucket's bytes, unchanged
    assert mk.data.fetcher.is_cached(mk.dataset_info(IDC, [twin["manifest"]]), twin["cache"])
    # no network at all: a second fetch trusts the locked files
    import fsspec

    def no_network(*a, **k):
        raise AssertionError("the second fetch touched the bucket")

    monkeypatch.setattr(fsspec, "filesystem", no_network)
    assert _fetch(twin) == folder


def test_a_locally_corrupted_file_is_downloaded_again(shared):
    twin = shared
    folder = _fetch(twin)
    victim = sorted(folder.rglob("*.dcm"))[5]
    good = victim.read_bytes()
    victim.write_bytes(good[:100])
    assert _fetch(twin) == folder
    assert victim.read_bytes() == good


def test_changed_bytes_in_the_bucket_fail_against_the_lock(own, s3):
    twin = own
    folder = _fetch(twin)
    victim = sorted(folder.rglob("*.dcm"))[3]
    rel = victim.relative_to(folder).as_posix()
    import pydicom

    ds = pydicom.dcmread(victim)
    ds.PatientName = "Someone^Else"  # still DICOM of the same series: only the lock can tell
    ds.save_as(victim.with_name("x.dcm"))
    _client(s3).put_object(Bucket=twin["bucket"], Key=rel, Body=victim.with_name("x.dcm").read_bytes())
    victim.with_name("x.dcm").unlink()
    victim.unlink()
    with pytest.raises(ChecksumError, match="differs from the lock"):
        _fetch(twin)
    assert not victim.exists() and not list(folder.rglob("*.part"))  # nothing unverified is kept


def test_an_object_of_another_series_is_refused(own, s3, tmp_path):
    twin = own
    first = sorted(twin["twin"].rglob("*.dcm"))[0]
    import pydicom

    ds = pydicom.dcmread(first)
    ds.SeriesInstanceUID = "1.2.3.4"
    ds.save_as(tmp_path / "other.dcm")
    _client(s3).put_object(Bucket=twin["bucket"], Key=first.relative_to(twin["twin"]).as_posix(),
                           Body=(tmp_path / "other.dcm").read_bytes())
    with pytest.raises(ChecksumError, match="not the pinned"):
        _fetch(twin)


def test_a_missing_object_is_a_count_mismatch(own, s3):
    twin = own
    key = sorted(twin["twin"].rglob("*.dcm"))[-1].relative_to(twin["twin"]).as_posix()
    _client(s3).delete_object(Bucket=twin["bucket"], Key=key)
    with pytest.raises(ChecksumError, match="has 42 objects .* pins 43"):
        _fetch(twin)


def test_a_private_bucket_refuses_anonymous_reads(s3, twin_files, tmp_path):
    man, files = twin_files
    doc = yaml.safe_load(man.read_text())
    doc["datasets"][0]["options"]["bucket"] = "private-copy"
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(doc))
    s3.create_bucket("private-copy")  # no public policy
    first = mk.dataset_info(IDC).options["series"][0]["folder"]  # one series is enough: its first read fails
    mk.cohort.upload(files / first, f"s3://private-copy/{first}", s3.storage_options, progress=False)
    with pytest.raises(DownloadError, match="could not download .*Forbidden"):
        mk.fetch(IDC, manifests=[tmp_path / "m.yaml"], data_dir=tmp_path / "cache", progressbar=False)


def test_a_twin_lock_never_passes_for_the_real_bucket(shared):
    twin = shared
    folder = _fetch(twin)
    lock = json.loads((folder / LOCK_NAME).read_text())
    real = mk.dataset_info(IDC)  # the shipped entry: AWS, not the twin's endpoint
    assert not mk.data.fetcher.is_cached(real, twin["cache"])
    assert lock["source"] != f"s3://{real.options['bucket']}@aws"


def test_load_gives_series_folders_that_read_as_volumes(shared):
    twin = shared
    items = mk.load(IDC, manifests=[twin["manifest"]], data_dir=twin["cache"])
    assert [Path(i["image"]).name for i in items] == [s["folder"] for s in mk.dataset_info(IDC).options["series"]]
    vol = mk.read_image(items[0]["image"]).array
    assert vol.shape == (32, 32, 43) and vol.min() < -900 < 0 < vol.max()  # air and the water phantom, in HU
    noise = [mk.cohort.series_noise(i["image"])["noise_sd"] for i in items]
    assert np.all(np.diff(noise) > 0)  # the twin's kernels get noisier by construction, B20f -> B70f
    bad = mk.cohort.series_noise(str(twin["cache"] / "nothing-here"))
    assert bad["error"] and np.isnan(bad["noise_sd"])


def test_registry_refuses_a_bucket_entry_without_series(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"datasets": [{"name": "x-idc", "title": "t", "source": "bucket", "modality": "CT",
                                                 "task": "t", "license": "CC0", "loader": "dicom_series",
                                                 "options": {"bucket": "b"}}]}))
    with pytest.raises(RegistryError, match="options.bucket and options.series"):
        mk.data.registry.load_manifest(bad)


def test_pin_script_writes_an_entry_from_an_idc_index(tmp_path):
    cols = {c: ["x"] for c in ("collection_id", "PatientID", "SeriesInstanceUID", "StudyInstanceUID", "Modality",
                               "license_short_name", "crdc_series_uuid", "source_DOI", "aws_bucket",
                               "SeriesDescription", "TransferSyntaxUID")}
    table = pd.DataFrame({**cols, "instanceCount": [7], "series_size_MB": [1.5]})
    table = table.assign(collection_id="demo", crdc_series_uuid="u-1", SeriesInstanceUID="1.2.3", Modality="MR",
                         aws_bucket="s3://idc-open-data", license_short_name="CC BY 4.0", source_DOI="10.1/x")
    index = tmp_path / "index.parquet"
    table.to_parquet(index)
    out = subprocess.run([sys.executable, str(ROOT / "datasets" / "_pin_idc.py"), "--collection", "demo",
                          "--series", "u-1", "--name", "idc-demo", "--index", str(index)],
                         capture_output=True, text=True, check=True).stdout
    (tmp_path / "idc.yaml").write_text(out)
    (entry,) = mk.data.registry.load_manifest(tmp_path / "idc.yaml")
    assert entry.source == "bucket" and entry.options["series"][0] == {
        "folder": "u-1", "series_uid": "1.2.3", "instances": 7, "size_mb": 1.5, "patient": "x", "modality": "MR",
        "description": "x"}
    missing = subprocess.run([sys.executable, str(ROOT / "datasets" / "_pin_idc.py"), "--collection", "demo",
                              "--series", "u-2", "--name", "idc-demo", "--index", str(index)],
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "not in the index for demo: u-2" in missing.stderr


def test_a_bucket_twin_needs_the_s3_endpoint_and_packs_refuse_bucket_data(tmp_path):
    from medimg_kernel.errors import ConfigError

    with pytest.raises(ConfigError, match="lives in a bucket: give base_url"):
        write_twins([IDC], tmp_path / "tw", progress=False)
    assert not (tmp_path / "tw").exists()  # refused before anything was written
    out = subprocess.run([sys.executable, "-m", "medimg_kernel", "data", "twin", IDC, "-o", str(tmp_path / "t2")],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "give base_url (--base-url)" in out.stderr and len(out.stderr.splitlines()) <= 2
    from medimg_kernel.data.packs import pack

    with pytest.raises(ConfigError, match="packs do not hold yet"):
        pack([IDC], tmp_path / "p.tar", data_dir=tmp_path / "cache")
