"""The band table as the Calibrate page shows it (``ui.calibrate_view.band_frame``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from scoring.model.engine import band_index
from scoring.model.metrics import band_table
from ui.calibrate_view import RATE_COLUMNS, band_columns, band_frame


def test_band_frame_is_the_band_rows_highest_first_with_empty_rates_left_empty():
    # by hand: cut at 10 and 20; band 0-10 has 2 mature leads (1 converted), 10-20 only an immature lead,
    # 20+ has 3 mature leads (2 converted)
    total = np.array([1.0, 5.0, 15.0, 25.0, 30.0, 40.0])
    conv = np.array([True, False, False, True, True, False])
    mature = np.array([True, True, False, True, True, True])
    rows = band_table(total, band_index(total, [10, 20]), conv, mature, [10, 20])
    columns = list(band_columns())
    table = band_frame(rows, columns)
    assert table.column_names == columns
    got = table.to_pydict()
    assert got["band"] == [rows[2].band, rows[1].band, rows[0].band]
    assert got["leads"] == [3, 0, 2]
    assert got["conversions"] == [2, 0, 1]
    assert got["immature"] == [0, 1, 0]
    assert got["rate"][0] == 2 / 3 and got["rate"][2] == 1 / 2
    for column in RATE_COLUMNS:  # floats throughout; what a band without mature leads lacks is an empty cell
        assert table.schema.field(column).type == pa.float64()
        assert got[column] == [getattr(b, column) for b in rows[::-1]]
    assert rows[1].rate is None and got["rate"][1] is None and got["lift"][1] is None
    assert got["small"] == [True, True, True]
    assert table.schema.field("leads").type == pa.int64() and table.schema.field("small").type == pa.bool_()
    # as the page's tests read it back: a pandas frame whose empty rate is NaN
    frame = table.to_pandas()
    assert frame["rate"].dtype == np.float64 and np.isnan(frame["rate"].iloc[1])
