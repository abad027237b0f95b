"""Static figures (matplotlib) for explanations, checks, subgroup tables and calibration.

Every function returns the ``matplotlib.figure.Figure`` so lessons can show it and tests can save it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "show_maps",
    "plot_curves",
    "plot_randomization",
    "reliability_diagram",
    "plot_subgroups",
    "plot_importance",
    "plot_shapley",
]


def _mid_slice(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    while a.ndim > 2:  # 3D: the middle axial slice (first axis)
        a = a[a.shape[0] // 2]
    return a


def show_maps(
    images: Any,
    maps: Mapping[str, Any],
    masks: Any | None = None,
    *,
    n: int = 4,
    alpha: float = 0.5,
    cmap: str = "jet",
    slice_index: int | None = None,
) -> Any:
    """Grid: one row per image, the image then each method's map overlaid; mask outlines in white.

    ``images`` ``(N, C, *spatial)``; ``maps`` method -> ``(N, *spatial)``. 3D shows the slice
    ``slice_index`` (default: where the mask is largest, else the middle).
    """
    import matplotlib.pyplot as plt

    imgs = np.asarray(images)[:n, 0]
    k = len(imgs)
    fig, axes = plt.subplots(k, 1 + len(maps), figsize=(2.2 * (1 + len(maps)), 2.2 * k), squeeze=False)
    for i in range(k):
        img = imgs[i]
        msk = None if masks is None else np.asarray(masks)[i].reshape(img.shape)
        sl = slice_index
        if img.ndim == 3 and sl is None:
            sl = int(msk.sum((1, 2)).argmax()) if msk is not None and msk.any() else img.shape[0] // 2

        def cut(a: np.ndarray, sl: int | None = sl) -> np.ndarray:
            return a[sl] if a.ndim == 3 else a

        axes[i, 0].imshow(cut(img), cmap="gray")
        for j, (name, mp) in enumerate(maps.items(), start=1):
            axes[i, j].imshow(cut(img), cmap="gray")
            axes[i, j].imshow(cut(np.asarray(mp)[i]), cmap=cmap, alpha=alpha)
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
        if msk is not None:
            for ax in axes[i]:
                ax.contour(cut(msk).astype(float), levels=[0.5], colors="white", linewidths=0.8)
        if i == 0:
            axes[i, 0].set_title("image", fontsize=9)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_curves(curves: Mapping[str, Any]) -> Any:
    """Deletion (left) and insertion (right) curves of several methods, AUC in the legend."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, c in curves.items():
        a.plot(c.fractions, c.deletion, label=f"{name} (AUC {c.deletion_auc:.2f})")
        b.plot(c.fractions, c.insertion, label=f"{name} (AUC {c.insertion_auc:.2f})")
    for ax, t in ((a, "Deletion (lower is better)"), (b, "Insertion (higher is better)")):
        ax.set_xlabel("fraction of pixels")
        ax.set_ylabel("p(target)")
        ax.set_title(t)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_randomization(results: Sequence[Any]) -> Any:
    """Spearman and SSIM versus the cascade of randomised layers, one line per method."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    for r in results:
        x = np.arange(len(r.layers))
        a.plot(x, r.spearman, marker="o", label=r.method)
        b.plot(x, r.ssim, marker="o", label=r.method)
    labels = list(results[0].layers) if results else []
    for ax, t in ((a, "Spearman rank vs original"), (b, "SSIM vs original")):
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
        ax.set_xlabel("randomised down to layer")
        ax.set_ylim(-0.1, 1.05)
        ax.set_title(t)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def reliability_diagram(tables: Mapping[str, Any]) -> Any:
    """Reliability diagram(s) from :func:`~medimg_kernel.explain.calibration.reliability_table` outputs."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for name, t in tables.items():
        ok = t["count"] > 0
        ax.plot(t.loc[ok, "confidence"], t.loc[ok, "accuracy"], marker="o", label=name)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_subgroups(table: Any, metric: str = "auc") -> Any:
    """Per-group ``metric`` with bootstrap CIs (for AUC), grouped by attribute."""
    import matplotlib.pyplot as plt

    t = table.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(t)), 3.5))
    x = np.arange(len(t))
    y = t[metric].astype(float).to_numpy()
    if metric == "auc" and "auc_lo" in t:
        err = np.vstack([y - t["auc_lo"].astype(float), t["auc_hi"].astype(float) - y])
        ax.errorbar(x, y, yerr=np.nan_to_num(err), fmt="o", capsize=3)
    else:
        ax.bar(x, y)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{a}\n{g}" for a, g in zip(t["attribute"], t["group"])], fontsize=7)
    ax.set_ylabel(metric)
    fig.tight_layout()
    return fig


def plot_importance(df: Any, value: str | None = None, err: str | None = None, top: int = 15) -> Any:
    """Horizontal bar chart of feature importances (e.g. permutation importance with its std)."""
    import matplotlib.pyplot as plt

    value = value or [c for c in df.columns if c != "feature"][0]
    d = df.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(5, 0.3 * len(d) + 1))
    ax.barh(d["feature"], d[value], xerr=d[err] if err and err in d else None)
    ax.set_xlabel(value)
    fig.tight_layout()
    return fig


def plot_shapley(values: Any, X: Any, top: int = 15) -> Any:
    """Beeswarm-style summary: each row's Shapley value per feature, coloured by the feature's value."""
    import matplotlib.pyplot as plt

    order = values.abs().mean(0).sort_values(ascending=True).index[-top:]
    Xa = X if hasattr(X, "columns") else None
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(order) + 1))
    rng = np.random.default_rng(0)
    for i, f in enumerate(order):
        v = values[f].to_numpy()
        c = Xa[f].to_numpy(dtype=float) if Xa is not None else np.asarray(X)[:, list(values.columns).index(f)]
        c = (c - c.min()) / (np.ptp(c) or 1.0)
        ax.scatter(v, i + rng.uniform(-0.2, 0.2, len(v)), c=c, cmap="coolwarm", s=8)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("Shapley value (contribution to the score)")
    fig.tight_layout()
    return fig
