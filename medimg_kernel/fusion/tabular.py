"""Clinical and genomic tables → validated, standardised float32 matrices for the tabular encoders.

Every check names the offending column: a column that is missing, not numeric, or holds missing values
raises :class:`TabularDataError` with the fix (encode categories, impute, or drop the column).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._errors import TabularDataError

__all__ = ["table_to_array", "TabularPreprocessor"]


def table_to_array(
    df: pd.DataFrame, columns: Sequence[str] | None = None, *, name: str = "table"
) -> np.ndarray:
    """Return ``df[columns]`` as a float32 array (N, F) after checking each column is present and numeric.

    Booleans become 0/1. Raises :class:`TabularDataError` naming the first bad column.
    """
    if not isinstance(df, pd.DataFrame):
        raise TabularDataError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    cols = list(df.columns) if columns is None else list(columns)
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise TabularDataError(
            f"{name} has no column {absent[0]!r}"
            + (f" (nor {absent[1:]})" if len(absent) > 1 else "")
            + f"; available columns: {', '.join(map(str, df.columns))}"
        )
    for c in cols:
        col = df[c]
        if pd.api.types.is_bool_dtype(col):
            continue
        if not pd.api.types.is_numeric_dtype(col):
            example = col.dropna().iloc[0] if col.notna().any() else None
            raise TabularDataError(
                f"{name} column {c!r} is not numeric (dtype {col.dtype}, e.g. {example!r}); encode it first, "
                f"e.g. pd.get_dummies(df, columns=[{c!r}], dtype=float) or df[{c!r}].map({{...}})"
            )
        n_nan = int(col.isna().sum())
        if n_nan:
            raise TabularDataError(
                f"{name} column {c!r} has {n_nan} missing value(s); impute them (e.g. the training median) "
                "or drop the column before fusion"
            )
    return df[cols].to_numpy(dtype=np.float32)


class TabularPreprocessor:
    """Validate and standardise a table with statistics fitted on the training split (scikit-learn scaler).

    Parameters
    ----------
    columns : sequence of str, optional
        Columns to use, in this order (default: all columns of the table passed to :meth:`fit`).
    name : str
        Used in error messages ("clinical", "genomic", ...).
    binary_passthrough : bool
        Leave 0/1 columns unscaled (easier to read as mutation/sex flags).
    """

    def __init__(
        self, columns: Sequence[str] | None = None, *, name: str = "table", binary_passthrough: bool = True
    ) -> None:
        self.columns = list(columns) if columns is not None else None
        self.name = name
        self.binary_passthrough = binary_passthrough
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, df: pd.DataFrame) -> TabularPreprocessor:
        """Learn column means and standard deviations from the training table ``df``."""
        from sklearn.preprocessing import StandardScaler

        if self.columns is None:
            self.columns = list(df.columns)
        x = table_to_array(df, self.columns, name=self.name)
        scaler = StandardScaler().fit(x)
        mean, scale = scaler.mean_.astype(np.float32), scaler.scale_.astype(np.float32)
        if self.binary_passthrough:
            binary = np.array([set(np.unique(x[:, j])) <= {0.0, 1.0} for j in range(x.shape[1])], dtype=bool)
            mean[binary], scale[binary] = 0.0, 1.0
        self.mean_, self.scale_ = mean, scale
        return self

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Return the standardised float32 matrix (N, F) of ``df``'s fitted columns."""
        if self.mean_ is None or self.columns is None:
            raise TabularDataError(f"{self.name} preprocessor is not fitted; call .fit(train_table) first")
        x = table_to_array(df, self.columns, name=self.name)
        return ((x - self.mean_) / self.scale_).astype(np.float32)

    def fit_transform(self, df: pd.DataFrame) -> np.ndarray:
        """Fit on ``df`` and return its standardised matrix."""
        return self.fit(df).transform(df)

    @property
    def n_features(self) -> int:
        """Number of output features."""
        return len(self.columns or [])

    def __repr__(self) -> str:
        state = "fitted" if self.mean_ is not None else "not fitted"
        return f"TabularPreprocessor(name={self.name!r}, n_features={self.n_features}, {state})"
