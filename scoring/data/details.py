"""What a sales rep recognises about a lead, beside its scores: name-like columns, conversion date, deal value.

The drill-down lists leads with the columns a rep knows them by. Which ones: the leads
table's text columns except the id, the creation time and the outcome, at most
``MAX_DISPLAY_COLUMNS`` in table order (on the demo: segment, seniority, department,
industry, country, email domain type, channel; in a CRM export first and last name, e-mail,
company, owner, lead source...). Text columns that fit rules read are kept too: the owner
or the source is what a rep sorts a follow-up list by.
They, the conversion time (as the scoring counts it: the earliest, not after the data's
end) and the deal value (the largest of the lead's outcome rows) are read once per
database and mapping into arrays aligned with the features (``read_details``), so a
drill-down is numpy, never a query. One lead's events come from ``lead_events``, a query
filtered on the lead's id; ``lead_status`` tells an unknown id from a lead left out for
having no creation time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..model.config import ScoringConfig
from ..model.features import Features
from .source import Source, quote

MAX_DISPLAY_COLUMNS = 10
"""At most this many text columns beside the id (a CRM export has dozens; the first ones are the names)."""

TEXT_TYPES = ("VARCHAR", "TEXT", "STRING")


@dataclass(frozen=True)
class LeadDetails:
    """What the drill-down shows besides the scores, for every lead (aligned with the features' rows) or for
    some (aligned with ``rows``)."""

    converted_at: np.ndarray
    """datetime64[us], NaT when not converted (or the conversion time is unknown)."""
    deal_value: np.ndarray
    """float64, NaN when none."""
    columns: dict[str, np.ndarray]
    """Display column -> object array of text (None when empty)."""
    rows: np.ndarray | None = None
    """The feature rows these arrays hold, in their order, or None: every lead."""

    def take(self, rows: np.ndarray) -> "LeadDetails":
        """The details of some leads (which these details must hold), in the order given."""
        rows = np.asarray(rows)
        at = rows
        if self.rows is not None:
            order = np.argsort(self.rows, kind="stable")
            found = np.searchsorted(self.rows[order], rows)
            at = order[np.minimum(found, max(self.rows.size - 1, 0))]
            if rows.size and (not self.rows.size or not np.array_equal(self.rows[at], rows)):
                raise ValueError("details asked for leads they do not hold")
        return LeadDetails(self.converted_at[at], self.deal_value[at], {k: v[at] for k, v in self.columns.items()},
                           np.asarray(rows))


def _used_columns(config: ScoringConfig) -> set[str]:
    leads, out = config.source.leads, config.source.outcome
    used = {leads.id, leads.created_at}
    if out.table is None:
        used |= {out.converted_at, out.converted, out.deal_value}
    return {c.lower() for c in used if c}


def display_columns(source: Source, config: ScoringConfig) -> list[str]:
    """The leads table's text columns a rep recognises a lead by (see the module docstring)."""
    if source.feature_set:
        return []
    columns = source.tables.get(config.source.leads.table.lower(), {})
    used = _used_columns(config)
    text = [c for c, t in columns.items() if t.upper() in TEXT_TYPES and c.lower() not in used]
    return text[:MAX_DISPLAY_COLUMNS]


def _empty(n: int, names: list[str]) -> LeadDetails:
    return LeadDetails(np.full(n, np.datetime64("NaT"), dtype="datetime64[us]"), np.full(n, np.nan),
                       {c: np.full(n, None, dtype=object) for c in names})


def _time(column: str) -> str:
    value = f"CAST({column} AS TIMESTAMP)"
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def read_details(source: Source, config: ScoringConfig, features: Features,
                 rows: np.ndarray | None = None) -> LeadDetails:
    """The display columns, conversion time and deal value of every lead in ``features`` (in its row order),
    or of the leads at ``rows`` only (sorted; a page of the drill-down: the tables are filtered on their ids
    first, so the query costs the page, not the data).

    The lead row is the one the scoring kept (the earliest created of a duplicated id).
    """
    names = display_columns(source, config)
    rows = None if rows is None else np.sort(np.asarray(rows, dtype=np.int64))
    n = features.n if rows is None else rows.size
    if source.feature_set or n == 0:
        empty = _empty(n, names)
        return empty if rows is None else LeadDetails(empty.converted_at, empty.deal_value, empty.columns, rows)
    leads, out = config.source.leads, config.source.outcome
    first = f"{quote(leads.created_at)} NULLS LAST" if leads.created_at else quote(leads.id)
    cols = "".join(f", CAST({quote(c)} AS VARCHAR) AS __d{i}" for i, c in enumerate(names))
    own = ""
    if out.table is None:
        conv = _time(quote(out.converted_at)) if out.converted_at else "NULL::TIMESTAMP"
        deal = f"CAST({quote(out.deal_value)} AS DOUBLE)" if out.deal_value else "NULL::DOUBLE"
        own = f", CASE WHEN {conv} <= $end THEN {conv} END AS __conv, {deal} AS __deal"
    some = "" if rows is None else " AND {} IN (SELECT __id FROM __leadcal_rows)"
    sql = [f"WITH l AS (SELECT {quote(leads.id)} AS __id{cols}{own}, row_number() OVER "
           f"(PARTITION BY {quote(leads.id)} ORDER BY {first}) AS __rn FROM {quote(leads.table)} "
           f"WHERE {quote(leads.id)} IS NOT NULL{some.format(quote(leads.id))})"]
    if out.table is not None:
        conv = _time(quote(out.converted_at)) if out.converted_at else "NULL::TIMESTAMP"
        deal = f"max(CAST({quote(out.deal_value)} AS DOUBLE))" if out.deal_value else "NULL::DOUBLE"
        where = "" if rows is None else " WHERE " + some.format(quote(out.lead_id))[5:]
        sql.append(f", o AS (SELECT {quote(out.lead_id)} AS __id, min({conv}) FILTER (WHERE {conv} <= $end) "
                   f"AS __conv, {deal} AS __deal FROM {quote(out.table)}{where} GROUP BY 1)")
        pick = "o.__conv, o.__deal"
        join = " LEFT JOIN o ON r.__id = o.__id"
    else:
        pick, join = "l.__conv, l.__deal", ""
    d = "".join(f", l.__d{i}" for i in range(len(names)))
    sql.append(f"SELECT r.__row, {pick}{d} FROM __leadcal_rows AS r JOIN l ON r.__id = l.__id AND l.__rn = 1{join}")
    positions = np.arange(n, dtype=np.int64)
    ids = features.lead_id if rows is None else features.lead_id[rows]
    result = _empty(n, names)
    source.con.register("__leadcal_rows", pa.table({"__id": pa.array(ids), "__row": pa.array(positions)}))
    try:
        table = source.con.sql("\n".join(sql), params={"end": features.data_end}).to_arrow_table()
    finally:
        source.con.unregister("__leadcal_rows")
    at = table.column(0).to_numpy()
    conv = table.column(1)
    if pa.types.is_timestamp(conv.type):
        result.converted_at[at] = conv.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    result.deal_value[at] = table.column(2).cast(pa.float64()).to_numpy(zero_copy_only=False)
    for i, name in enumerate(names):
        result.columns[name][at] = table.column(3 + i).to_numpy(zero_copy_only=False)
    return result if rows is None else LeadDetails(result.converted_at, result.deal_value, result.columns, rows)


def lead_events(source: Source, config: ScoringConfig, lead_id: object) -> list[tuple[str, dt.datetime | None]] | None:
    """One lead's events (type, time), oldest first: a query filtered on its id (DuckDB prunes by zone maps).

    None for a feature set from the warehouse: it holds no events to list."""
    ev = config.source.events
    if source.feature_set:
        return None
    if ev is None:
        return []
    sql = (f"SELECT CAST({quote(ev.type)} AS VARCHAR), {_time(quote(ev.time))} AS t FROM {quote(ev.table)} "
           f"WHERE {quote(ev.lead_id)} = $id ORDER BY t NULLS LAST")
    value = lead_id.item() if isinstance(lead_id, np.generic) else lead_id
    return [(t, w) for t, w in source.con.execute(sql, {"id": value}).fetchall()]


def lead_status(source: Source, config: ScoringConfig, lead_id: str) -> str:
    """Why a typed id is not among the scored leads: ``unknown`` or ``no creation time``."""
    leads = config.source.leads
    if source.feature_set or leads.created_at is None:
        return "unknown"
    sql = (f"SELECT count(*), count({_time(quote(leads.created_at))}) FROM {quote(leads.table)} "
           f"WHERE trim(CAST({quote(leads.id)} AS VARCHAR)) = $id")
    ((rows, timed),) = source.con.execute(sql, {"id": str(lead_id).strip()}).fetchall()
    if rows and not timed:
        return "no creation time"
    return "unknown"
