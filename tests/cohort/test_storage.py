"""Object storage against a real S3-compatible server (moto_server on 127.0.0.1), not a client mock."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

import medimg_kernel as mk

SECRET = "medimg-SECRET-do-not-print"


def _boto(options):
    import boto3

    return boto3.client("s3", endpoint_url=options["client_kwargs"]["endpoint_url"], region_name="us-east-1",
                        aws_access_key_id=options["key"], aws_secret_access_key=options["secret"])


@pytest.fixture(scope="module")
def s3_cohort(s3_server, faulty_cohort):
    folder, _ = faulty_cohort
    _boto(s3_server).create_bucket(Bucket="medimg-cohort")  # plain boto3: the server is a real S3 API
    urls = mk.cohort.upload(folder, "s3://medimg-cohort/study1", s3_server, progress=False)
    return urls


def _comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["path", "image"]).reset_index(drop=True)


def test_scan_of_a_bucket_prefix_equals_the_local_scan(s3_cohort, s3_server, faulty_cohort, dask_client):
    folder, _ = faulty_cohort
    assert any(u.endswith("_label.nii.gz") for u in s3_cohort) and all(u.startswith("s3://") for u in s3_cohort)
    local = mk.cohort.scan(folder, client=dask_client, progress=False)
    remote = mk.cohort.scan("s3://medimg-cohort/study1", client=dask_client, storage_options=s3_server,
                            progress=False)
    assert remote.path.str.startswith("s3://medimg-cohort/study1/").all()
    labels = remote[remote.role == "label"]
    assert labels.image.str.startswith("s3://").all()
    # the DICOM series path is the folder of its files, in either store
    pd.testing.assert_frame_equal(_comparable(local).drop(columns=["error"]),
                                  _comparable(remote).drop(columns=["error"]))
    assert (local.error.isna() == remote.error.isna()).all()
    result = mk.cohort.audit(remote, label_map=mk.cohort.LABEL_MAP)
    assert result.truncated.sum() == 1 and result.duplicate.sum() == 1


def test_zarr_in_the_bucket_reads_back_lazily(s3_server):
    vol = np.random.default_rng(1).normal(size=(20, 18, 16)).astype(np.float32)
    store = mk.cohort.to_zarr(vol, "s3://medimg-cohort/zarr/v.zarr", chunks=(8, 8, 8), storage_options=s3_server)
    lazy = mk.cohort.open_dask(store, storage_options=s3_server)
    assert lazy.numblocks == (3, 3, 2)
    assert lazy.compute().tobytes() == vol.tobytes()


def test_missing_bucket_is_a_clear_error(s3_server):
    with pytest.raises(mk.MedimgKernelError, match="'no-such-bucket'.*does not exist") as err:
        mk.cohort.scan("s3://no-such-bucket/x", storage_options=s3_server, progress=False)
    assert "127.0.0.1" in str(err.value) and SECRET not in str(err.value)
    with pytest.raises(mk.MedimgKernelError, match="does not exist"):
        mk.cohort.upload(".", "s3://no-such-bucket/x", s3_server, progress=False)


def test_read_only_bucket_is_a_clear_error(s3_server, tmp_path):
    s3 = _boto(s3_server)
    s3.create_bucket(Bucket="medimg-readonly")
    s3.put_object(Bucket="medimg-readonly", Key="data/a.txt", Body=b"x")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                                                       "Resource": "arn:aws:s3:::medimg-readonly/*"}]}
    s3.put_bucket_policy(Bucket="medimg-readonly", Policy=json.dumps(policy))
    (tmp_path / "f.txt").write_text("hello")
    mk.cohort.check_bucket("s3://medimg-readonly/data", s3_server)  # reading is fine
    with pytest.raises(mk.MedimgKernelError, match="read-only") as err:
        mk.cohort.check_bucket("s3://medimg-readonly/data", s3_server, write=True)
    assert SECRET not in str(err.value)
    with pytest.raises(mk.MedimgKernelError, match="access denied"):
        mk.cohort.upload(tmp_path, "s3://medimg-readonly/data", s3_server, progress=False)


def test_credentials_never_reach_logs_or_output(s3_server, s3_cohort, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    mk.cohort.scan("s3://medimg-cohort/study1/sub-0001", storage_options=s3_server, progress=True)
    try:
        mk.cohort.scan("s3://no-such-bucket/x", storage_options=s3_server, progress=False)
    except mk.MedimgKernelError as err:
        print(err)
    out = capsys.readouterr()
    assert SECRET not in caplog.text and SECRET not in out.out and SECRET not in out.err
    assert mk.cohort.redact(s3_server)["secret"] == "***" and mk.cohort.redact(s3_server)["key"] == "***"
    assert mk.cohort.redact(s3_server)["client_kwargs"]["endpoint_url"].startswith("http://127.0.0.1")


def test_options_sent_to_workers_hide_their_secret(s3_server):
    from medimg_kernel.cohort.storage import StorageOptions

    opts = StorageOptions(s3_server)
    assert SECRET not in repr(opts) and SECRET not in str(opts) and SECRET not in repr([opts])
    assert opts["secret"] == SECRET  # the value itself is intact for s3fs
    import pickle

    assert pickle.loads(pickle.dumps(opts)) == s3_server
