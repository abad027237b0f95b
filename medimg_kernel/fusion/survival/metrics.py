"""Concordance metrics for risk scores, computed by scikit-survival.

Harrell's C is the fraction of comparable pairs (the earlier time is an event) that the risk scores
order correctly, ties in risk counting 0.5; it is optimistic under heavy censoring. Uno's C weights
pairs by the inverse probability of censoring estimated on the training set, up to a time ``tau``.
Both refuse to return a number on data where they are undefined.

Ties in risk are exact ties, whatever the scale of the scores: the scores are replaced by their dense
ranks before scikit-survival sees them, whose fixed absolute tolerance (``tied_tol=1e-8``) would otherwise
tie every score of a model that outputs, e.g., risks around 1e-9 (lifelines compares exactly too).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ...errors import ShapeMismatchError
from .._errors import MetricUndefinedError

__all__ = ["check_survival_data", "harrell_c_index", "uno_c_index", "c_index_metric"]


def _exact_ranks(risk: np.ndarray) -> np.ndarray:
    """Dense ranks 1..k as float64: same order and the same (exact) ties as ``risk``, on a scale of 1."""
    from scipy.stats import rankdata

    return rankdata(risk, method="dense").astype(np.float64)

#: smallest cohort on which a concordance index is reported
MIN_SAMPLES = 10


def check_survival_data(
    time: ArrayLike,
    event: ArrayLike,
    risk: ArrayLike | None = None,
    *,
    min_samples: int = MIN_SAMPLES,
    what: str = "C-index",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate and convert survival arrays; raise :class:`MetricUndefinedError` where ``what`` is undefined.

    Returns float64 ``time``, bool ``event`` and float64 ``risk`` (or None). Refuses: unequal lengths,
    non-finite values, negative times, fewer than ``min_samples`` subjects, no events (all censored), and
    data without a single comparable pair.
    """
    t = np.asarray(time, dtype=np.float64).reshape(-1)
    e_raw = np.asarray(event).reshape(-1)
    if not np.isin(e_raw, [0, 1]).all():
        raise MetricUndefinedError(
            f"event indicators must be 0/1 (or bool); found values {np.unique(e_raw)[:5]}"
        )
    e = e_raw.astype(bool)
    r = None if risk is None else np.asarray(risk, dtype=np.float64).reshape(-1)
    lengths = {len(t), len(e)} | ({len(r)} if r is not None else set())
    if len(lengths) > 1:
        raise ShapeMismatchError(
            f"time ({len(t)}), event ({len(e)})"
            + (f" and risk ({len(r)})" if r is not None else "")
            + " differ in length"
        )
    if not np.isfinite(t).all() or (t < 0).any():
        raise MetricUndefinedError("follow-up times must be finite and non-negative")
    if r is not None and not np.isfinite(r).all():
        raise MetricUndefinedError(
            f"{int((~np.isfinite(r)).sum())} risk score(s) are NaN or infinite; check the model's outputs"
        )
    if len(t) < min_samples:
        raise MetricUndefinedError(
            f"cannot compute the {what} on {len(t)} subject(s): at least {min_samples} "
            "are needed for a meaningful value (lower min_samples only for toy examples)"
        )
    if not e.any():
        raise MetricUndefinedError(
            f"cannot compute the {what}: all {len(t)} subjects are censored (no events), "
            "so no pair of subjects is comparable"
        )
    # a pair (i, j) is comparable when i has an event and t_i < t_j: some event before the last time
    if not (t[e].min() < t.max()):
        raise MetricUndefinedError(
            f"cannot compute the {what}: no comparable pair (every event time is the longest follow-up)"
        )
    return t, e, r


def harrell_c_index(
    time: ArrayLike, event: ArrayLike, risk: ArrayLike, *, min_samples: int = MIN_SAMPLES
) -> float:
    """Harrell's concordance index of ``risk`` (higher = earlier event), via scikit-survival.

    Raises :class:`MetricUndefinedError` on all-censored data, cohorts under ``min_samples`` or data
    without comparable pairs.
    """
    from sksurv.metrics import concordance_index_censored

    t, e, r = check_survival_data(time, event, risk, min_samples=min_samples, what="Harrell's C-index")
    return float(concordance_index_censored(e, t, _exact_ranks(r))[0])


def uno_c_index(
    time: ArrayLike,
    event: ArrayLike,
    risk: ArrayLike,
    *,
    train_time: ArrayLike,
    train_event: ArrayLike,
    tau: float | None = None,
    min_samples: int = MIN_SAMPLES,
) -> float:
    """Uno's IPCW concordance index of ``risk`` up to ``tau``, censoring estimated on the training set.

    Parameters
    ----------
    time, event, risk : array (N,)
        Test-set follow-up, events and risk scores.
    train_time, train_event : array (M,)
        Training-set follow-up and events (for the Kaplan–Meier estimate of the censoring distribution).
    tau : float, optional
        Truncation time. Default: the largest test time below the training set's longest follow-up,
        where the censoring survival is still positive.
    """
    from sksurv.metrics import concordance_index_ipcw
    from sksurv.util import Surv

    t, e, r = check_survival_data(time, event, risk, min_samples=min_samples, what="Uno's C-index")
    tt, te, _ = check_survival_data(
        train_time, train_event, None, min_samples=min_samples, what="censoring distribution"
    )
    if tau is None:
        # the censoring KM must stay positive: stay below the last training time
        below = t[t < tt.max()]
        if below.size == 0:
            raise MetricUndefinedError(
                "every test time is beyond the training follow-up; pass tau explicitly"
            )
        tau = float(below.max())
    if not (t[e] < tau).any():
        raise MetricUndefinedError(f"no test event before tau={tau:g}: Uno's C-index is undefined")
    try:
        return float(concordance_index_ipcw(Surv.from_arrays(te, tt), Surv.from_arrays(e, t), _exact_ranks(r), tau=tau)[0])
    except (ValueError, ZeroDivisionError) as err:
        raise MetricUndefinedError(f"Uno's C-index cannot be computed here: {err}") from err


def c_index_metric(outputs, targets) -> float:
    """Harrell's C of risk ``outputs`` vs (N, 2) ``[time, event]`` ``targets``, for ``Trainer(metrics=...)``.

    A training loop must not stop on a validation batch without events, so where the C-index is undefined
    this adapter logs a warning with the reason and returns NaN (not a number) instead of raising.
    """
    import logging

    import torch

    out = outputs.detach().double().cpu().reshape(-1).numpy() if isinstance(outputs, torch.Tensor) else outputs
    y = targets.detach().double().cpu().numpy() if isinstance(targets, torch.Tensor) else np.asarray(targets)
    try:
        return harrell_c_index(y[:, 0], y[:, 1].astype(int), out)
    except MetricUndefinedError as err:
        logging.getLogger(__name__).warning("C-index undefined on this split: %s", err)
        return float("nan")
