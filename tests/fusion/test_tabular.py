"""Clinical/genomic tables: validation naming the column, standardisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medimg_kernel.fusion import TabularDataError, TabularPreprocessor, table_to_array


@pytest.fixture
def table():
    return pd.DataFrame(
        {"age": [50.0, 60.0, 70.0, 80.0], "sex": [0, 1, 1, 0], "idh": [True, False, True, True]}
    )


def test_table_to_array(table):
    arr = table_to_array(table, ["age", "idh"])
    assert arr.dtype == np.float32 and arr.shape == (4, 2)
    assert arr[:, 1].tolist() == [1, 0, 1, 1]


def test_missing_column_named(table):
    with pytest.raises(TabularDataError, match="'ecog'") as info:
        table_to_array(table, ["age", "ecog"], name="clinical")
    assert "clinical" in str(info.value) and "age" in str(info.value)


def test_non_numeric_column_named(table):
    table["grade"] = ["II", "III", "IV", "IV"]
    with pytest.raises(TabularDataError, match="'grade'.*not numeric") as info:
        table_to_array(table)
    assert "get_dummies" in str(info.value)


def test_nan_column_named(table):
    table.loc[2, "age"] = np.nan
    with pytest.raises(TabularDataError, match="'age' has 1 missing"):
        table_to_array(table)


def test_not_a_dataframe():
    with pytest.raises(TabularDataError, match="DataFrame"):
        table_to_array(np.zeros((3, 2)))


def test_preprocessor_standardises_with_training_stats(table):
    pre = TabularPreprocessor(["age", "sex"], name="clinical").fit(table)
    out = pre.transform(table)
    assert abs(out[:, 0].mean()) < 1e-6 and abs(out[:, 0].std() - 1) < 1e-6
    assert out[:, 1].tolist() == [0, 1, 1, 0]  # binary flags pass through
    new = pre.transform(pd.DataFrame({"age": [65.0], "sex": [1]}))
    assert new[0, 0] == pytest.approx((65 - 65) / table["age"].std(ddof=0))
    with pytest.raises(TabularDataError, match="'sex'"):
        pre.transform(pd.DataFrame({"age": [65.0]}))
    with pytest.raises(TabularDataError, match="not fitted"):
        TabularPreprocessor().transform(table)
    assert pre.n_features == 2 and "fitted" in repr(pre)
