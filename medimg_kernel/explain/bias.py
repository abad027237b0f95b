"""Subgroup performance: is the model as good for every sex, age band and site?

Per group: AUC with a bootstrap confidence interval, and TPR/FPR/FNR at the deployed operating threshold
(Seyyed-Kalantari et al. 2021 report underdiagnosis as the FNR gap); per attribute: the maximum gap
between groups and the equal-opportunity difference (TPR gap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError, ShapeMismatchError

__all__ = [
    "age_bands",
    "bootstrap_auc",
    "rates_at_threshold",
    "subgroup_metrics",
    "max_gaps",
    "flag_gaps",
    "youden_threshold",
    "group_balanced_indices",
]


#: group label of a missing value (NaN age, empty cell) in subgroup tables
MISSING = "missing"


def age_bands(age: Any, edges: Sequence[float] = (40, 60)) -> np.ndarray:
    """Bin ages into labelled bands (default ``<40``, ``40-59``, ``60+``); a missing (NaN) age is ``"missing"``."""
    a = np.asarray(age, dtype=float)
    labels = (
        [f"<{edges[0]:g}"]
        + [f"{lo:g}-{hi - 1:g}" for lo, hi in zip(edges[:-1], edges[1:])]
        + [f"{edges[-1]:g}+"]
    )
    out = np.asarray(labels, dtype=object)[np.digitize(a, edges)]
    out[np.isnan(a)] = MISSING  # np.digitize would put NaN in the oldest band
    return out


def bootstrap_auc(
    y_true: Any, y_score: Any, n_boot: int = 500, ci: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """ROC AUC and its percentile bootstrap interval; NaNs when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true).astype(int)
    s = np.asarray(y_score, dtype=float)
    if len(np.unique(y)) < 2:
        return float("nan"), float("nan"), float("nan")
    auc = float(roc_auc_score(y, s))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), (int(n_boot), len(y)))
    yb, sb = y[idx], s[idx]
    n_pos = yb.sum(1)
    ok = (n_pos > 0) & (n_pos < len(y))
    # Mann-Whitney form of the AUC, vectorised over resamples (ties get average ranks)
    from scipy.stats import rankdata

    ranks = rankdata(sb[ok], axis=1)
    npos, nneg = n_pos[ok], len(y) - n_pos[ok]
    boots = ((ranks * yb[ok]).sum(1) - npos * (npos + 1) / 2) / (npos * nneg)
    if not len(boots):
        return auc, float("nan"), float("nan")
    lo, hi = np.quantile(boots, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return auc, float(lo), float(hi)


def rates_at_threshold(y_true: Any, y_score: Any, threshold: float = 0.5) -> dict[str, float]:
    """TPR (sensitivity), FPR, FNR (missed findings) and TNR when predicting positive at ``score >= threshold``."""
    y = np.asarray(y_true).astype(int)
    pred = np.asarray(y_score, dtype=float) >= threshold
    pos, neg = y == 1, y == 0
    tpr = float(pred[pos].mean()) if pos.any() else float("nan")
    fpr = float(pred[neg].mean()) if neg.any() else float("nan")
    return {
        "tpr": tpr,
        "fpr": fpr,
        "fnr": 1 - tpr if pos.any() else float("nan"),
        "tnr": 1 - fpr if neg.any() else float("nan"),
    }


def youden_threshold(y_true: Any, y_score: Any) -> float:
    """Operating threshold maximising TPR - FPR (Youden's J) on the given (validation) data.

    Use it as ``score >= threshold`` (:func:`rates_at_threshold`). Among equally good points the highest
    threshold wins. When no threshold beats "call nobody positive" (J = 0 there, e.g. an inverted score),
    the result is ``inf``, scikit-learn's ``roc_curve`` convention, so that every score falls below it.
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(
        np.asarray(y_true).astype(int), np.asarray(y_score, dtype=float), drop_intermediate=False
    )
    j = int(np.argmax(tpr - fpr))
    return float(thr[j])


def _group_columns(groups: Any, n: int, age_edges: Sequence[float]) -> dict[str, np.ndarray]:
    import pandas as pd

    if hasattr(groups, "columns"):  # pandas DataFrame
        cols = {c: groups[c].to_numpy() for c in groups.columns}
    elif isinstance(groups, Mapping):
        cols = {k: np.asarray(v) for k, v in groups.items()}
    else:
        raise ConfigError("groups must be a pandas DataFrame or a dict of column name -> values")
    out = {}
    for name, v in cols.items():
        if len(v) != n:
            raise ShapeMismatchError(f"group column {name!r} has {len(v)} values for {n} predictions")
        v = np.asarray(v)
        numeric = np.issubdtype(v.dtype, np.number) and not np.issubdtype(v.dtype, np.bool_)
        if numeric and len(np.unique(v[~np.isnan(v.astype(float))])) > 10:
            v = age_bands(v, age_edges)  # a continuous column (age): bin it, NaN -> "missing"
            out[name] = v.astype(str)
            continue
        missing = np.isnan(v.astype(float)) if numeric else np.asarray(pd.isna(v), dtype=bool)
        v = v.astype(str).astype(object)
        v[missing] = MISSING
        out[name] = v.astype(str)
    return out


def subgroup_metrics(
    y_true: Any,
    y_score: Any,
    groups: Any,
    threshold: float = 0.5,
    *,
    n_boot: int = 500,
    ci: float = 0.95,
    seed: int = 0,
    age_edges: Sequence[float] = (40, 60),
    n_bins: int = 10,
) -> Any:
    """One row per (attribute, group): n, prevalence, AUC [CI], TPR/FPR/FNR at ``threshold``, ECE.

    ``groups`` is a DataFrame (or dict) of columns such as ``sex``, ``age``, ``site``; numeric columns with
    many values are binned into age bands. Missing values (NaN, None) form their own ``"missing"`` group,
    never a band. An ``overall`` row comes first.
    """
    import pandas as pd

    from .calibration import calibration_errors

    y = np.asarray(y_true).astype(int).reshape(-1)
    s = np.asarray(y_score, dtype=float).reshape(-1)
    if len(y) != len(s):
        raise ShapeMismatchError(f"{len(y)} labels but {len(s)} scores")
    if s.min() < 0 or s.max() > 1:
        raise ConfigError("y_score must be probabilities in [0, 1] (apply a sigmoid/softmax to logits first)")
    cols = _group_columns(groups, len(y), age_edges)
    rows = []

    def row(attr: str, grp: str, sel: np.ndarray) -> dict[str, Any]:
        auc, lo, hi = bootstrap_auc(y[sel], s[sel], n_boot=n_boot, ci=ci, seed=seed)
        r = rates_at_threshold(y[sel], s[sel], threshold)
        ece = calibration_errors(s[sel], y[sel], n_bins=n_bins)["ece"]
        return {
            "attribute": attr,
            "group": grp,
            "n": int(sel.sum()),
            "prevalence": float(y[sel].mean()),
            "auc": auc,
            "auc_lo": lo,
            "auc_hi": hi,
            **r,
            "ece": ece,
        }

    rows.append(row("overall", "all", np.ones(len(y), dtype=bool)))
    for attr, vals in cols.items():
        for g in sorted(np.unique(vals)):
            rows.append(row(attr, g, vals == g))
    return pd.DataFrame(rows)


def group_balanced_indices(groups: Any, *, n_per_group: int | None = None, seed: int = 0) -> np.ndarray:
    """Indices that resample a training set so every group (e.g. each label × marker cell) is equally large.

    Each group is drawn ``n_per_group`` times (default: the largest group's size), with replacement where a
    group is smaller, so a shortcut that co-occurs with the label in most images no longer predicts it.
    Returns the shuffled indices; pass ``x[idx], y[idx]`` to the Trainer.
    """
    g = np.asarray(groups).reshape(-1)
    if g.size == 0:
        raise ConfigError("group_balanced_indices needs at least one sample")
    names, counts = np.unique(g, return_counts=True)
    k = int(n_per_group or counts.max())
    if k < 1:
        raise ConfigError(f"n_per_group must be >= 1, got {n_per_group}")
    rng = np.random.default_rng(seed)
    parts = [rng.choice(np.flatnonzero(g == name), k, replace=bool(c < k)) for name, c in zip(names, counts)]
    return rng.permutation(np.concatenate(parts))


def _two_proportion_p(k1: float, n1: float, k2: float, n2: float) -> float:
    """Two-sided p-value of a two-proportion z-test (pooled variance)."""
    from scipy.stats import norm

    if min(n1, n2) <= 0:
        return float("nan")
    p = (k1 + k2) / (n1 + n2)
    se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return float(2 * norm.sf(abs(z)))


def max_gaps(table: Any, metrics: Sequence[str] = ("auc", "tpr", "fpr", "fnr", "ece")) -> Any:
    """Per attribute: the largest difference between groups for each metric, the worst groups, and evidence.

    ``equal_opportunity_diff`` is the TPR gap (Hardt et al. 2016). ``auc_ci_separated`` says whether the
    best and worst groups' bootstrap AUC intervals do not overlap; ``tpr_gap_p``/``fpr_gap_p`` are two-
    proportion z-test p-values between the groups with the highest and lowest rate.
    """
    import pandas as pd

    rows = []
    for attr, sub in table[table["attribute"] != "overall"].groupby("attribute", sort=False):
        r: dict[str, Any] = {"attribute": attr, "groups": len(sub)}
        for m in metrics:
            v = sub[m].astype(float)
            r[f"{m}_gap"] = float(v.max() - v.min()) if v.notna().sum() >= 2 else float("nan")
        r["equal_opportunity_diff"] = r.get("tpr_gap", float("nan"))
        auc = sub["auc"].astype(float)
        if auc.notna().sum() >= 2:
            lo, hi = sub.loc[auc.idxmin()], sub.loc[auc.idxmax()]
            r["worst_auc_group"] = lo["group"]
            r["auc_ci_separated"] = bool(lo["auc_hi"] < hi["auc_lo"])
        else:
            r["worst_auc_group"], r["auc_ci_separated"] = None, False
        for m, base in (("tpr", "pos"), ("fpr", "neg")):
            v = sub[m].astype(float)
            if v.notna().sum() < 2:
                r[f"{m}_gap_p"] = float("nan")
                continue
            a, b = sub.loc[v.idxmin()], sub.loc[v.idxmax()]
            na = a["n"] * (a["prevalence"] if base == "pos" else 1 - a["prevalence"])
            nb = b["n"] * (b["prevalence"] if base == "pos" else 1 - b["prevalence"])
            r[f"{m}_gap_p"] = _two_proportion_p(a[m] * na, na, b[m] * nb, nb)
        r["worst_tpr_group"] = (
            sub.loc[sub["tpr"].astype(float).idxmin(), "group"] if sub["tpr"].notna().any() else None
        )
        rows.append(r)
    return pd.DataFrame(rows)


def flag_gaps(
    table: Any,
    max_auc_gap: float = 0.05,
    max_rate_gap: float = 0.1,
    *,
    require_evidence: bool = True,
    alpha: float = 0.05,
) -> list[str]:
    """Warnings for attributes whose AUC gap or TPR/FPR gap exceeds the tolerances.

    With ``require_evidence`` (default) a gap is flagged only if it is also unlikely to be noise: the AUC
    bootstrap intervals of the best and worst groups do not overlap, or the rate difference has a
    two-proportion z-test p-value below ``alpha``. Small groups thus need large gaps to be flagged.
    """
    gaps = max_gaps(table)
    flags = []
    for _, r in gaps.iterrows():
        if r["auc_gap"] > max_auc_gap and (r["auc_ci_separated"] or not require_evidence):
            flags.append(
                f"{r['attribute']}: AUC gap {r['auc_gap']:.3f} > {max_auc_gap} (worst: {r['worst_auc_group']})"
            )
        for m in ("tpr", "fpr"):
            p = r[f"{m}_gap_p"]
            if r[f"{m}_gap"] > max_rate_gap and (not require_evidence or (p == p and p < alpha)):
                flags.append(
                    f"{r['attribute']}: {m.upper()} gap {r[f'{m}_gap']:.3f} > {max_rate_gap} (p={p:.3g})"
                )
    return flags
