"""Saliency-check metrics against scikit-learn, SciPy, scikit-image and MONAI on random and edge-case maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from skimage.filters import threshold_otsu
from skimage.metrics import structural_similarity
from sklearn.metrics import auc, jaccard_score

from medimg_kernel.errors import ConfigError
from medimg_kernel.explain.checks import curve_auc, localization, map_similarity, pointing_game


def _maps(seed, n=6, size=24):
    rng = np.random.default_rng(seed)
    sal = rng.random((n, size, size)) ** 3
    masks = np.zeros((n, size, size), bool)
    for i in range(n):
        y, x = rng.integers(3, size - 8, 2)
        masks[i, y : y + 6, x : x + 6] = True
        sal[i, y : y + 6, x : x + 6] += rng.random() * 0.8
    return sal, masks


@pytest.mark.parametrize("seed", range(3))
def test_localization_iou_matches_sklearn_and_monai(seed):
    from monai.metrics import compute_iou

    sal, masks = _maps(seed)
    res = localization(sal, masks, threshold="otsu")
    ious, mass = [], []
    for s, m in zip(sal, masks):
        b = s > threshold_otsu(s)
        ious.append(jaccard_score(m.ravel(), b.ravel()))
        mass.append(s[m].sum() / s.sum())
    assert res["iou"] == pytest.approx(np.mean(ious), abs=1e-12)
    assert res["mass_in_mask"] == pytest.approx(np.mean(mass), abs=1e-12)
    assert res["mask_fraction"] == pytest.approx(masks.mean(), abs=1e-12)
    b = torch.tensor(np.stack([s > threshold_otsu(s) for s in sal]))[:, None].float()
    monai_iou = compute_iou(b, torch.tensor(masks)[:, None].float(), include_background=True)
    assert res["iou"] == pytest.approx(float(monai_iou.mean()), abs=1e-6)
    frac = localization(sal, masks, threshold=0.5)
    ref = np.mean([jaccard_score(m.ravel(), (s > 0.5 * s.max()).ravel()) for s, m in zip(sal, masks)])
    assert frac["iou"] == pytest.approx(ref, abs=1e-12)


def test_localization_and_pointing_edge_cases():
    sal, masks = _maps(4)
    masks[0] = False  # an empty mask is left out
    res = localization(sal, masks)
    assert res["n"] == len(sal) - 1
    zero = localization(np.zeros_like(sal), masks)  # all-zero maps: nothing highlighted
    assert zero["iou"] == 0.0 and zero["mass_in_mask"] == 0.0
    with pytest.raises(ConfigError, match="non-empty"):
        localization(sal, np.zeros_like(masks))
    with pytest.raises(ConfigError, match="non-empty"):
        pointing_game(sal, np.zeros_like(masks))


@pytest.mark.parametrize("tol", [0, 2])
def test_pointing_game_matches_brute_force(tol):
    from scipy import ndimage

    sal, masks = _maps(5, n=10)
    sal[3] = 0.0  # a constant map: ties resolve to the first maximum in C order (numpy argmax)
    res = pointing_game(sal, masks, tolerance=tol)
    ball = np.hypot(*np.mgrid[-tol : tol + 1, -tol : tol + 1]) <= tol
    hits, chance = [], []
    for s, m in zip(sal, masks):
        md = ndimage.binary_dilation(m, structure=ball) if tol else m
        hits.append(md[np.unravel_index(np.argmax(s), s.shape)])
        chance.append(md.mean())
    assert res.hits.tolist() == hits
    assert res.accuracy == pytest.approx(np.mean(hits)) and res.chance == pytest.approx(np.mean(chance))


def test_curve_auc_matches_trapezoid():
    rng = np.random.default_rng(6)
    for n in (2, 3, 11, 101):
        c = rng.random(n)
        assert curve_auc(c) == pytest.approx(auc(np.linspace(0, 1, n), c), abs=1e-12)
    many = rng.random((5, 21))
    ref = np.mean([np.trapezoid(r, np.linspace(0, 1, 21)) for r in many])
    assert curve_auc(many) == pytest.approx(ref, abs=1e-12)
    with pytest.raises(ConfigError):
        curve_auc([0.5])


def test_map_similarity_matches_scipy_and_skimage():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(4, 20, 20))
    b = a + rng.normal(0, 0.7, a.shape)
    res = map_similarity(a, b)
    rhos, ssims = [], []
    for u, v in zip(np.abs(a), np.abs(b)):
        rhos.append(spearmanr(u.ravel(), v.ravel()).statistic)
        un, vn = (u - u.min()) / np.ptp(u), (v - v.min()) / np.ptp(v)
        ssims.append(structural_similarity(un, vn, data_range=1.0, win_size=7))
    assert res["spearman"] == pytest.approx(np.mean(rhos), abs=1e-12)
    assert res["ssim"] == pytest.approx(np.mean(ssims), abs=1e-12)
    # the kit's convention: a constant map has no ranking and counts as uncorrelated (SciPy gives NaN)
    const = map_similarity(np.zeros((1, 20, 20)), a[:1])
    assert const["spearman"] == 0.0
    from scipy.stats import ConstantInputWarning

    with pytest.warns(ConstantInputWarning):
        assert np.isnan(spearmanr(np.zeros(400), a[0].ravel()).statistic)
    # scale-free: multiplying one map by 1e-12 changes neither rank correlation nor SSIM
    tiny = map_similarity(a * 1e-12, b)
    assert tiny["spearman"] == pytest.approx(res["spearman"], abs=1e-12)
    assert tiny["ssim"] == pytest.approx(res["ssim"], abs=1e-9)
