"""Won deal value per lead, for revenue per lead (champion vs challenger tests).

The value counts only where leadcal counts a conversion (the caller multiplies by the
lead's converted-and-matured flag); several outcome rows of a lead: the largest value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..model.config import SourceMapping
from .source import ColumnNeed, Source, check_columns, quote


def deal_values(source: Source, mapping: SourceMapping, lead_ids: np.ndarray) -> np.ndarray | None:
    """Deal value of each lead (0 where it has none), aligned with ``lead_ids``; None when no deal value
    is mapped or the data is a feature set (which holds no deal values)."""
    out = mapping.outcome
    if out.deal_value is None or source.feature_set:
        return None
    table = out.table or mapping.leads.table
    id_col = out.lead_id if out.table else mapping.leads.id
    check_columns(source, [ColumnNeed(table, out.deal_value, "numeric", "deal value")])
    rows = source.con.sql(
        f"SELECT {quote(id_col)} AS id, max(CAST({quote(out.deal_value)} AS DOUBLE)) AS v FROM {quote(table)} "
        f"WHERE {quote(id_col)} IS NOT NULL AND isfinite(CAST({quote(out.deal_value)} AS DOUBLE)) GROUP BY 1"
    ).to_arrow_table()
    ids = pa.array(np.asarray(lead_ids))
    if len(rows) == 0 or len(ids) == 0:
        return np.zeros(len(ids))
    keys = rows.column("id").combine_chunks()
    if keys.type != ids.type:
        keys = keys.cast(ids.type, safe=False)
    pos = pc.index_in(ids, value_set=keys).to_numpy(zero_copy_only=False)
    values = rows.column("v").to_numpy()
    out_values = np.zeros(len(ids))
    idx = np.nan_to_num(pos.astype(np.float64), nan=-1).astype(np.int64)
    found = idx >= 0
    out_values[found] = values[idx[found]]
    return out_values
