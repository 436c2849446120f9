"""The radix sort of scores (scoring.model.sorting) against numpy's sort."""

from __future__ import annotations

import numpy as np
import pytest

import scoring.model.sorting as sorting
from scoring.model.sorting import radix_sort, sort_scores


def _scores(rng: np.random.Generator, n: int) -> np.ndarray:
    """Like a model's totals: integer fit points plus decayed engagement, many at 0 and at the cap."""
    fit = rng.integers(-10, 40, n).astype(np.float64)
    eng = np.where(rng.random(n) < 0.6, rng.exponential(6.0, n) * np.exp(-rng.random(n)), 0.0)
    return np.clip(fit + eng, 0.0, 60.0)


CASES = {
    "scores": lambda rng: _scores(rng, 50_000),
    "wide range, both signs": lambda rng: rng.standard_normal(20_000) * 10.0 ** rng.integers(-300, 300, 20_000),
    "infinities, zeros of both signs, subnormals": lambda rng: rng.choice(
        [np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e-310, 2.5, -2.5], 5_000),
    "one value": lambda rng: np.full(3_000, 7.25),
    "only the lowest bits differ": lambda rng: (1.0 + rng.integers(0, 1 << 11, 4_000) * np.finfo(float).eps),
    "two digits differ": lambda rng: (1.0 + rng.integers(0, 1 << 22, 4_000) * np.finfo(float).eps),
    "already sorted, reversed": lambda rng: np.arange(10_000, 0, -1) / 7.0,
    "a single value": lambda rng: np.array([3.0]),
    "none": lambda rng: np.empty(0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_radix_sort_equals_numpys_sort(case):
    values = CASES[case](np.random.default_rng(5))
    got = values.copy()
    scratch = np.full(values.size + 3, np.nan)  # longer, and not empty: its content must not matter
    assert radix_sort(got, scratch)
    want = np.sort(values)
    np.testing.assert_array_equal(got, want)  # -0.0 == 0.0: their order among each other is free
    assert np.array_equal(np.sort(got.view(np.uint64)), np.sort(values.view(np.uint64)))  # the same bits, moved


def test_a_nan_leaves_the_values_as_they_were_and_sort_scores_puts_it_last_as_numpy_does(monkeypatch):
    values = np.array([3.0, -np.nan, 1.0, np.nan, -2.0] * 20_000)
    got = values.copy()
    assert not radix_sort(got, np.empty_like(got))
    assert np.array_equal(got, values, equal_nan=True)
    monkeypatch.setattr(sorting, "_CHOICE", [True])
    np.testing.assert_array_equal(sort_scores(values.copy()), np.sort(values))


@pytest.mark.parametrize("radix", [True, False])
def test_sort_scores_sorts_in_place_either_way(monkeypatch, radix):
    monkeypatch.setattr(sorting, "_CHOICE", [radix])
    values = _scores(np.random.default_rng(1), sorting.RADIX_MIN + 5)
    a = values.copy()
    assert sort_scores(a) is a
    np.testing.assert_array_equal(a, np.sort(values))
    half = values.copy()  # a slice sorted through the other half's memory, as rescore does
    scratch = half[half.size // 2:]
    sort_scores(half[:half.size // 2], scratch)
    np.testing.assert_array_equal(half[:half.size // 2], np.sort(values[:values.size // 2]))


def test_the_choice_is_made_once_per_process(monkeypatch):
    monkeypatch.setattr(sorting, "_CHOICE", [])
    first = sorting.radix_is_faster()
    assert sorting._CHOICE == [first] and sorting.radix_is_faster() is first
