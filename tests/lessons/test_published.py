"""Published reference results: every figure names a registered dataset and a source, and the comparison
table puts a run beside them with the protocol of each row."""

from __future__ import annotations

import math

import medimg_kernel as mk
from medimg_kernel.lessons.published import PUBLISHED, compare_with_published, published_results


def test_every_published_figure_names_a_registered_dataset_and_its_source():
    names = set(mk.datasets())
    for r in PUBLISHED:
        assert r.dataset in names, r
        assert mk.dataset_info(r.dataset).source == "remote"  # a real dataset, never a synthetic one
        assert r.url.startswith("https://") and r.protocol and 0 < r.value <= 1 and math.isfinite(r.value)


def test_comparison_puts_the_run_first_and_says_the_protocols_differ():
    t = compare_with_published("mednist", {"accuracy": 0.97, "AUC": 0.99}, "standard tier, 4 epochs")
    assert list(t.index) == ["this run", "published: MONAI mednist_tutorial"]
    assert t.loc["this run", "accuracy"] == 0.97 and t.iloc[1]["accuracy"] == 0.9951
    assert math.isnan(t.iloc[1]["AUC"])  # the tutorial reports no AUC: shown empty, not invented
    assert "47,164" in t.iloc[1]["protocol"] and t.columns[-1] == "protocol"
    assert "protocols differ" in t.attrs["note"]
    two = compare_with_published("breastmnist", {"AUC": 0.8}, "x")
    assert two.loc["published: MedMNIST v2 (Yang et al., Sci Data 2023)", ["AUC", "accuracy"]].tolist() == [0.901, 0.863]


def test_synthetic_data_has_no_band():
    assert published_results("synthetic-mednist") == []
    t = compare_with_published("synthetic-mednist", {"accuracy": 0.99}, "smoke tier")
    assert list(t.index) == ["this run"] and "no published result" in t.attrs["note"]
