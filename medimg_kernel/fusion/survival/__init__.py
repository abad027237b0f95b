"""Survival analysis for outcome prediction: Cox loss (torch), concordance metrics, Kaplan–Meier plots
and bootstrap confidence intervals.

Convention throughout: a higher risk score means a shorter expected survival; ``time`` is the follow-up
time and ``event`` is 1 for an observed event, 0 for censoring. Targets for the Trainer are (N, 2)
tensors ``[time, event]`` (see :func:`survival_targets`).
"""

from __future__ import annotations

from .bootstrap import BootstrapResult, bootstrap_ci
from .km import plot_km_risk_groups, risk_groups
from .loss import CoxPHLoss, cox_ph_loss, survival_targets
from .metrics import c_index_metric, check_survival_data, harrell_c_index, uno_c_index
from .table import c_index_table

__all__ = [
    "cox_ph_loss",
    "CoxPHLoss",
    "survival_targets",
    "harrell_c_index",
    "uno_c_index",
    "c_index_metric",
    "check_survival_data",
    "risk_groups",
    "plot_km_risk_groups",
    "bootstrap_ci",
    "BootstrapResult",
    "c_index_table",
]
