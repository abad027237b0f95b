"""The audit finds every planted fault in a generated cohort and flags no clean scan."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import dask.bag as db  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import medimg_kernel as mk  # noqa: E402


@pytest.fixture(scope="module")
def audited(faulty_cohort, dask_client):
    folder, truth = faulty_cohort
    table = mk.cohort.scan(folder / "manifest.csv", client=dask_client, progress=False)
    return table, mk.cohort.audit(table, label_map=mk.cohort.LABEL_MAP), truth


def test_every_planted_fault_is_found(audited):
    _, result, truth = audited
    planted = truth.dropna(subset=["fault"])
    assert set(planted.fault) == set(mk.cohort.FAULTS)
    by_path = result.set_index("path")
    for _, row in planted.iterrows():
        assert by_path.at[row.fault_path, row.fault], f"{row.fault} not found in {row.fault_path}"


def test_no_clean_scan_is_flagged(audited):
    _, result, truth = audited
    faulty = set(truth.fault_path.dropna())
    false_alarms = result[~result.ok & ~result.path.isin(faulty)]
    assert false_alarms.empty, false_alarms[["path", "issues"]].to_string()
    # each faulty file is flagged for its own fault only
    assert (result[result.path.isin(faulty)].issues.str.count(",") == 0).all()


def test_duplicate_names_its_original(audited):
    _, result, truth = audited
    dup = truth[truth.fault == "duplicate"].iloc[0]
    row = result.set_index("path").loc[dup.path]
    assert row.duplicate_of == truth.path.iloc[0]


def test_row_checks_map_over_a_dask_bag(audited):
    table, result, _ = audited
    records = table.to_dict("records")
    bag = db.from_sequence(records, npartitions=4)
    for name, fn in mk.cohort.ROW_CHECKS.items():
        flags = bag.map(fn, label_map=mk.cohort.LABEL_MAP).compute(scheduler="sync")
        assert flags == result[name].tolist(), name


def test_thresholds_change_the_verdict(audited):
    table, _, _ = audited
    loose = mk.cohort.audit(table, max_anisotropy=20.0)
    assert not loose.anisotropy.any()
    with pytest.raises(mk.MedimgKernelError, match="unknown audit thresholds"):
        mk.cohort.audit(table, max_anisotropie=2)


def test_summary_figure_and_thumbnails(audited):
    _, result, _ = audited
    counts = mk.cohort.summary(result)
    assert counts.drop("ok").sum() == (~result.ok).sum() and counts["ok"] == result.ok.sum()
    fig = mk.cohort.plot_audit(result)
    bars = fig.axes[0].patches
    assert len(bars) == len(mk.cohort.CHECKS) and sorted(b.get_width() for b in bars)[-1] >= 1
    thumbs = mk.cohort.thumbnails(result)
    shown = [ax for ax in thumbs.axes if ax.get_title()]
    assert len(shown) == int((~result.ok).sum())
    assert any("unreadable" in t.get_text() for ax in shown for t in ax.texts)
    assert all(np.isfinite(im.get_array()).all() for ax in shown for im in ax.images)
