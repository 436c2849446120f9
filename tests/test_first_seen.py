"""Category codes renumbered by first appearance: one compiled pass against numpy's ``unique``."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.model.first_seen import first_seen


def _reference(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes in order of first appearance (``np.unique`` with each one's first index), and each lead's new code."""
    present = codes[codes >= 0]
    values, first = np.unique(present, return_index=True)
    order = values[np.argsort(first, kind="stable")]
    lut = np.full(int(codes.max(initial=0)) + 2, -1, dtype=np.int64)
    lut[order + 1] = np.arange(order.size)
    return order, lut[codes + 1]


CASES = {
    "random, a tenth missing": np.where(np.random.default_rng(4).random(20_000) > 0.1,
                                        np.random.default_rng(3).integers(0, 500, 20_000), -1),
    "many values, few leads each": np.random.default_rng(5).integers(0, 90_000, 100_000),
    "one value": np.full(7, 3),
    "all missing": np.full(5, -1),
    "none": np.zeros(0, dtype=np.int64),
    "values in reverse order": np.array([4, 3, 3, 2, -1, 1, 0, 4]),
}


@pytest.mark.parametrize("codes", CASES.values(), ids=CASES.keys())
def test_first_seen_equals_numpys_unique_by_first_index(codes):
    codes = codes.astype(np.int32)
    n_values = int(codes.max(initial=-1)) + 1
    renumbered = np.full(codes.size, 99, dtype=np.int32)
    order = first_seen(codes, n_values + 3, renumbered)  # codes the leads never hold are left out
    expected_order, expected_codes = _reference(codes)
    np.testing.assert_array_equal(order, expected_order)
    np.testing.assert_array_equal(renumbered, expected_codes)


def test_first_seen_by_hand():
    renumbered = np.empty(6, dtype=np.int32)
    order = first_seen(np.array([7, -1, 2, 7, 5, 2], dtype=np.int32), 8, renumbered)
    assert order.tolist() == [7, 2, 5]
    assert renumbered.tolist() == [0, -1, 1, 0, 2, 1]
