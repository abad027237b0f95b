"""Radiomics-style features: known values on shapes, and the parallel result equals the serial one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import medimg_kernel as mk


def test_first_order_and_shape_of_a_ball():
    grid = np.stack(np.meshgrid(*[np.arange(40) - 19.5] * 3, indexing="ij"))
    ball = ((grid**2).sum(0) <= 12**2).astype(np.uint8)
    rng = np.random.default_rng(0)
    image = rng.normal(100, 10, ball.shape)
    (f,) = mk.cohort.region_features(image, ball, spacing=(0.5, 0.5, 0.5))
    vals = image[ball == 1]
    assert f["label"] == 1 and f["voxels"] == ball.sum()
    assert f["mean"] == pytest.approx(vals.mean()) and f["std"] == pytest.approx(vals.std())
    assert f["median"] == pytest.approx(np.median(vals)) and f["energy"] == pytest.approx((vals**2).sum() * 0.125)
    assert f["volume_mm3"] == pytest.approx(ball.sum() * 0.125)
    r_mm = 12 * 0.5
    assert f["volume_mm3"] == pytest.approx(4 / 3 * np.pi * r_mm**3, rel=0.03)
    assert f["surface_mm2"] == pytest.approx(4 * np.pi * r_mm**2, rel=0.12)  # marching cubes overestimates ~8 %
    assert 0.85 < f["sphericity"] <= 1.0 and f["elongation"] == pytest.approx(1, abs=0.02)
    assert abs(f["skewness"]) < 0.1 and f["kurtosis"] == pytest.approx(3, abs=0.2)


def test_elongated_box_axes():
    box = np.zeros((40, 20, 10), np.uint8)
    box[5:35, 5:15, 2:8] = 2
    (f,) = mk.cohort.region_features(np.ones(box.shape), box, spacing=(1, 1, 1))
    assert f["label"] == 2 and f["major_axis_mm"] > f["minor_axis_mm"]
    assert f["elongation"] == pytest.approx(np.sqrt((10**2 - 1) / (30**2 - 1)), rel=1e-6)
    assert f["entropy"] == 0.0 and f["std"] == 0.0


def test_shape_mismatch_is_refused():
    with pytest.raises(mk.MedimgKernelError, match="resample"):
        mk.cohort.region_features(np.zeros((4, 4, 4)), np.zeros((4, 4, 3)))


def test_parallel_equals_serial(faulty_cohort, dask_client):
    folder, truth = faulty_cohort
    clean = truth[truth.fault.isna() & truth.label.notna()].head(24)
    pairs = pd.DataFrame({"image": clean.path, "label": clean.label, "site": clean.site})
    serial = mk.cohort.cohort_features(pairs, client=False)
    parallel = mk.cohort.cohort_features(pairs, client=dask_client, progress=False)
    threads = mk.cohort.cohort_features(pairs, client=None, progress=False)
    assert len(serial) == 2 * len(pairs) and set(serial.label) == {1, 2}
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)
    pd.testing.assert_frame_equal(serial, threads, check_exact=True)
    assert set(mk.cohort.features.FIRST_ORDER + mk.cohort.features.SHAPE) <= set(serial.columns)


def test_a_bad_pair_is_an_error_row(faulty_cohort):
    _, truth = faulty_cohort
    bad = truth[truth.fault.isin(["grid_mismatch", "truncated"])]
    good = truth[truth.fault.isna() & truth.label.notna()].head(2)
    pairs = pd.DataFrame({"image": pd.concat([bad.path, good.path]), "label": pd.concat([bad.label, good.label])})
    out = mk.cohort.cohort_features(pairs, client=None, progress=False)
    errors = out[out.error.notna()]
    assert sorted(errors.image) == sorted(bad.path) and len(out) == 2 + 2 * 2
    assert errors.error.str.contains("ShapeMismatchError|EOFError|truncated", regex=True).all()
