"""Kept events ordered by counting (scoring.model.event_order) against numpy's lexsort."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.model.event_order import SHORT_RUN, order_events


def _batches(row, code, age, size):
    return [(row[i:i + size], code[i:i + size], age[i:i + size]) for i in range(0, len(row), size)]


def _by_lexsort(row, code, age, types):
    order = np.lexsort((age, row, code))
    starts = np.concatenate([[0], np.cumsum(np.bincount(code, minlength=types))])
    return starts, row[order], age[order]


@pytest.mark.parametrize("age_dtype", [np.int32, np.float64])
@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_events_in_any_order_come_out_as_a_lexsort_by_type_lead_and_age(age_dtype, batch):
    rng = np.random.default_rng(11)
    n, leads, types = 3000, 120, 5
    row = rng.integers(0, leads - 20, n).astype(np.int32)  # the last 20 leads have no events
    code = rng.choice([0, 1, 3, 4], n).astype(np.int8)  # type 2 has none
    age = rng.integers(0, 40, n).astype(age_dtype)  # many equal ages: ties
    if age_dtype == np.float64:
        age = age + rng.choice([0.0, 0.25, 1e-9], n)
    starts, out_row, out_age = order_events(_batches(row, code, age, batch), np.bincount(code, minlength=types), leads)
    want_starts, want_row, want_age = _by_lexsort(row, code, age, types)
    assert out_row.dtype == np.int32 and out_age.dtype == age_dtype and starts.dtype == np.int64
    np.testing.assert_array_equal(starts, want_starts)
    np.testing.assert_array_equal(out_row, want_row)
    np.testing.assert_array_equal(out_age, want_age)


def test_a_lead_with_many_events_of_one_type_in_time_order_gets_its_ages_ascending():
    """A lead's events arrive oldest first, so their ages descend: runs longer than the insertion
    sort's are sorted too, and a run ends where the next type starts, also on the same lead."""
    long = 5 * SHORT_RUN
    row = np.array([3] * long + [3] * SHORT_RUN + [5], dtype=np.int32)
    code = np.array([0] * long + [1] * SHORT_RUN + [1], dtype=np.int8)
    age = np.concatenate([np.arange(long, 0, -1) * 100, np.arange(SHORT_RUN, 0, -1), [9]]).astype(np.int32)
    starts, out_row, out_age = order_events(_batches(row, code, age, 10), np.bincount(code, minlength=2), 6)
    assert starts.tolist() == [0, long, long + SHORT_RUN + 1]
    assert out_row.tolist() == [3] * long + [3] * SHORT_RUN + [5]
    assert out_age.tolist() == [*range(100, 100 * long + 1, 100), *range(1, SHORT_RUN + 1), 9]


def test_no_events_give_empty_arrays_and_zero_starts():
    starts, row, age = order_events([], np.zeros(3, dtype=np.int64), 10)
    assert starts.tolist() == [0, 0, 0, 0] and row.size == 0 and age.size == 0
    assert row.dtype == np.int32 and age.dtype == np.int32


def test_the_batches_are_let_go_as_they_are_placed():
    """The caller's list is emptied: the batches' memory is not held beside the ordered arrays."""
    row = np.arange(6, dtype=np.int32)
    batches = _batches(row, np.zeros(6, dtype=np.int8), row.copy(), 2)
    order_events(batches, np.array([6]), 6)
    assert batches == []
