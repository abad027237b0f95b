"""One table comparing models by C-index with bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .._errors import MetricUndefinedError
from .bootstrap import bootstrap_ci
from .metrics import harrell_c_index, uno_c_index

__all__ = ["c_index_table"]


def c_index_table(
    predictions: Mapping[str, ArrayLike],
    time: ArrayLike,
    event: ArrayLike,
    *,
    train_time: ArrayLike | None = None,
    train_event: ArrayLike | None = None,
    tau: float | None = None,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Return a DataFrame with one row per model: Harrell's C with its bootstrap CI, and Uno's C.

    ``predictions`` maps a model name to its test-set risk scores. Uno's C (column ``uno``) needs the
    training ``train_time``/``train_event``; an undefined value is reported as NaN with the reason in
    the ``note`` column rather than as a number.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event)
    rows = []
    for name, risk in predictions.items():
        r = np.asarray(risk, dtype=np.float64).reshape(-1)
        row: dict[str, object] = {"model": name}
        try:
            res = bootstrap_ci(
                lambda a, b, c: harrell_c_index(a, b, c), t, e, r, n_boot=n_boot, alpha=alpha, seed=seed
            )
            row.update(harrell=res.estimate, ci_low=res.low, ci_high=res.high, note="")
        except MetricUndefinedError as err:
            row.update(harrell=np.nan, ci_low=np.nan, ci_high=np.nan, note=str(err))
        if train_time is not None and train_event is not None:
            try:
                row["uno"] = uno_c_index(t, e, r, train_time=train_time, train_event=train_event, tau=tau)
            except MetricUndefinedError as err:
                row["uno"] = np.nan
                row["note"] = (str(row["note"]) + " " + str(err)).strip()
        rows.append(row)
    cols = ["model", "harrell", "ci_low", "ci_high"] + (["uno"] if train_time is not None else []) + ["note"]
    return pd.DataFrame(rows)[cols].set_index("model")
