"""The speedup curve: the same results on the cluster as serially, a break-even point, a figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import medimg_kernel as mk  # noqa: E402


def test_curve_measures_each_size(dask_client):
    curve = mk.cohort.speedup_curve(dask_client, (6, 12, 24), n_tasks=4, progress=False)
    assert list(curve["size"]) == [6, 12, 24] and (curve.workers == 2).all()
    assert (curve.serial_s > 0).all() and (curve.parallel_s > 0).all()
    assert curve.speedup.tolist() == pytest.approx((curve.serial_s / curve.parallel_s).tolist())
    fig = mk.cohort.plot_speedup(curve)
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) >= 3


def test_break_even_interpolates_in_log_time():
    curve = pd.DataFrame({"task_s": [0.001, 0.01, 0.1, 1.0], "speedup": [0.2, 0.5, 1.5, 1.9]})
    be = mk.cohort.break_even(curve)
    assert 0.01 < be < 0.1 and be == pytest.approx(10 ** (-2 + 0.5), rel=1e-6)
    assert mk.cohort.break_even(curve.assign(speedup=[0.1, 0.2, 0.3, 0.9])) is None
    assert mk.cohort.break_even(curve.assign(speedup=[1.2, 1.5, 1.8, 1.9])) == 0.001


def test_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, medimg_kernel as mk; mk.cohort; import medimg_kernel.cohort.tables;"
            "print(any(m.split('.')[0] in ('dask', 'distributed', 'zarr', 's3fs', 'torch') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
