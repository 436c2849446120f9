"""The band table as the Calibrate page shows it (``ui.calibrate_view.band_frame``)."""

from __future__ import annotations

import math

import numpy as np

from scoring.model.engine import band_index
from scoring.model.metrics import band_table
from ui.calibrate_view import RATE_COLUMNS, band_columns, band_frame


def test_band_frame_is_the_band_rows_highest_first_with_empty_rates_as_nan():
    # by hand: cut at 10 and 20; band 0-10 has 2 mature leads (1 converted), 10-20 only an immature lead,
    # 20+ has 3 mature leads (2 converted)
    total = np.array([1.0, 5.0, 15.0, 25.0, 30.0, 40.0])
    conv = np.array([True, False, False, True, True, False])
    mature = np.array([True, True, False, True, True, True])
    rows = band_table(total, band_index(total, [10, 20]), conv, mature, [10, 20])
    columns = list(band_columns())
    frame = band_frame(rows, columns)
    assert list(frame.columns) == columns
    assert frame["band"].tolist() == [rows[2].band, rows[1].band, rows[0].band]
    assert frame["leads"].tolist() == [3, 0, 2]
    assert frame["conversions"].tolist() == [2, 0, 1]
    assert frame["immature"].tolist() == [0, 1, 0]
    assert frame["rate"].iloc[0] == 2 / 3 and frame["rate"].iloc[2] == 1 / 2
    for column in RATE_COLUMNS:  # floats throughout: the band without mature leads is an empty cell
        assert frame[column].dtype == np.float64
    assert rows[1].rate is None and math.isnan(frame["rate"].iloc[1])
    assert math.isnan(frame["ci_low"].iloc[1]) and math.isnan(frame["lift"].iloc[1])
    assert frame["small"].tolist() == [True, True, True]
    assert frame["leads"].dtype == np.int64 and frame["small"].dtype == bool
