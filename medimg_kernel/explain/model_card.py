"""A model-card summary (Mitchell et al. 2019) written from measured figures, as markdown.

Nothing here is typed by hand: every number comes from a metric, subgroup table, calibration result or
saliency check passed in, and warnings are raised by thresholds (subgroup gaps, ECE, failed sanity checks,
localisation at chance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["model_card", "card_warnings"]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if v != v else f"{v:.3f}"
    return str(v)


def _table(rows: Sequence[Mapping[str, Any]], cols: Sequence[str]) -> str:
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    return head + "".join("| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |\n" for r in rows)


def card_warnings(
    *,
    subgroups: Any | None = None,
    calibration: Mapping[str, float] | None = None,
    checks: Mapping[str, Mapping[str, float]] | None = None,
    max_auc_gap: float = 0.05,
    max_rate_gap: float = 0.1,
    max_ece: float = 0.1,
) -> list[str]:
    """Warnings implied by the measurements: subgroup gaps, miscalibration, failed saliency checks."""
    from .bias import flag_gaps

    out: list[str] = []
    if subgroups is not None:
        out += [f"Subgroup gap — {f}" for f in flag_gaps(subgroups, max_auc_gap, max_rate_gap)]
    if calibration is not None and calibration.get("ece", 0.0) > max_ece:
        out.append(f"Miscalibrated: ECE {calibration['ece']:.3f} > {max_ece}; consider temperature scaling")
    for method, res in (checks or {}).items():
        if "randomization_spearman" in res and res["randomization_spearman"] >= 0.5:
            out.append(
                f"{method}: maps barely change when the model is randomised "
                f"(Spearman {res['randomization_spearman']:.2f}) — not model-faithful"
            )
        if (
            "pointing_game" in res
            and "pointing_chance" in res
            and res["pointing_game"] <= 1.5 * res["pointing_chance"]
        ):
            out.append(
                f"{method}: pointing game {res['pointing_game']:.2f} is near chance ({res['pointing_chance']:.2f})"
            )
    return out


def model_card(
    name: str,
    *,
    intended_use: str,
    data: str,
    metrics: Mapping[str, float],
    subgroups: Any | None = None,
    calibration: Mapping[str, float] | None = None,
    calibration_after: Mapping[str, float] | None = None,
    temperature: float | None = None,
    checks: Mapping[str, Mapping[str, float]] | None = None,
    feature_importance: Any | None = None,
    caveats: Sequence[str] = (),
    path: str | Path | None = None,
) -> str:
    """Render a markdown model card from measured results; write it to ``path`` if given.

    ``subgroups`` is :func:`~medimg_kernel.explain.bias.subgroup_metrics` output; ``calibration`` (and
    ``calibration_after`` temperature scaling) come from :func:`~medimg_kernel.explain.calibration.calibration_errors`;
    ``checks`` maps a saliency method to its measured figures (``pointing_game``, ``pointing_chance``,
    ``deletion_auc``, ``insertion_auc``, ``randomization_spearman``...); ``feature_importance`` is a
    DataFrame with ``feature`` and an importance column.
    """
    from .bias import max_gaps

    lines = [
        f"# Model card: {name}",
        "",
        "## Intended use",
        intended_use,
        "",
        "## Data",
        data,
        "",
        "## Performance",
        _table([{"metric": k, "value": float(v)} for k, v in metrics.items()], ["metric", "value"]),
    ]
    if subgroups is not None:
        cols = [
            "attribute",
            "group",
            "n",
            "prevalence",
            "auc",
            "auc_lo",
            "auc_hi",
            "tpr",
            "fpr",
            "fnr",
            "ece",
        ]
        lines += [
            "## Subgroup performance",
            _table(subgroups.to_dict("records"), cols),
            "### Largest gaps between groups",
            _table(
                max_gaps(subgroups).to_dict("records"),
                ["attribute", "auc_gap", "tpr_gap", "fpr_gap", "fnr_gap", "worst_auc_group"],
            ),
        ]
    if calibration is not None:
        rows = [{"model": "as trained", **calibration}]
        if calibration_after is not None:
            rows.append(
                {
                    "model": f"temperature-scaled (T={temperature:.2f})" if temperature else "recalibrated",
                    **calibration_after,
                }
            )
        lines += ["## Calibration", _table(rows, ["model", "ece", "mce", "rmsce"])]
    if checks:
        keys = sorted({k for v in checks.values() for k in v})
        lines += [
            "## Explanation quality checks",
            _table([{"method": m, **v} for m, v in checks.items()], ["method", *keys]),
        ]
    if feature_importance is not None:
        value_col = [c for c in feature_importance.columns if c != "feature"][0]
        lines += [
            "## Feature importance",
            _table(feature_importance.head(10).to_dict("records"), ["feature", value_col]),
        ]
    warns = card_warnings(subgroups=subgroups, calibration=calibration, checks=checks)
    lines += [
        "## Warnings (generated from the measurements)",
        *(f"- {w}" for w in warns or ["none triggered"]),
        "",
    ]
    if caveats:
        lines += ["## Caveats", *(f"- {c}" for c in caveats), ""]
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
