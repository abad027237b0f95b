"""Quality checks: pointing game, localisation, deletion/insertion, randomisation — on hand-made maps and on
a small CNN trained on synthetic lesions with known masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import medimg_kernel as mk
from medimg_kernel.errors import ConfigError, ShapeMismatchError
from medimg_kernel.explain import checks


def _square_masks(n=4, size=20):
    m = np.zeros((n, 1, size, size), dtype=np.uint8)
    m[:, 0, 5:10, 5:10] = 1
    return m


def test_pointing_game_counts_hits_and_reports_chance():
    masks = _square_masks()
    maps = np.zeros((4, 20, 20))
    maps[0, 7, 7] = maps[1, 6, 9] = 1  # hits
    maps[2, 15, 15] = 1  # miss
    maps[3, 11, 8] = 1  # miss, but 2 px below the square
    r = checks.pointing_game(maps, masks)
    assert r.accuracy == pytest.approx(0.5) and r.n == 4
    assert r.chance == pytest.approx(25 / 400)
    assert r.lift == pytest.approx(0.5 / (25 / 400))
    tol = checks.pointing_game(maps, masks, tolerance=2)
    assert tol.accuracy == pytest.approx(0.75) and tol.chance > r.chance


def test_pointing_game_skips_empty_masks_and_checks_shapes():
    masks = _square_masks()
    masks[1:] = 0
    maps = np.random.default_rng(0).random((4, 20, 20))
    assert checks.pointing_game(maps, masks).n == 1
    with pytest.raises(ShapeMismatchError):
        checks.pointing_game(maps[:, :10], masks)
    with pytest.raises(ConfigError, match="non-empty"):
        checks.pointing_game(maps, np.zeros_like(masks))


def test_localization_perfect_and_random_maps():
    masks = _square_masks()
    perfect = masks[:, 0].astype(float)
    r = checks.localization(perfect, masks)
    assert r["iou"] == pytest.approx(1.0) and r["hit_rate"] == 1.0 and r["mass_in_mask"] == pytest.approx(1.0)
    rnd = checks.localization(checks.random_maps((4, 20, 20), seed=1), masks)
    assert rnd["iou"] < 0.3 and rnd["mass_in_mask"] == pytest.approx(r["mask_fraction"], abs=0.05)
    assert checks.localization(perfect, masks, threshold=0.5)["iou"] == pytest.approx(1.0)


def test_curve_auc_formula():
    assert checks.curve_auc([1, 1, 1]) == pytest.approx(1.0)
    assert checks.curve_auc([1, 0]) == pytest.approx(0.5)
    assert checks.curve_auc([1.0, 0.5, 0.0]) == pytest.approx(0.5)
    assert checks.curve_auc([0, 1, 1, 1, 1]) == pytest.approx((4 - 0.5) / 4)


def test_map_similarity_identity_and_noise():
    a = checks.random_maps((3, 16, 16), seed=0)
    same = checks.map_similarity(a, a)
    assert same["spearman"] == pytest.approx(1.0) and same["ssim"] == pytest.approx(1.0)
    other = checks.map_similarity(a, checks.random_maps((3, 16, 16), seed=5))
    assert abs(other["spearman"]) < 0.3 and other["ssim"] < 0.5
    vol = checks.random_maps((2, 8, 8, 8), seed=0)  # 3D
    assert checks.map_similarity(vol, vol)["ssim"] == pytest.approx(1.0)


# --- on a trained model -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["gradient", "smoothgrad", "gradcam", "occlusion"])
def test_trained_maps_hit_the_lesion_well_above_chance(trained_2d, positives, method):
    x, masks = positives
    if method == "occlusion":
        x, masks = x[:12], masks[:12]
    kw = {"n_samples": 8} if method == "smoothgrad" else {}
    maps = mk.explain(trained_2d, x, method=method, target=1, **kw)
    pg = checks.pointing_game(maps, masks)
    loc = checks.localization(maps, masks)
    assert pg.chance < 0.1
    # chance is ~0.02; Grad-CAM works at 8x8 feature resolution, so its peak is coarser than gradients'
    assert pg.accuracy >= 0.35 and pg.lift >= 10, pg
    assert loc["mass_in_mask"] >= 3 * loc["mask_fraction"], loc


def test_untrained_model_does_not_point_at_lesions(positives):
    from _explain_helpers import small_cnn

    x, masks = positives
    torch.manual_seed(3)
    maps = mk.explain(small_cnn(2), x, method="gradcam", target=1)
    trained_like = checks.pointing_game(maps, masks)
    assert trained_like.accuracy < 0.5


def test_randomization_separates_trained_from_random_model(trained_2d, positives):
    x, _ = positives
    for method in ("gradient", "gradcam"):
        r = checks.randomization_check(trained_2d, x[:8], method=method, target=1)
        assert len(r.spearman) == len(checks.randomizable_layers(trained_2d)) == 4
        assert r.passed(0.5), r
        assert r.final_spearman < 0.5
        df = r.to_frame()
        assert list(df.columns) == ["randomized_through", "spearman", "ssim"]
    # a control that must fail: an "explanation" that ignores the model (the image itself, like an edge map)
    from medimg_kernel.explain.methods import register_method

    @register_method("image_itself", needs_grad=False, captum=False, channel_reduce="none")
    def _image(score, xx, **_):
        return xx.detach().abs()

    try:
        ctrl = checks.randomization_check(trained_2d, x[:8], method="image_itself", target=1)
        assert not ctrl.passed(0.5) and ctrl.final_spearman > 0.99
    finally:
        from medimg_kernel.explain.methods import METHODS

        METHODS.pop("image_itself")


def test_randomization_non_cascading_and_bad_layer(trained_2d, positives):
    x, _ = positives
    r = checks.randomization_check(
        trained_2d, x[:4], method="gradient", target=1, layers=["0"], cascading=False
    )
    assert r.layers == ["0"] and r.final_spearman < 0.9
    with pytest.raises(ConfigError, match="unknown layers"):
        checks.randomization_check(trained_2d, x[:4], layers=["nope"])


def test_deletion_insertion_beat_random_order(trained_2d, positives):
    x = positives[0][:16]
    maps = mk.explain(trained_2d, x, method="gradient", target=1)
    good = checks.deletion_insertion(trained_2d, x, maps, target=1, steps=10)
    rnd = checks.deletion_insertion(trained_2d, x, checks.random_maps(maps.shape, seed=0), target=1, steps=10)
    assert good.deletion.shape == good.insertion.shape == good.fractions.shape == (11,)
    assert good.fractions[0] == 0 and good.fractions[-1] == 1
    assert good.deletion_auc < rnd.deletion_auc - 0.1
    assert good.insertion_auc > rnd.insertion_auc + 0.1
    # both curves end at the same two images: all-substrate and the original
    assert good.deletion[-1] == pytest.approx(good.insertion[0], abs=1e-6)
    assert good.deletion[0] == pytest.approx(good.insertion[-1], abs=1e-6)
    const = checks.deletion_insertion(trained_2d, x[:4], maps[:4], substrate=0.0, steps=4)
    # a constant substrate: the curve runs from the predicted class's probability on the images to its
    # probability on all-zero images, computed here straight from the model
    with torch.no_grad():
        p_img = torch.softmax(trained_2d(torch.as_tensor(x[:4])), 1)
        p_zero = torch.softmax(trained_2d(torch.zeros_like(torch.as_tensor(x[:4]))), 1)
    top = p_img.argmax(1)
    assert const.deletion[0] == pytest.approx(p_img[range(4), top].mean().item(), abs=1e-5)
    assert const.deletion[-1] == pytest.approx(p_zero[range(4), top].mean().item(), abs=1e-5)
    assert const.deletion_auc == pytest.approx(np.trapezoid(const.deletion, const.fractions), abs=1e-6)
    with pytest.raises(ConfigError, match="substrate"):
        checks.deletion_insertion(trained_2d, x[:4], maps[:4], substrate="noise")


def test_deletion_insertion_curves_match_a_hand_computation():
    class MeanModel(torch.nn.Module):
        """p(class 1) = sigmoid(4 * mean(x) - 2)."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x):
            s = 4 * x.mean((1, 2, 3)) * self.w - 2
            return torch.stack([torch.zeros_like(s), s], 1)

    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 6, 6)).astype("float32")
    sal = rng.random((3, 6, 6))
    res = checks.deletion_insertion(MeanModel(), x, sal, target=1, steps=4, substrate=0.0, batch_size=5)

    def p(img):
        z = 4 * img.mean() - 2
        return np.exp(z) / (1 + np.exp(z))

    for i in range(3):
        order = np.argsort(-sal[i].ravel(), kind="stable")
        for k, c in enumerate(np.round(np.linspace(0, 36, 5)).astype(int)):
            d = x[i, 0].ravel().copy()
            d[order[:c]] = 0
            ins = np.zeros(36, dtype="float32")
            ins[order[:c]] = x[i, 0].ravel()[order[:c]]
            assert np.isclose(res.per_image_curves["deletion"][i, k], p(d), atol=1e-5)
            assert np.isclose(res.per_image_curves["insertion"][i, k], p(ins), atol=1e-5)
