# Assignment 12 - Large-scale analytics on Dask: a mappable audit check, duplicates and flips, per-site groupby,
# a chunked Zarr array read lazily, the same code on any Dask cluster.
# Authoring source of assignments/source/12_large_scale_cloud/12_large_scale_cloud.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 12 — Cohort analytics at scale
#
# Lesson 12 scanned a cohort into a table with `mk.cohort.scan`, audited it and computed features as Dask
# tasks. Here you write the pieces an analyst adds: an audit check that maps over a Dask bag, the
# duplicate and flipped scans of a planted cohort, and a per-site summary with a Dask dataframe.
#
# * Use `pandas`, `numpy` and `dask`; not `mk.cohort.audit` or `mk.cohort.ROW_CHECKS` in your answers.
# * Run the test cell below each exercise: it prints one line per check, with a hint when one fails.
#   The grader also runs **hidden tests** (other tables, edge cases), so solve the general problem.
# * No cluster is needed: the tests run Dask's local schedulers.
#
# | Exercise | Points |
# |---|---|
# | 1. A geometry check as a Dask-mappable function | 3 |
# | 2. Find the duplicate and the flipped scans | 3 |
# | 3. Per-site feature summary with a Dask dataframe | 3 |
# | 4. Written answer: a measured speedup curve | 2 |
# | 5. Chunked Zarr and lazy reads | 3 |
# | 6. The same code on any cluster | 3 |

# %% readonly id=setup
import dask.bag as db
import dask.dataframe as dd
import numpy as np
import pandas as pd
from cohort_data import MEASURED_CURVE, PLANTED, feature_table, planted_cohort  # the helper file

import medimg_kernel as mk

# your own variant: the seed comes from your student id (mk.student_id()), so your cohort (its size, its scans
# and which of them carry the planted faults) differs from your neighbour's; solve the general problem
rng = np.random.default_rng(mk.variant_seed("12_large_scale_cloud"))
table, truth, folder = planted_cohort(n_scans=int(rng.integers(27, 34)), seed=int(rng.integers(100_000)),
                                      faults=[str(f) for f in rng.permutation(PLANTED)])
feats = feature_table(table)
print("variant of", mk.student_id(), "-", len(table), "rows:", table.groupby(["format", "role"]).size().to_dict(),
      f"| mean lesion intensity {feats['mean'][feats.label == 2].mean():.2f}")
print(table[["path", "role", "shape", "spacing", "orientation", "data_hash", "error"]].head(3).to_string())

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — A geometry check as a Dask-mappable function (3 points)
#
# An audit check is a plain function of **one table row** (a `dict` with the table's columns), so that
# `db.from_sequence(table.to_dict("records")).map(check)` runs it on every scan, on any cluster.
#
# Implement `check_geometry(row, max_anisotropy=4.0)`. It returns the Python bool `True` when a
# **readable image** row (`row["role"] == "image"` and `row["error"]` is None) has an implausible voxel
# size: a spacing value that is not finite or not positive, or a largest spacing more than
# `max_anisotropy` times the smallest. Every other row (labels, unreadable files) returns `False`.

# %% solution id=ex1_answer exercise=check_geometry
def check_geometry(row, max_anisotropy=4.0):
    """True for a readable image with a non-positive/non-finite spacing or too anisotropic voxels."""
    ### BEGIN SOLUTION
    if row.get("role") != "image" or row.get("error") is not None or row.get("spacing") is None:
        return False
    sp = np.asarray(row["spacing"][:3], dtype=float)
    if not np.isfinite(sp).all() or (sp <= 0).any():
        return True
    return bool(sp.max() / sp.min() > max_anisotropy)
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_rows_by_hand():
    """(1, 1, 5) mm is 5x anisotropic; (1, 1, 2) is fine; a zero spacing is implausible. Hint: max / min"""
    img = {"role": "image", "error": None}
    assert check_geometry({**img, "spacing": (1.0, 1.0, 5.0)}) is True
    assert check_geometry({**img, "spacing": (1.0, 1.0, 2.0)}) is False
    assert check_geometry({**img, "spacing": (1.0, 0.0, 1.0)}) is True


def test_maps_over_the_planted_cohort():
    """mapped over a Dask bag of the table, it flags exactly the anisotropic scan. Hint: labels and errors are False"""
    flags = db.from_sequence(table.to_dict("records"), npartitions=4).map(check_geometry).compute(scheduler="sync")
    flagged = [p for p, f in zip(table.path, flags) if f]
    assert flagged == truth.path[truth.fault == "anisotropy"].tolist()


mk.check("check_geometry", test_rows_by_hand, test_maps_over_the_planted_cohort, budget=5)
### BEGIN HIDDEN TESTS
def _geo_threshold_and_types():
    img = {"role": "image", "error": None, "spacing": (0.5, 0.5, 3.0)}
    assert check_geometry(img, max_anisotropy=8.0) is False and check_geometry(img) is True
    assert isinstance(check_geometry(img), bool)


def _geo_nan_labels_errors():
    assert check_geometry({"role": "image", "error": None, "spacing": (1.0, float("nan"), 1.0)}) is True
    assert check_geometry({"role": "image", "error": None, "spacing": (-1.0, 1.0, 1.0)}) is True
    assert check_geometry({"role": "label", "error": None, "spacing": (1.0, 1.0, 9.0)}) is False
    assert check_geometry({"role": "image", "error": "truncated: EOFError", "spacing": None}) is False


def _geo_bag_keyword():
    rows = [{"role": "image", "error": None, "spacing": (1.0, 1.0, s)} for s in (1.0, 3.0, 6.0)]
    assert db.from_sequence(rows, npartitions=2).map(check_geometry, max_anisotropy=2.0).compute(
        scheduler="sync") == [False, True, True]


mk.check("check_geometry", _geo_threshold_and_types, _geo_nan_labels_errors, _geo_bag_keyword, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — The duplicate and the flipped scans (3 points)
#
# Only **readable image** rows count (role `"image"`, no `error`).
#
# * `find_duplicates(table)` returns the sorted list of paths that repeat an earlier scan's voxels: rows
#   with the same `data_hash` form a group; the path that sorts first is the original and every other
#   path of the group is a duplicate.
# * `find_flipped(table)` returns the sorted list of paths whose `orientation` differs from the most
#   common orientation **of the rows of the same `format`** (`"nifti"` or `"dicom"`: DICOM and NIfTI
#   tools report different axis conventions, so compare NIfTI with NIfTI and DICOM with DICOM).

# %% solution id=ex2_answer exercise=duplicates_flips
def find_duplicates(table):
    """Paths of readable images whose voxel hash repeats an earlier (sorted) path's."""
    ### BEGIN SOLUTION
    ok = table[(table.role == "image") & table.error.isna()].sort_values("path")
    return sorted(ok.path[ok.duplicated("data_hash", keep="first")])
    ### END SOLUTION


def find_flipped(table):
    """Paths of readable images whose orientation is not the most common one of their format."""
    ### BEGIN SOLUTION
    ok = table[(table.role == "image") & table.error.isna()]
    out = []
    for _, group in ok.groupby("format"):
        ref = group.orientation.mode().iat[0]
        out += group.path[group.orientation != ref].tolist()
    return sorted(out)
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_planted_duplicate():
    """the planted copy is found, its original is not. Hint: DataFrame.duplicated(keep="first") on sorted paths"""
    assert find_duplicates(table) == truth.path[truth.fault == "duplicate"].tolist()


def test_planted_flip():
    """the planted flipped scan is found, the DICOM series is not. Hint: the mode of orientation per format"""
    assert find_flipped(table) == truth.path[truth.fault == "flipped"].tolist()


mk.check("duplicates_flips", test_planted_duplicate, test_planted_flip, budget=10)
### BEGIN HIDDEN TESTS
def _toy_table():
    return pd.DataFrame({
        "path": ["c.nii", "a.nii", "b.nii", "d.nii", "e.nii", "f.nii", "s1", "s2", "s3", "g_label.nii"],
        "role": ["image"] * 9 + ["label"],
        "format": ["nifti"] * 6 + ["dicom"] * 3 + ["nifti"],
        "orientation": ["ASL", "ASL", "PSL", "ASL", "ASL", "IPR", "LIP", "LIP", "ASL", "PSL"],
        "data_hash": ["h1", "h1", "h2", "h1", None, "h3", "h4", "h4", "h5", "h1"],
        "error": [None, None, None, None, "truncated: x", None, None, None, None, None],
    })


def _dup_groups_order_and_errors():
    assert find_duplicates(_toy_table()) == ["c.nii", "d.nii", "s2"]


def _flip_per_format():
    assert find_flipped(_toy_table()) == ["b.nii", "f.nii", "s3"]


def _none_when_clean():
    t = _toy_table().iloc[[1, 6]]
    assert find_duplicates(t) == [] and find_flipped(t) == []


mk.check("duplicates_flips", _dup_groups_order_and_errors, _flip_per_format, _none_when_clean, budget=10,
         hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Per-site summary with a Dask dataframe (3 points)
#
# `feats` has one row per scan and label value with radiomics-style features (`mean` intensity,
# `volume_mm3`, ...) and the scan's `site`. On a cluster such a table is a Dask dataframe split into
# partitions. Implement `site_summary(ddf, label=2)`: from the Dask dataframe `ddf`, keep the rows of
# `label`, group them by `site` and return a **pandas** DataFrame indexed by site (sorted) with the columns
# `n` (number of rows), `mean_intensity` (mean of `mean`) and `mean_volume_mm3` (mean of `volume_mm3`).
# Do the groupby in Dask and call `.compute()` on the small result, not on the whole table.

# %% solution id=ex3_answer exercise=site_summary
def site_summary(ddf, label=2):
    """Per-site count, mean intensity and mean volume of one label, computed with a Dask groupby."""
    ### BEGIN SOLUTION
    part = ddf[ddf["label"] == label]
    g = part.groupby("site")
    out = dd.concat([g["mean"].count().rename("n"), g["mean"].mean().rename("mean_intensity"),
                     g["volume_mm3"].mean().rename("mean_volume_mm3")], axis=1).compute()
    out["n"] = out["n"].astype(int)
    return out.sort_index()
    ### END SOLUTION

# %% tests id=ex3_tests points=3
def _reference(frame, label):
    part = frame[frame.label == label]
    return part.groupby("site").agg(n=("mean", "size"), mean_intensity=("mean", "mean"),
                                    mean_volume_mm3=("volume_mm3", "mean")).sort_index()


def test_lesions_per_site():
    """lesion (label 2) summary per site equals a pandas groupby. Hint: ddf[ddf.label == label].groupby("site")"""
    got = site_summary(dd.from_pandas(feats, npartitions=3))
    assert isinstance(got, pd.DataFrame), "return the computed pandas DataFrame"
    ref = _reference(feats, 2)
    assert list(got.index) == list(ref.index) and list(got.columns) == ["n", "mean_intensity", "mean_volume_mm3"]
    assert np.allclose(got.to_numpy(float), ref.to_numpy(float))


def test_site_scale_shows():
    """site B's scanner scales intensities by 1.25, site C's by 0.8. Hint: compare mean_intensity"""
    got = site_summary(dd.from_pandas(feats, npartitions=2))
    assert got.loc["B", "mean_intensity"] > got.loc["A", "mean_intensity"] > got.loc["C", "mean_intensity"]


mk.check("site_summary", test_lesions_per_site, test_site_scale_shows, budget=20)
### BEGIN HIDDEN TESTS
def _toy_feats():
    rng = np.random.default_rng(7)
    return pd.DataFrame({"site": rng.choice(list("WXYZ"), 90), "label": rng.choice([1, 2, 3], 90),
                         "mean": rng.normal(100, 20, 90), "volume_mm3": rng.uniform(10, 900, 90)})


def _summary_other_label_and_partitions():
    frame = _toy_feats()
    for label, parts in ((1, 5), (3, 1)):
        got = site_summary(dd.from_pandas(frame, npartitions=parts), label=label)
        ref = _reference(frame, label)
        assert list(got.index) == list(ref.index) and np.allclose(got.to_numpy(float), ref.to_numpy(float))
        assert np.array_equal(got["n"].to_numpy(), ref["n"].to_numpy())


def _summary_is_pandas_with_sorted_sites():
    got = site_summary(dd.from_pandas(_toy_feats().iloc[::-1], npartitions=4))
    assert isinstance(got, pd.DataFrame) and list(got.index) == sorted(got.index)


mk.check("site_summary", _summary_other_label_and_partitions, _summary_is_pandas_with_sorted_sites, budget=20,
         hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q4_text
# ## Exercise 4 — Written answer: a measured speedup curve (2 points, graded by your instructor)
#
# `MEASURED_CURVE` (below) was measured with `mk.cohort.speedup_curve` on a shared 2-core machine:
# the same batch of feature tasks run serially and on a 2-worker Dask `LocalCluster`, for tasks of
# increasing duration. In four or five sentences: why is the speedup far below 1 for the shortest tasks,
# why does it grow with the task duration, why does it stay below the ideal 2 here, and how would you
# run a cohort of 20,000 scans whose check takes 5 ms each?

# %% readonly id=q4_curve
print(MEASURED_CURVE.round(3).to_string(index=False))

# %% [markdown] manual id=q4_answer points=2
# ### BEGIN SOLUTION
# Every Dask task costs a fixed overhead (scheduling, pickling the function and its arguments, sending
# them to a worker process and the result back: milliseconds), so a 4 ms task spends most of its wall time
# in overhead and the cluster is several times slower than a plain loop. As the work per task grows the
# overhead becomes a small fraction and the speedup rises towards the number of workers. It stays below 2
# here because the machine was shared: the two workers competed with other jobs (and with the client
# process) for two cores, so there was less than two cores' worth of CPU to gain. For 20,000 checks of
# 5 ms I would batch them, e.g. 100-500 files per task (`db.from_sequence(paths, partition_size=200)` or a
# batch size in `map_tasks`), so each task runs for about a second, or simply run them in one process:
# 20,000 x 5 ms is under two minutes.
# ### END SOLUTION

# %% [markdown] rubric id=q4_rubric for=q4_answer
# - 1: short tasks lose because each task has a fixed scheduling/serialisation/communication overhead comparable to or larger than the work; longer tasks amortise it, so the speedup grows towards the number of workers
# - 1: names a real limit below the ideal (a shared/busy machine, cores competing with the client, memory or I/O bound) and proposes batching many 5 ms checks into tasks of ~0.1-1 s (or running serially)

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — Chunked Zarr and lazy reads (3 points)
#
# A cohort of volumes is too large to load at once, so it is stored as one chunked **Zarr** array and read
# in pieces. `stack` below holds your volumes, shape `(N, D, H, W)`.
#
# 1. `to_zarr(volumes, path, chunk_depth)` writes `volumes` to a new Zarr array at `path` (a folder) with
#    chunks `(1, chunk_depth, H, W)`: one volume and `chunk_depth` slices per chunk. Return the array
#    (`zarr.create_array(...)`, then assign the data).
# 2. `slab_means(path, z0, z1)` opens that array **lazily** (`dask.array.from_zarr`) and returns the mean
#    intensity of slices `z0:z1` of every volume, a numpy array of shape `(N,)`. It must read only the
#    chunks that hold those slices: the tests damage every other chunk file on disk.

# %% readonly id=ex5_setup
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import zarr  # noqa: E402

_z_rng = np.random.default_rng(mk.variant_seed("12_large_scale_cloud", salt="zarr"))
stack = _z_rng.normal(100, 20, size=(int(_z_rng.integers(3, 6)), 24, 16, 16)).astype(np.float32)
zarr_dir = Path(tempfile.mkdtemp(prefix="a12_zarr_"))


def damage_chunks_outside(path, z0, z1, chunk_depth):
    """Overwrite every chunk file of the array at `path` whose slices lie outside z0:z1; return how many."""
    keep = set(range(z0 // chunk_depth, (z1 - 1) // chunk_depth + 1))
    damaged = 0
    for f in Path(path).rglob("*"):
        parts = f.relative_to(path).parts
        if f.is_file() and parts[0] == "c" and int(parts[2]) not in keep:
            f.write_bytes(b"not a chunk")
            damaged += 1
    return damaged


print("stack", stack.shape, stack.dtype)

# %% solution id=ex5_answer exercise=zarr_lazy
def to_zarr(volumes, path, chunk_depth):
    """Write an (N, D, H, W) stack to a Zarr array chunked (1, chunk_depth, H, W); return the array."""
    ### BEGIN SOLUTION
    volumes = np.asarray(volumes)
    arr = zarr.create_array(str(path), shape=volumes.shape, dtype=volumes.dtype,
                            chunks=(1, chunk_depth) + volumes.shape[2:])
    arr[:] = volumes
    return arr
    ### END SOLUTION


def slab_means(path, z0, z1):
    """Mean of slices z0:z1 of every volume, read lazily with dask from the Zarr array at path."""
    ### BEGIN SOLUTION
    import dask.array as da

    lazy = da.from_zarr(str(path))
    return np.asarray(lazy[:, z0:z1].mean(axis=(1, 2, 3)).compute())
    ### END SOLUTION

# %% tests id=ex5_tests points=3
def test_chunks_and_round_trip():
    """the array is chunked one volume by chunk_depth slices, and holds the stack bit for bit. Hint: chunks=(1, d, H, W)"""
    arr = to_zarr(stack, zarr_dir / "rt.zarr", 4)
    back = zarr.open_array(str(zarr_dir / "rt.zarr"), mode="r")
    assert tuple(back.chunks) == (1, 4, 16, 16) and back.shape == stack.shape
    assert np.array_equal(back[:], stack) and arr.shape == stack.shape


def test_slab_reads_only_its_chunks():
    """slices 8:12 read with every other chunk damaged. Hint: dask.array.from_zarr(path)[:, z0:z1]"""
    path = zarr_dir / "slab.zarr"
    to_zarr(stack, path, 4)
    assert damage_chunks_outside(path, 8, 12, 4) > 0
    means = slab_means(path, 8, 12)
    assert np.asarray(means).shape == (len(stack),)
    assert np.allclose(means, stack[:, 8:12].mean(axis=(1, 2, 3)), rtol=1e-5)


mk.check("zarr_lazy", test_chunks_and_round_trip, test_slab_reads_only_its_chunks, budget=30)
### BEGIN HIDDEN TESTS
def _zarr_other_depth_and_slab():
    path = zarr_dir / "hidden.zarr"
    to_zarr(stack[:2], path, 3)
    assert tuple(zarr.open_array(str(path), mode="r").chunks) == (1, 3, 16, 16)
    assert damage_chunks_outside(path, 5, 11, 3) > 0
    assert np.allclose(slab_means(path, 5, 11), stack[:2, 5:11].mean(axis=(1, 2, 3)), rtol=1e-5)


def _zarr_keeps_dtype():
    path = zarr_dir / "int.zarr"
    ints = np.arange(2 * 6 * 4 * 4, dtype=np.int16).reshape(2, 6, 4, 4)
    to_zarr(ints, path, 2)
    back = zarr.open_array(str(path), mode="r")
    assert back.dtype == np.int16 and np.array_equal(back[:], ints)
    assert np.allclose(slab_means(path, 0, 2), ints[:, 0:2].mean(axis=(1, 2, 3)))


mk.check("zarr_lazy", _zarr_other_depth_and_slab, _zarr_keeps_dtype, budget=30, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex6_text
# ## Exercise 6 — The same code on any cluster (3 points)
#
# Lesson 12 ran its feature tasks on a `LocalCluster`; on a hospital's cluster only the address changes. Code
# that takes a `dask.distributed.Client` and nothing else runs unchanged on both. Implement
# `run_on(client, fn, items)`: submit `fn(item)` for every item to the client's cluster with
# `client.map(..., pure=False)` (every item is its own task, even when two items are equal), gather the
# results, and return them as a list **in the order of `items`**. An error in any task must reach the caller.
#
# The tests start small in-process clusters (`processes=False`: no network needed) with different numbers of
# workers.

# %% readonly id=ex6_setup
import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from dask.distributed import Client, LocalCluster  # noqa: E402

# distributed logs its warnings to stderr (on a busy machine: "event loop was unresponsive ..."), and a test
# cell that writes to stderr scores 0; only errors are worth printing here
for _name in ["distributed", "tornado", *[n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]]:
    logging.getLogger(_name).setLevel(logging.ERROR)


def small_client(workers=2):
    """A Client for an in-process cluster of `workers` single-threaded workers (dashboard on a free port)."""
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=":0")
    return Client(cluster)


def where_am_i(x):
    """x squared, and the name of the thread that computed it."""
    time.sleep(0.01 * (x % 3))
    return x * x, threading.current_thread().name

# %% solution id=ex6_answer exercise=cluster_map
def run_on(client, fn, items):
    """fn(item) for every item, computed on the client's cluster; results in the order of items."""
    ### BEGIN SOLUTION
    futures = client.map(fn, list(items), pure=False)
    return list(client.gather(futures))
    ### END SOLUTION

# %% tests id=ex6_tests points=3
def test_results_in_order_from_the_workers():
    """squares in input order, computed by the cluster's workers. Hint: client.map(fn, items, pure=False), client.gather"""
    with small_client(2) as client:
        out = run_on(client, where_am_i, range(10))
        client.cluster.close()
    assert [v for v, _ in out] == [x * x for x in range(10)]
    assert all(name != threading.current_thread().name for _, name in out)  # not computed here


def test_errors_reach_the_caller():
    """a failing task raises in run_on. Hint: gather raises the task's exception"""
    def boom(x):
        if x == 3:
            raise ValueError("bad item")
        return x

    with small_client(1) as client:
        try:
            run_on(client, boom, [1, 2, 3])
        except ValueError:
            return
        finally:
            client.cluster.close()
    raise AssertionError("the task's error did not reach the caller")


mk.check("cluster_map", test_results_in_order_from_the_workers, test_errors_reach_the_caller, budget=60)
### BEGIN HIDDEN TESTS
def _cluster_equal_items_are_separate_tasks():
    import random

    with small_client(1) as client:
        out = run_on(client, lambda x: random.random(), [5, 5, 5])
        client.cluster.close()
    assert len(set(out)) == 3  # three tasks, not one result shared by equal inputs


def _cluster_three_workers_and_a_generator():
    with small_client(3) as client:
        out = run_on(client, where_am_i, (x for x in range(7)))
        client.cluster.close()
    assert [v for v, _ in out] == [x * x for x in range(7)]


mk.check("cluster_map", _cluster_equal_items_are_separate_tasks, _cluster_three_workers_and_a_generator, budget=60,
         hidden=True)
### END HIDDEN TESTS
