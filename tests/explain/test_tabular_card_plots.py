"""Tabular feature importance, the generated model card, and the static figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from medimg_kernel.explain import bias, calibration, checks, model_card, plots, tabular  # noqa: E402


@pytest.fixture(scope="module")
def clinical():
    """Risk depends strongly on 'marker', weakly on 'age', not at all on 'noise'."""
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame(
        {"age": rng.normal(0, 1, n), "marker": rng.normal(0, 1, n), "noise": rng.normal(0, 1, n)}
    )
    logit = 2.5 * X["marker"] + 0.8 * X["age"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    from sklearn.linear_model import LogisticRegression

    return X, y, LogisticRegression().fit(X, y)


def test_permutation_importance_ranks_features(clinical):
    X, y, model = clinical
    imp = tabular.permutation_importance(model, X, y, n_repeats=5)
    assert list(imp["feature"]) == ["marker", "age", "noise"]
    assert imp.iloc[0].importance_mean > 0.2 and abs(imp.iloc[2].importance_mean) < 0.02


def test_shapley_values_sum_to_prediction_difference(clinical):
    X, _, model = clinical
    rows = X.iloc[:20]
    sv = tabular.shapley_values(model, rows, background=X, n_samples=30)
    assert list(sv.columns) == ["age", "marker", "noise"] and sv.shape == (20, 3)
    f = tabular.as_score_fn(model)
    expected = f(rows.to_numpy()) - f(X.to_numpy().mean(0, keepdims=True))
    np.testing.assert_allclose(sv.sum(1).to_numpy(), expected, atol=1e-6)
    summary = tabular.shapley_summary(sv)
    assert summary.iloc[0].feature == "marker" and summary.iloc[-1].feature == "noise"


def test_torch_tabular_model(clinical):
    X, y, _ = clinical
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    xt, yt = torch.as_tensor(X.to_numpy(), dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt).backward()
        opt.step()
    imp = tabular.permutation_importance(net, X, y, n_repeats=3)
    assert imp.iloc[0].feature == "marker"
    sv = tabular.shapley_values(net, X.iloc[:5], n_samples=10)
    assert sv.shape == (5, 3) and np.isfinite(sv.to_numpy()).all()


def test_model_card_is_generated_from_measurements(tmp_path):
    rng = np.random.default_rng(1)
    n = 800
    y = rng.integers(0, 2, n)
    site = np.where(np.arange(n) % 2 == 0, "A", "B")
    s = np.where(site == "A", np.clip(y * 0.6 + rng.uniform(0, 0.4, n), 0, 1), rng.uniform(0, 1, n))
    tab = bias.subgroup_metrics(y, s, pd.DataFrame({"site": site}), n_boot=100)
    cal = calibration.calibration_errors(s, y)
    checks_ = {
        "gradcam": {"pointing_game": 0.05, "pointing_chance": 0.04, "randomization_spearman": 0.1},
        "guided": {"pointing_game": 0.8, "pointing_chance": 0.04, "randomization_spearman": 0.9},
    }
    path = tmp_path / "card.md"
    text = model_card.model_card(
        "lesion detector",
        intended_use="teaching",
        data="synthetic",
        metrics={"auc": float(tab.iloc[0].auc)},
        subgroups=tab,
        calibration=cal,
        calibration_after={"ece": 0.01, "mce": 0.02, "rmsce": 0.015},
        temperature=1.7,
        checks=checks_,
        caveats=["synthetic data only"],
        path=path,
    )
    assert path.read_text() == text
    assert text.startswith("# Model card: lesion detector")
    assert f"{tab.iloc[0].auc:.3f}" in text and f"{cal['ece']:.3f}" in text and "T=1.70" in text
    assert "site: AUC gap" in text  # a warning derived from the subgroup table
    assert "guided: maps barely change" in text and "gradcam: pointing game 0.05 is near chance" in text
    assert "synthetic data only" in text


def _images(fig):
    return [np.asarray(im.get_array(), float) for ax in fig.axes for im in ax.get_images()]


def _lines(fig):
    return [np.asarray(ln.get_ydata(), float) for ax in fig.axes for ln in ax.get_lines()]


def _has(arrays, want):
    return any(a.shape == np.shape(want) and np.allclose(a, want, equal_nan=True) for a in arrays)


def test_plots_draw_their_data(tmp_path):
    """Each figure draws the numbers it was given (read back from the matplotlib artists), and saves."""
    rng = np.random.default_rng(0)
    imgs = rng.random((3, 1, 16, 16)).astype("float32")
    maps = {"a": rng.random((3, 16, 16)), "b": rng.random((3, 16, 16))}
    masks = np.zeros((3, 1, 16, 16))
    masks[:, :, 4:8, 4:8] = 1
    figs = {"maps": plots.show_maps(imgs, maps, masks, n=2)}
    assert _has(_images(figs["maps"]), imgs[0, 0]) and _has(_images(figs["maps"]), maps["a"][0])
    assert _has(_images(figs["maps"]), imgs[1, 0]) and not _has(_images(figs["maps"]), imgs[2, 0])  # n=2
    vol = rng.random((2, 1, 8, 16, 16))
    figs["maps3d"] = plots.show_maps(vol, {"m": rng.random((2, 8, 16, 16))}, np.ones((2, 1, 8, 16, 16)))
    assert any(a.shape == (16, 16) for a in _images(figs["maps3d"]))  # a 2D view of each 3D volume
    curve = checks.CurveResult(np.linspace(0, 1, 5), np.linspace(1, 0, 5), np.linspace(0, 1, 5), 0.5, 0.5)
    figs["curves"] = plots.plot_curves({"a": curve})
    assert _has(_lines(figs["curves"]), curve.deletion) and _has(_lines(figs["curves"]), curve.insertion)
    figs["rand"] = plots.plot_randomization([checks.RandomizationResult("g", ["l2", "l1"], [0.5, 0.1], [0.4, 0.1])])
    assert _has(_lines(figs["rand"]), [0.5, 0.1]) and _has(_lines(figs["rand"]), [0.4, 0.1])
    p = rng.random(200)
    yy = (rng.random(200) < p).astype(int)
    table = calibration.reliability_table(p, yy)
    figs["reliability"] = plots.reliability_diagram({"model": table})
    assert _has(_lines(figs["reliability"]), table["accuracy"].to_numpy())
    tab = bias.subgroup_metrics(yy, p, {"g": np.arange(200) % 2}, n_boot=20)
    figs["subgroups"] = plots.plot_subgroups(tab)
    drawn = np.concatenate([np.asarray(c.get_offsets(), float).ravel() for ax in figs["subgroups"].axes
                            for c in ax.collections] + _lines(figs["subgroups"]))
    assert all(np.isclose(drawn, v).any() for v in tab["auc"])  # each group's AUC is drawn
    imp = pd.DataFrame({"feature": ["a", "b"], "importance_mean": [0.2, 0.1], "importance_std": [0.01, 0.02]})
    figs["importance"] = plots.plot_importance(imp, err="importance_std")
    widths = sorted(pt.get_width() for ax in figs["importance"].axes for pt in ax.patches)
    assert widths == pytest.approx([0.1, 0.2])  # one bar per feature, as long as its importance
    sv = pd.DataFrame(rng.standard_normal((10, 2)), columns=["a", "b"])
    figs["shapley"] = plots.plot_shapley(sv, pd.DataFrame(rng.random((10, 2)), columns=["a", "b"]))
    xs = np.concatenate([np.asarray(c.get_offsets(), float)[:, 0] for ax in figs["shapley"].axes
                         for c in ax.collections])
    assert sorted(xs) == pytest.approx(sorted(sv.to_numpy().ravel()))  # one dot per Shapley value
    for name, fig in figs.items():
        fig.savefig(tmp_path / f"{name}.png")
        from PIL import Image

        px = np.asarray(Image.open(tmp_path / f"{name}.png").convert("L"), float)
        assert (px < 250).mean() > 0.01, name  # the saved PNG is not blank
