"""Sparse activities hold exactly the dense values, and the feature sets built on them agree."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from scoring.model.activity import Activity, row_dtype


def test_sparse_form_keeps_every_non_zero_value_and_reads_nan_as_zero():
    dense = np.array([0.0, 2.5, np.nan, 0.0, -1.0, np.inf, -np.inf, 0.0])
    a = Activity.from_dense(dense)
    assert a.rows.tolist() == [1, 4, 5, 6]  # NaN is no activity (np.nan_to_num), zeros are left out
    big = np.finfo(np.float64).max
    assert a.values.tolist() == [2.5, -1.0, big, -big]
    assert a.rows.dtype == np.int32 and a.n == 8
    np.testing.assert_array_equal(a.dense(), np.nan_to_num(dense, nan=0.0))
    assert a.nbytes == 4 * 4 + 4 * 8


def test_arrays_are_read_only_and_shapes_must_match():
    a = Activity.from_dense(np.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        a.values[0] = 3.0
    with pytest.raises(ValueError, match="2 rows but 1 values"):
        Activity(np.array([0, 1], dtype=np.int32), np.array([1.0]), 3)


def test_row_type_is_narrow_while_it_fits():
    assert row_dtype(10) == np.int32 and row_dtype(2**31 - 1) == np.int32 and row_dtype(2**31) == np.int64


@pytest.mark.parametrize("seed", range(3))
def test_subset_equals_the_dense_subset(seed):
    rng = np.random.default_rng(seed)
    dense = rng.exponential(1.0, 500) * (rng.random(500) < 0.3)
    mask = rng.random(500) < 0.4
    position = np.cumsum(mask, dtype=np.int64) - 1
    sub = Activity.from_dense(dense).subset(mask, position)
    assert sub.n == mask.sum()
    np.testing.assert_array_equal(sub.dense(), dense[mask])
    assert np.all(np.diff(sub.rows) > 0)


def test_features_store_dense_signals_sparse_and_give_them_back_dense():
    from scoring.model.features import Features

    n = 6
    t = np.array(["2024-01-01"] * n, dtype="datetime64[us]")
    opens = np.array([0.0, 3.0, 0.0, 1.5, 0.0, 0.0])
    f = Features(spec=None, lead_id=np.arange(n), created_at=t, scoring_at=t, converted=np.zeros(n, bool),
                 mature=np.ones(n, bool), categorical={},
                 numeric={"visits": np.array([np.nan, 1.0, 0.0, 2.0, np.nan, 4.0])},
                 signals={"ev:open|none": opens}, data_end=dt.datetime(2024, 2, 1))
    assert isinstance(f.signals["ev:open|none"], Activity)
    np.testing.assert_array_equal(f.feature("ev:open|none"), opens)
    assert f.activity("ev:open|none").rows.tolist() == [1, 3]
    visits = f.activity("col:visits")
    assert visits.rows.tolist() == [1, 3, 5] and visits is f.activity("col:visits")  # made once
    half = f.subset(np.array([True, True, False, False, True, True]))
    np.testing.assert_array_equal(half.feature("ev:open|none"), [0.0, 3.0, 0.0, 0.0])
    assert half.cache == {} and half.activity("col:visits").rows.tolist() == [1, 3]  # its own leads, its own cache
