"""mk.cohort.client(): a machine-sized LocalCluster, a scheduler address, clear errors, bounded memory."""

from __future__ import annotations

import shutil
import socket

import nibabel as nib
import numpy as np
import pytest

import medimg_kernel as mk
from medimg_kernel.cohort.engine import _cpu_count


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_one_line_naming_it():
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(mk.MedimgKernelError) as err:
        mk.cohort.client(address, timeout=2)
    msg = str(err.value)
    assert address in msg and "\n" not in msg and "MEDIMG_DASK_SCHEDULER" in msg
    assert isinstance(err.value, ConnectionError)


def test_credentials_in_an_address_are_not_shown():
    with pytest.raises(mk.MedimgKernelError) as err:
        mk.cohort.client(f"tls://alice:hunter2@127.0.0.1:{_free_port()}", timeout=1)
    assert "hunter2" not in str(err.value) and "127.0.0.1" in str(err.value)


def test_env_variable_points_at_a_running_scheduler(monkeypatch):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=False, protocol="tcp", dashboard_address=None) as cluster:
        monkeypatch.setenv(mk.cohort.SCHEDULER_ENV, cluster.scheduler_address)
        with mk.cohort.client() as c:
            assert c.scheduler.address == cluster.scheduler_address
            assert c.submit(sum, [1, 2, 3]).result() == 6


def test_default_cluster_is_sized_to_the_machine(monkeypatch):
    monkeypatch.delenv(mk.cohort.SCHEDULER_ENV, raising=False)
    with mk.cohort.client(processes=False) as c:
        workers = c.scheduler_info()["workers"].values()
        assert len(workers) == _cpu_count() and all(w["nthreads"] == 1 for w in workers)
        assert c.dashboard_link.startswith("http")
        out = mk.cohort.map_tasks(pow, range(20), client=c, progress=False, exp=2)
        assert out == [i**2 for i in range(20)]
    c.cluster.close()


@pytest.mark.slow
def test_cohort_ten_times_the_worker_memory_streams_through(tmp_path):
    limit = 320 * 2**20
    vol = np.zeros((256, 256, 64))  # float64, 32 MiB decoded, a few kB on disk
    vol[64:192, 64:192, 8:56] = 1.0
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "s000.nii.gz")
    n = int(np.ceil(10.5 * limit / vol.nbytes))
    for i in range(1, n):
        shutil.copyfile(tmp_path / "s000.nii.gz", tmp_path / f"s{i:03d}.nii.gz")
    assert n * vol.nbytes >= 10 * limit
    c = mk.cohort.client(n_workers=1, memory_limit=limit, processes=True, dashboard=False)
    try:
        before = set(c.scheduler_info()["workers"])
        table = mk.cohort.scan(tmp_path, client=c, progress=False)
        assert len(table) == n and table.error.isna().all()
        assert (table["max"] == 1.0).all() and table.nan_count.eq(0).all()
        assert set(c.scheduler_info()["workers"]) == before  # no worker was killed and restarted
        (mem,) = mk.cohort.worker_peak_memory(c).values()
        assert mem["limit"] == limit and mem["peak"] <= limit, mem
    finally:
        c.close()
        c.cluster.close()
