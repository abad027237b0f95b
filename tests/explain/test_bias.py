"""Group-balanced resampling for bias mitigation (lesson 10)."""

from __future__ import annotations

import numpy as np


def test_group_balanced_indices_equalise_groups():
    from medimg_kernel.explain.bias import group_balanced_indices

    groups = np.array(["a"] * 90 + ["b"] * 8 + ["c"] * 2)
    idx = group_balanced_indices(groups, seed=0)
    assert len(idx) == 270 and np.bincount(np.unique(groups, return_inverse=True)[1][idx]).tolist() == [90, 90, 90]
    assert set(idx[groups[idx] == "a"]) == set(range(90))  # the largest group is used once each, no repeats
    assert np.array_equal(idx, group_balanced_indices(groups, seed=0))
    small = group_balanced_indices(groups, n_per_group=2, seed=1)
    assert len(small) == 6
