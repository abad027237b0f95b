"""Kaplan–Meier curves of predicted risk groups (lifelines) as matplotlib figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ...errors import ConfigError
from .metrics import check_survival_data

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["risk_groups", "plot_km_risk_groups"]


def risk_groups(risk: ArrayLike, n_groups: int = 2, *, cutoffs: Sequence[float] | None = None) -> np.ndarray:
    """Assign 0 (lowest risk) … ``n_groups − 1`` by risk quantiles, or by explicit ``cutoffs``.

    Use cutoffs from the training set (e.g. its median risk) to group a test set honestly.
    """
    r = np.asarray(risk, dtype=np.float64).reshape(-1)
    if cutoffs is None:
        if n_groups < 2:
            raise ConfigError(f"n_groups must be at least 2, got {n_groups}")
        cutoffs = np.quantile(r, np.linspace(0, 1, n_groups + 1)[1:-1])
    return np.searchsorted(np.sort(np.asarray(cutoffs, dtype=np.float64)), r, side="right").astype(int)


def plot_km_risk_groups(
    time: ArrayLike,
    event: ArrayLike,
    risk: ArrayLike,
    *,
    n_groups: int = 2,
    cutoffs: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
    at_risk: bool = True,
) -> Figure:
    """Plot Kaplan–Meier survival curves per predicted risk group, with the log-rank p-value in the title.

    Returns the matplotlib figure; the log-rank statistic is stored on it as ``fig.logrank_p``.
    """
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter
    from lifelines.plotting import add_at_risk_counts
    from lifelines.statistics import multivariate_logrank_test

    t, e, r = check_survival_data(time, event, risk, what="Kaplan-Meier comparison")
    groups = risk_groups(r, n_groups, cutoffs=cutoffs)
    k = int(groups.max()) + 1 if cutoffs is None else len(cutoffs) + 1
    if labels is None:
        labels = ["low risk", "high risk"] if k == 2 else [f"risk group {i + 1}" for i in range(k)]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.5))
    else:
        fig = ax.figure
    fitters = []
    for g in range(k):
        sel = groups == g
        if not sel.any():
            continue
        kmf = KaplanMeierFitter(label=f"{labels[g]} (n={int(sel.sum())})")
        kmf.fit(t[sel], e[sel])
        kmf.plot_survival_function(ax=ax, ci_show=True)
        fitters.append(kmf)
    p = float("nan")
    if len(fitters) > 1:
        p = float(multivariate_logrank_test(t, groups, e).p_value)
    ax.set_xlabel("time")
    ax.set_ylabel("survival probability")
    ax.set_title((title + "\n" if title else "") + f"log-rank p = {p:.2g}")
    if at_risk and fitters:
        add_at_risk_counts(*fitters, ax=ax, rows_to_show=["At risk"])
    fig.tight_layout()
    fig.logrank_p = p  # type: ignore[attr-defined]
    return fig
