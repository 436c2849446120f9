"""Point-in-time feature extraction: DuckDB -> the compact numpy arrays of ``Features``, once.

The expensive part of scoring (reading leads, joining events to each lead's scoring
point) depends on the data, the mapping and the evaluation window, never on points or
thresholds. It is done here once: the deduplicated leads go into a temp table (categories
as integer codes), their columns are read into numpy, and the point-in-time events are
kept as narrow arrays (lead row, type code, age). Decayed sums are numpy over the kept
events (``scoring.model.features``), so a decay change runs no SQL, and neither does a
slider move. The point-in-time rules are in that module's docstring.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..model.config import OutcomeTable, ScoringConfig, SourceMapping, normalise_value
from ..model.event_order import order_events, whole_seconds
from ..model.features import (
    DAY_US,
    Categorical,
    Features,
    FeatureSpec,
    KeptEvents,
    LaterCategorical,
    age_days,
    event_types,
    feature_spec,
    signal_sums,
)
from ..model.findings import QualityReport
from ..model.first_seen import first_seen
from .feature_set import read_features
from .quality import check_quality
from .source import ColumnNeed, Source, SourceError, check_columns, mapping_needs, quote

TEMP_PREFIX = "__leadcal_leads_"
"""Name prefix of the per-extraction temp table (a random suffix makes it unique)."""
BATCH_ROWS = 1_000_000
"""Rows per Arrow record batch when reading results into numpy."""
LIST_LOOKUP_MAX = 64
"""A categorical column with at most this many distinct stored values is coded by a list
scan per lead, a longer one by a hash join (scanning 10,000 values per lead took 10 s for
a million leads, the join 0.05 s)."""
BIND_MAX = 10_000
"""A dictionary with more values than this (an account key: a company per few leads) reaches DuckDB as an
Arrow table registered for the query, not as bound lists: binding two million values as query parameters
took minutes at 10M leads; an Arrow table is handed over without a copy."""


def _stored_text(value: str) -> str:
    """SQL: a column's stored value as text, compared byte by byte: a column declared with a
    collation (``COLLATE NOCASE``) otherwise made 'VP' and 'vp' one value to DISTINCT and joins,
    and a lead's text could be replaced by another's."""
    return f"(CAST({value} AS VARCHAR) COLLATE C)"


def _category_text(value: str) -> str:
    """SQL: the trimmed text of a value, NULL when it is one of the missing markers."""
    text = f"trim(CAST({value} AS VARCHAR))"
    return f"CASE WHEN list_contains($missing, lower({text})) THEN NULL ELSE {text} END"


def data_end(source: Source, mapping: SourceMapping, now: dt.datetime) -> dt.datetime:
    """The last moment the data knows about (latest creation, event or conversion, not in the future).

    Data without any time (a flat export with a yes/no outcome) ends now.
    """
    leads, out = mapping.leads, mapping.outcome
    columns = [(leads.table, leads.created_at)]
    if mapping.events is not None:
        columns.append((mapping.events.table, mapping.events.time))
    columns.append((out.table or leads.table, out.converted_at))
    parts = [f"SELECT max(CAST({quote(c)} AS TIMESTAMP)) AS t FROM {quote(t)} WHERE CAST({quote(c)} AS TIMESTAMP) <= $now"
             for t, c in columns if c is not None]
    if not parts:
        return now
    sql = "SELECT max(t) FROM (" + " UNION ALL ".join(parts) + ")"
    (end,) = source.con.execute(sql, {"now": now}).fetchall()[0]
    if end is None:
        raise SourceError(str(source.path), [f"table '{leads.table}' has no leads with a creation time"])
    return end


def feature_needs(spec: FeatureSpec) -> list[ColumnNeed]:
    """Every column the spec reads, for one up-front check."""
    mapping = spec.mapping
    table = mapping.leads.table
    needs = mapping_needs(mapping)
    needs += [ColumnNeed(table, c, "any", "fit or segment column") for c in spec.categorical]
    needs += [ColumnNeed(table, c, "numeric", "numeric fit or activity column") for c in spec.numeric]
    if spec.signals and mapping.events is None:
        raise SourceError(
            "config", ["engagement rules count events, but source.events is not mapped to a table"]
        )
    return needs


# --------------------------------------------------------------------------- SQL: leads into a temp table


@dataclass(frozen=True)
class Dictionary:
    """How one categorical column is coded in SQL: each distinct stored text -> a code.

    Built from the distinct values (few, even for many leads), so the per-lead work in
    DuckDB is one lookup of the stored text: trimming and the missing markers are applied
    to the dictionary, not to every row. Arrow arrays, never Python objects per value: an
    account key has a value per few leads (2M companies at 10M leads took 10 s as tuples).
    """

    texts: pa.Array | pa.ChunkedArray
    """Distinct trimmed, non-missing values, in no particular order; a code indexes them (an entry no
    code points to may be anything, a missing marker's NULL)."""
    raw: pa.Array | pa.ChunkedArray
    """Distinct stored values (as VARCHAR)."""
    codes: pa.Array
    """Code of each ``raw`` value (int32; -1: a missing marker)."""


def _dictionary(source: Source, spec: FeatureSpec, column: str,
                also: str | None = None) -> Dictionary | tuple[Dictionary, np.ndarray]:
    """The dictionary of a column over all rows of the leads table.

    A superset of what the kept leads hold (duplicates and leads without a creation time
    are dropped later); the codes are renumbered by first appearance afterwards. ``also``:
    an SQL expression of each stored text ``raw`` (a hash), given beside it: ``(dictionary, values)``.
    """
    mapping = spec.mapping
    sql = (f"SELECT raw, {_category_text('raw')}{'' if also is None else ', ' + also} FROM (SELECT DISTINCT "
           f"{_stored_text(quote(column))} AS raw FROM {quote(mapping.leads.table)} WHERE {quote(column)} IS NOT NULL)")
    missing = [normalise_value(v) for v in mapping.missing_values]
    rows = source.con.sql(sql, params={"missing": missing}).to_arrow_table()
    dictionary = _as_dictionary(rows.column(0), rows.column(1))
    return dictionary if also is None else (dictionary, rows.column(2).to_numpy())


MANY_COLUMNS = 16
"""From this many categorical columns on, their dictionaries are read in one query (an
UNPIVOT) instead of a query per column: on a wide table every query
costs time in proportion to the table's width, so a query per column grows as columns
squared (an import of 2,000 columns tries its starter config this way)."""


def _dictionaries(source: Source, spec: FeatureSpec) -> list[Dictionary]:
    """The dictionary of every categorical column of the spec, as ``_dictionary`` gives each."""
    columns = spec.categorical
    if len(columns) < MANY_COLUMNS:
        return [_dictionary(source, spec, c) for c in columns]
    text = ", ".join(f'{_stored_text(quote(c))} AS "{i}"' for i, c in enumerate(columns))
    names = ", ".join(f'"{i}"' for i in range(len(columns)))
    sql = (f"SELECT CAST(i AS INTEGER), raw, {_category_text('raw')} FROM (SELECT DISTINCT i, raw FROM "
           f"(SELECT {text} FROM {quote(spec.mapping.leads.table)}) UNPIVOT (raw FOR i IN ({names}))) "
           "ORDER BY 1")
    missing = [normalise_value(v) for v in spec.mapping.missing_values]
    rows = source.con.sql(sql, params={"missing": missing}).to_arrow_table()
    column = rows.column(0).to_numpy()  # sorted: each column's values are one slice
    bounds = np.searchsorted(column, np.arange(len(columns) + 1))
    return [_as_dictionary(rows.column(1).slice(a, b - a), rows.column(2).slice(a, b - a))
            for a, b in zip(bounds[:-1], bounds[1:])]


def _as_dictionary(raw: pa.ChunkedArray | pa.Array, category: pa.ChunkedArray | pa.Array) -> Dictionary:
    """A dictionary from the distinct stored texts and their category texts (NULL: missing), in any order.

    Usually every stored text that is not a missing marker is already its category (nothing to
    trim), so each is its own code, which one comparison shows (3.5M company names: 15 ms, the
    arrays left in the chunks DuckDB handed over); otherwise Arrow's hash encoding gives the
    stored texts of one category one code (0.7 s for 3.5M). The codes were once a running count
    over the texts in order, and DuckDB's ORDER BY of 3.5M company names took 0.6-0.9 s of a
    10M-lead first load.
    """
    raw, category = raw.cast(pa.string()), category.cast(pa.string())
    if pc.all(pc.equal(raw, category)).as_py():  # NULL (a missing marker) where they differ
        codes = np.arange(len(category), dtype=np.int32)
        codes[pc.indices_nonzero(pc.is_null(category)).to_numpy()] = -1
        return Dictionary(category, raw, pa.array(codes))
    category = category.combine_chunks() if isinstance(category, pa.ChunkedArray) else category
    encoded = pc.dictionary_encode(category)  # a missing value's index stays NULL
    return Dictionary(encoded.dictionary, raw, pc.fill_null(encoded.indices, -1).cast(pa.int32()))


def outcome_sql(out: OutcomeTable, timed: bool, params: dict) -> str:
    """The CTE ``s``: ``b`` with each lead's outcome as the engine counts it.

    ``__converted``: converted within the window; ``__mature``: the outcome is known;
    ``__open``: the lead is still open (three-state outcomes only). The rules:

    - a conversion time alone: converted when it falls before scoring point + window;
      mature when that moment has passed (open and lost cannot be told apart);
    - a yes/no (won / lost / open) column: won converted, lost not, both mature; with a
      conversion time too, a win dated after the window counts as not converted (a win
      without a date counts as converted); open is immature, never lost, whatever its
      age, unless ``open_lost_after_days`` counts it lost that many days after creation;
    - with a separate outcome table, a lead it does not name has not converted: it is
      mature once its window has passed (as with a conversion time alone), never open.
    """
    window = "b.__scoring + to_microseconds($win_us)"
    passed = f"coalesce({window} <= $data_end, false)"
    if out.converted is None:
        return (f", s AS (SELECT b.*, (b.__conv IS NOT NULL AND b.__conv < {window}) AS __converted, "
                f"{passed} AS __mature, false AS __open FROM b)")
    stale = "false"
    if out.open_lost_after_days is not None and timed:
        params["stale_us"] = int(round(out.open_lost_after_days * DAY_US))
        stale = "coalesce(b.__created + to_microseconds($stale_us) <= $data_end, false)"
    in_window = f"(b.__conv IS NULL OR b.__scoring IS NULL OR b.__conv < {window})" if out.converted_at else "true"
    unnamed = "false"
    if out.table is not None:  # no row in the outcome table: not converted, by the window
        unnamed = f"(b.__named IS NULL AND {passed if timed else 'true'})"
    is_open = "(b.__flag IS NULL AND b.__named)" if out.table is not None else "(b.__flag IS NULL)"
    return (f", s AS (SELECT b.*, coalesce(b.__flag AND {in_window}, false) AS __converted, "
            f"(b.__flag IS NOT NULL OR {unnamed} OR (coalesce({is_open}, false) AND {stale})) AS __mature, "
            f"coalesce({is_open}, false) AS __open FROM b)")


@dataclass(frozen=True)
class UniqueIds:
    """Which tables name each lead at most once (NULL ids aside): those need no deduplication."""

    leads: bool
    outcomes: bool
    """The separate outcome table (False when there is none)."""


INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                           "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"})
"""Id types whose uniqueness a bitmap over their range can tell (``_unique_by_bitmap``)."""
BITMAP_BITS_MAX = 1 << 28
"""Widest id range checked by a bitmap: 32 MB per DuckDB thread. Ids spread wider (a CRM's
record ids over billions) are checked by grouping."""


def _unique_by_bitmap(source: Source, table: str, column: str) -> bool | None:
    """Whether the integer ids of a column never repeat, from one bit per value of their range
    (DuckDB's ``bitstring_agg``: as many bits set as distinct ids); None when it cannot tell
    (not an integer column, or a range wider than ``BITMAP_BITS_MAX``).

    At 10M lead ids numbered 1..10M: 36 ms, where grouping them takes 0.7-0.9 s.
    """
    data_type = (source.column_type(table, column) or "").upper()
    if data_type not in INTEGER_TYPES:
        return None
    col, tab = quote(column), quote(table)
    ((low, high, count),) = source.con.execute(f"SELECT min({col}), max({col}), count({col}) FROM {tab}").fetchall()
    if count == 0:
        return True
    if high - low >= min(BITMAP_BITS_MAX, 64 * count + (1 << 16)):
        return None
    ((distinct,),) = source.con.execute(
        f"SELECT bit_count(bitstring_agg({col}, CAST({int(low)} AS {data_type}), CAST({int(high)} AS {data_type}))) "
        f"FROM {tab}").fetchall()
    return distinct == count


def _unique_by_grouping(source: Source, table: str, column: str) -> bool:
    """Whether the ids of a column (of any type) never repeat: one hash aggregate over them."""
    ((twice,),) = source.con.execute(
        f"SELECT count(*) FROM (SELECT {quote(column)} FROM {quote(table)} WHERE {quote(column)} IS NOT NULL "
        "GROUP BY 1 HAVING count(*) > 1 LIMIT 1)").fetchall()
    return twice == 0


def _ids_unique(source: Source, mapping: SourceMapping) -> UniqueIds:
    """Whether an id appears twice in the leads table and in the outcome table (a bitmap over
    integer ids, else a hash aggregate over each table's ids, ~0.8 s at 10M rows).

    Unique lead ids need no deduplication window (it sorted every column of every lead:
    2-3 s of the 7.5 s leads query at 10M leads); unique outcome ids no GROUP BY (1.4 s).
    CRM exports with repeated ids take the general way.
    """
    def unique(table: str, column: str) -> bool:
        by_bitmap = _unique_by_bitmap(source, table, column)
        return _unique_by_grouping(source, table, column) if by_bitmap is None else by_bitmap

    out = mapping.outcome
    return UniqueIds(leads=unique(mapping.leads.table, mapping.leads.id),
                     outcomes=out.table is not None and unique(out.table, out.lead_id))


def _leads_sql(spec: FeatureSpec, dictionaries: list[Dictionary], numbered: bool = True,
               unique_ids: UniqueIds = UniqueIds(False, False)) -> tuple[str, dict]:
    """The deduplicated leads with outcome and scoring point, categories as integer codes, and ``__row``.

    ``__row`` is the 0-based position in the final order (creation time, then lead id);
    ``numbered=False`` gives no ``__row`` but the rows in that order (``_temp_leads`` numbers
    them by their place in the table: a window over every column sorted the whole rows again).
    Each categorical column is coded by looking its stored text up in its dictionary
    (bound as lists: a list scan when short, else a hash join), before the
    deduplication, so only integers travel through the window sorts. ``unique_ids``
    (``_ids_unique``): a table whose ids never repeat is read without deduplication
    (no window over the leads, no GROUP BY over the outcomes).
    """
    mapping = spec.mapping
    leads, out = mapping.leads, mapping.outcome
    params: dict = {
        "missing": [normalise_value(v) for v in mapping.missing_values],
        "sp_us": int(round(spec.scoring_point_days * DAY_US)),
        "win_us": int(round(spec.outcome_window_days * DAY_US)),
    }
    src = "__src."
    dicts, joins, cols = [], [], []
    for i, (column, dictionary) in enumerate(zip(spec.categorical, dictionaries)):
        stored = _stored_text(f"{src}{quote(column)}")
        if len(dictionary.raw) > BIND_MAX:
            table = f"__leadcal_dict_{uuid.uuid4().hex}"
            params.setdefault("__tables", {})[table] = pa.table({"raw": dictionary.raw, "code": dictionary.codes})
            dicts.append(f"__d{i} AS (SELECT raw, code FROM {table}), ")
            joins.append(f" LEFT JOIN __d{i} ON {stored} = __d{i}.raw")
            cols.append(f"coalesce(__d{i}.code, -1) AS __c{i}")
            continue
        params[f"raw{i}"], params[f"code{i}"] = dictionary.raw.to_pylist(), dictionary.codes.to_pylist()
        if len(dictionary.raw) <= LIST_LOOKUP_MAX:  # a short list scan beats a join
            cols.append(f"coalesce(CAST($code{i} AS INTEGER[])[list_position(CAST($raw{i} AS VARCHAR[]), {stored})], "
                        f"-1) AS __c{i}")
            continue
        dicts.append(f"__d{i} AS (SELECT unnest(CAST($raw{i} AS VARCHAR[])) AS raw, "
                     f"unnest(CAST($code{i} AS INTEGER[])) AS code), ")
        joins.append(f" LEFT JOIN __d{i} ON {stored} = __d{i}.raw")
        cols.append(f"coalesce(__d{i}.code, -1) AS __c{i}")
    cols += [f"CAST({src}{quote(c)} AS DOUBLE) AS __n{i}" for i, c in enumerate(spec.numeric)]
    has_flag = out.converted is not None  # won true, lost false, open NULL
    has_date = out.converted_at is not None
    if out.table is None:
        if has_flag:
            cols.append(f"CAST({src}{quote(out.converted)} AS BOOLEAN) AS __flag")
        cols.append(f"{_finite_time(src + quote(out.converted_at))} AS __conv" if has_date
                    else "NULL::TIMESTAMP AS __conv")
        if out.deal_value is not None:
            cols.append(f"{_finite_value(src + quote(out.deal_value))} AS __value")
    sql = ["WITH " + "".join(dicts) + _kept_leads(spec, "".join(", " + c for c in cols), "".join(joins), unique_ids)]
    if out.table is not None:
        one = unique_ids.outcomes  # one row per lead: the row's own values, as the aggregates give them
        conv = _finite_time(quote(out.converted_at)) if has_date else ""
        parts = [("NULL::TIMESTAMP AS __conv" if not has_date
                  else f"CASE WHEN {conv} <= $data_end THEN {conv} END AS __conv" if one
                  else f"min({conv}) FILTER (WHERE {conv} <= $data_end) AS __conv")]
        if has_flag:  # won if any row is won, else open if any row is open, else lost
            flag_col = f"CAST({quote(out.converted)} AS BOOLEAN)"
            parts.append((flag_col if one else
                          f"CASE WHEN bool_or({flag_col}) THEN true WHEN count(*) > count({flag_col}) THEN NULL "
                          "ELSE false END") + " AS __flag, true AS __named")
        if out.deal_value is not None:  # the won rows' values added up (a lead may win several deals)
            value = _finite_value(quote(out.deal_value))
            won = (f"CAST({quote(out.converted)} AS BOOLEAN)" if has_flag
                   else f"{_finite_time(quote(out.converted_at))} <= $data_end")
            parts.append(f"CASE WHEN {won} THEN {value} END AS __value" if one
                         else f"sum({value}) FILTER (WHERE {won}) AS __value")
        flag = ", o.__flag, o.__named" if has_flag else ""
        flag += ", o.__value" if out.deal_value is not None else ""
        sql += [", o AS (",
                f"  SELECT {quote(out.lead_id)} AS __id, {', '.join(parts)}",
                f"  FROM {quote(out.table)}",
                ")" if one else "  GROUP BY 1)",
                f", b AS (SELECT l.*, o.__conv{flag}, "
                "l.__created + to_microseconds($sp_us) AS __scoring FROM l LEFT JOIN o ON l.__id = o.__id)"]
    else:
        sql.append(", b AS (SELECT * REPLACE (CASE WHEN __conv <= $data_end THEN __conv END AS __conv), "
                   "__created + to_microseconds($sp_us) AS __scoring FROM l)")
    sql.append(outcome_sql(out, bool(leads.created_at), params))
    return_cols = "b.__converted, b.__mature, b.__open"
    if out.deal_value is not None:
        return_cols += ", b.__value"
    codes = "".join(f", b.__c{i}" for i in range(len(spec.categorical)))
    nums = "".join(f", b.__n{i}" for i in range(len(spec.numeric)))
    columns = f"b.__id, b.__created, b.__scoring, b.__conv{codes}{nums}, {return_cols}"
    if numbered:
        sql += ["SELECT CAST(row_number() OVER (ORDER BY b.__created, b.__id) - 1 AS INTEGER) AS __row,",
                f"  {columns}", "FROM s AS b"]
    else:
        sql += [f"SELECT {columns}", "FROM s AS b ORDER BY b.__created, b.__id"]
    return "\n".join(sql), params


def _kept_leads(spec: FeatureSpec, select_cols: str, joins: str, unique_ids: UniqueIds) -> str:
    """The CTEs ``raw`` and ``l``: each lead id's first row (by creation time) with a creation time, as
    ``__id``, ``__created`` and ``select_cols`` (read from ``__src``, the leads table, with ``joins``)."""
    leads = spec.mapping.leads
    lead_id = f"__src.{quote(leads.id)}"
    created = _finite_time(f"__src.{quote(leads.created_at)}") if leads.created_at else "NULL::TIMESTAMP"
    first = f"__src.{quote(leads.created_at)} NULLS LAST" if leads.created_at else lead_id
    has_time = " AND __created IS NOT NULL" if leads.created_at else ""
    first_row = "true" if unique_ids.leads else f"row_number() OVER (PARTITION BY {lead_id} ORDER BY {first}) = 1"
    return "\n".join(["raw AS (",
                      f"  SELECT {lead_id} AS __id, {created} AS __created{select_cols},",
                      f"    {first_row} AS __first",
                      f"  FROM {quote(leads.table)} AS __src{joins} WHERE {lead_id} IS NOT NULL",
                      f"), l AS (SELECT * EXCLUDE (__first) FROM raw WHERE __first{has_time})"])


def _finite_time(column: str) -> str:
    """A time column as TIMESTAMP, with ``infinity`` / ``-infinity`` read as missing (they are no moment)."""
    value = f"CAST({column} AS TIMESTAMP)"
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def _finite_value(column: str) -> str:
    """A deal value as DOUBLE, NULL when it is not a finite number (text, NaN, infinity)."""
    value = f"TRY_CAST({column} AS DOUBLE)"
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def _events_sql(spec: FeatureSpec, table: str, types: tuple[str, ...]) -> str:
    """The point-in-time events of the signal types: lead row, type code, microseconds to the scoring point.

    Strictly before the scoring point and before the conversion, not after the data's
    end (as the README says). In no order: ``_ordered_events`` orders them.
    """
    ev = spec.mapping.events
    assert ev is not None
    code_type = "TINYINT" if len(types) <= 127 else "SMALLINT"
    return "\n".join([
        f"SELECT t.__row AS row, CAST(e.__code - 1 AS {code_type}) AS code,",
        "  epoch_us(t.__scoring) - epoch_us(e.__time) AS age",
        # the type's position computed once per event, and the filter on it (4.1 -> 2.8-3.2 s at 10M
        # leads, against list_contains on the events and list_position again on the joined ones)
        f"FROM (SELECT {quote(ev.lead_id)} AS __lead, "
        f"list_position($types, lower(trim(CAST({quote(ev.type)} AS VARCHAR)))) AS __code,",
        f"        {_finite_time(quote(ev.time))} AS __time FROM {quote(ev.table)}) AS e",
        f"JOIN {table} AS t ON e.__lead = t.__id",
        "WHERE e.__time < least(t.__scoring, coalesce(t.__conv, t.__scoring))",
        # not after the data's end, compared per lead (<= end is < end + 1 us: times are whole us): as a
        # filter on the events alone DuckDB took their table for the small side of the join and built its
        # hash table from ~100M events (19 s instead of 6 s at 10M leads)
        "  AND e.__time < least(t.__scoring, coalesce(t.__conv, t.__scoring), $data_end + INTERVAL 1 MICROSECOND)",
        "  AND e.__code > 0",
    ])


# --------------------------------------------------------------------------- reading into numpy


def _used(sql: str, params: dict) -> dict:
    """The parameters a statement names (DuckDB rejects unused ones)."""
    return {k: v for k, v in params.items() if "$" + k in sql}


def _to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow column as numpy; timestamps as datetime64[us] (NaT for NULL), doubles NaN for NULL."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us"))
    return column.to_numpy(zero_copy_only=False)


@contextmanager
def _temp_leads(source: Source, spec: FeatureSpec, dictionaries: list[Dictionary],
                end: dt.datetime, numbered: bool = False,
                unique_ids: UniqueIds = UniqueIds(False, False)) -> Iterator[str]:
    """The leads materialised once into a uniquely named TEMP table (dropped afterwards, also on error).

    Temp tables live in the connection's temp storage, never in the user's file, so
    this works on the read-only connection. The leads are written in their final order and
    ``__row`` is each one's place in the table (a view over it), which DuckDB keeps as
    inserted: 6.6 s instead of 11.6 s at 10M leads. ``_extract`` checks the order it reads
    and asks again with ``numbered=True`` (``__row`` from a window) if it ever differs.
    """
    name = quote(TEMP_PREFIX + uuid.uuid4().hex)
    stored = quote(TEMP_PREFIX + uuid.uuid4().hex)
    sql, params = _leads_sql(spec, dictionaries, numbered, unique_ids)
    params["data_end"] = end
    tables = params.pop("__tables", {})
    try:
        for table_name, table in tables.items():
            source.con.register(table_name, table)
        source.con.execute(f"CREATE TEMP TABLE {stored} AS {sql}", _used(sql, params))
        for table_name in tables:
            source.con.unregister(table_name)
        tables = {}
        row = "" if numbered else "CAST(rowid AS INTEGER) AS __row, "
        source.con.execute(f"CREATE TEMP VIEW {name} AS SELECT {row}* FROM {stored}")
        yield name
    finally:
        for table_name in tables:
            with suppress(duckdb.Error):
                source.con.unregister(table_name)
        with suppress(duckdb.Error):  # a broken connection has no temp table left to drop
            source.con.execute(f"DROP VIEW IF EXISTS temp.main.{name}")
            source.con.execute(f"DROP TABLE IF EXISTS temp.main.{stored}")


def _in_lead_order(created: np.ndarray, ids: np.ndarray) -> bool:
    """True when leads read by ``__row`` are in the final order: creation time, then id (one pass)."""
    if ids.size < 2:
        return True
    later_id = ids[1:] > ids[:-1]
    if np.isnat(created).all():  # no creation times: by id alone
        return bool(later_id.all())
    return bool(np.all((created[1:] > created[:-1]) | ((created[1:] == created[:-1]) & later_id)))


def _read_leads(source: Source, table: str, names: list[str], n: int) -> dict[str, np.ndarray]:
    """Columns of the temp table (``n`` leads), each placed at its ``__row``: record batches straight
    into numpy.

    Batches are written into arrays allocated once, so no full Arrow table sits next to
    the numpy copies, and no sort is needed: ``__row`` says where each lead goes.
    """
    reader = source.con.sql(f"SELECT __row, {', '.join(names)} FROM {table}").to_arrow_reader(BATCH_ROWS)
    out = {name: np.empty(n, dtype=_to_numpy(pa.array([], type=reader.schema.field(name).type)).dtype)
           for name in names}
    for batch in reader:
        rows = batch.column(0).to_numpy()
        for name, column in zip(names, batch.columns[1:]):
            out[name][rows] = _to_numpy(column)
    return out


def _category_texts(dictionaries: list[Dictionary]) -> list[np.ndarray]:
    """Each dictionary's texts as a numpy array of Python strings (None where NULL), which ``_categorical``
    picks the categories from. Made in the thread that orders the events, beside the reading of the
    lead columns: creating 3.5M company names as Python strings took 0.6 s of a 10M-lead load."""
    return [d.texts.to_numpy(zero_copy_only=False) for d in dictionaries]


def _categorical(texts: np.ndarray, raw: np.ndarray) -> Categorical:
    """Renumber a column's codes by first appearance in the lead order (as Arrow's dictionary
    encoding of the sorted leads numbered them), keeping only values the kept leads hold: one
    compiled pass over the codes (``first_seen``: 3.5M companies over 10M leads in ~0.1 s, where
    DuckDB's GROUP BY ordered by first row took 1.0 s; no query, so no width of the table to pay
    per column either). ``texts``: the dictionary's, from ``_category_texts``.
    """
    renumbered = np.empty(raw.size, dtype=np.int32)
    used = first_seen(np.ascontiguousarray(raw, dtype=np.int32), len(texts), renumbered)
    codes = renumbered.astype(np.int16) if len(used) < np.iinfo(np.int16).max else renumbered
    return Categorical(codes=codes, categories=texts[used].astype(object, copy=False))


Progress = Callable[[str, float], None]
"""Told what an extraction is doing and how far it is (0..1), for a progress bar."""


def _no_progress(message: str, fraction: float) -> None:
    return None


@dataclass
class EventBatches:
    """The point-in-time events as read, in no order: what ``_ordered_events`` puts in order."""

    types: tuple[str, ...]
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    """(lead row int32, type code, age) per record batch."""
    counts: np.ndarray
    """Events per type code."""
    leads: int
    """The temp table's leads: every row is below it."""


def _read_events(source: Source, spec: FeatureSpec, table: str, end: dt.datetime, leads: int,
                 progress: Progress = _no_progress, expected: int | None = None) -> EventBatches | None:
    """The spec's point-in-time events read into narrow arrays, unordered (None when the spec counts no events).

    Read in batches (rows as int32, ages as int32 seconds while every age so far is a whole
    second, else float64 days, see ``KeptEvents.age``). ``expected`` (the events table's rows,
    an upper bound) turns batches into progress; ``leads`` (the temp table's count) bounds the rows.
    """
    types = event_types(spec)
    if not types:
        return None
    sql = _events_sql(spec, table, types)
    reader = source.con.sql(sql, params={"types": list(types), "data_end": end}).to_arrow_reader(BATCH_ROWS)
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    counts = np.zeros(len(types), dtype=np.int64)
    progress("Joining the events to the leads as of each scoring point...", 0.0)
    for batch in reader:
        row, code, age_us = (column.to_numpy() for column in batch.columns)
        counts += np.bincount(code, minlength=len(types))
        batches.append((row.astype(np.int32, copy=False), code, _age(age_us)))
        del row, code, age_us
        done = int(counts.sum())
        progress(f"Reading point-in-time events: {done:,}" + (f" of at most {expected:,}" if expected else ""),
                 min(1.0, done / expected) if expected else 0.5)
    if any(age.dtype == np.float64 for _, _, age in batches):  # one age is not whole seconds: days for all
        batches = [(row, code, age_days(age)) for row, code, age in batches]
    return EventBatches(types, batches, counts, leads)


def _ordered_events(events: EventBatches | None) -> KeptEvents | None:
    """The events in (type, row, age) order by counting (``event_order``; DuckDB's ORDER BY took
    3.1 s at 10M leads). No SQL and no GIL held (compiled, nogil), so ``_extract`` runs it beside
    the reading of the lead columns: at 10M leads its 2 s were one core's work with the other idle."""
    if events is None:
        return None
    starts, row, age = order_events(events.batches, events.counts, events.leads)
    return KeptEvents(events.types, row, starts, age)


def _age(age_us: np.ndarray) -> np.ndarray:
    """int32 seconds when exact (whole seconds within int32's range), else float64 days as the SQL divides."""
    seconds = np.empty(age_us.size, dtype=np.int32)
    if whole_seconds(age_us, seconds):
        return seconds
    return age_us / float(DAY_US)


def _extract(source: Source, spec: FeatureSpec, end: dt.datetime, sum_signals: bool = True,
             progress: Progress = _no_progress, expected_events: int | None = None) -> Features:
    """The SQL part of an extraction: the leads once into a temp table, then narrow reads of it."""
    names = ["__id", "__created", "__scoring", "__conv", "__converted", "__mature", "__open"]
    if spec.mapping.outcome.deal_value is not None:
        names.append("__value")
    codes = [f"__c{i}" for i in range(len(spec.categorical))]
    nums = [f"__n{i}" for i in range(len(spec.numeric))]
    progress("Reading the leads and their outcomes...", 0.0)
    dictionaries = _dictionaries(source, spec)
    unique = _ids_unique(source, spec.mapping)
    # one thread beside this one puts the events in order and makes the category texts while the lead columns
    # are read (2 s at 10M leads, one core's work); on an error the pool waits for it (it holds no DuckDB state)
    with ThreadPoolExecutor(1, thread_name_prefix="leadcal-extract-beside") as pool, ExitStack() as stack:
        table = stack.enter_context(_temp_leads(source, spec, dictionaries, end, unique_ids=unique))
        # the events first: DuckDB's join over them is the load's largest memory, and it is let go
        # before the lead columns are made (10M leads, as the app reads them: the peak 3.17 -> 2.93 GB)
        ((n,),) = source.con.execute(f"SELECT count(*) FROM {table}").fetchall()
        ordering = pool.submit(_ordered_events, _read_events(source, spec, table, end, n, progress, expected_events))
        texts = pool.submit(_category_texts, dictionaries)  # after the ordering, in the same thread
        cols = _read_leads(source, table, names + codes + nums, n)
        if not _in_lead_order(cols["__created"], cols["__id"]):  # not as inserted: number them by a window
            ordering.result()  # rows of the numbering given up: finished, then dropped
            stack.close()  # the same leads, numbered otherwise: the events read again with them
            table = stack.enter_context(_temp_leads(source, spec, dictionaries, end, numbered=True, unique_ids=unique))
            cols = _read_leads(source, table, names + codes + nums, n)
            ordering = pool.submit(_ordered_events, _read_events(source, spec, table, end, n, progress,
                                                                 expected_events))
        categorical = {c: _categorical(texts.result()[i], cols.pop(code))
                       for i, (c, code) in enumerate(zip(spec.categorical, codes))}
        events = ordering.result()
        progress(f"Read {len(cols['__id']):,} leads", 1.0)
    n = len(cols["__id"])
    return Features(
        spec=spec,
        lead_id=cols["__id"],
        created_at=cols["__created"],
        scoring_at=cols["__scoring"],
        converted=cols["__converted"],
        mature=cols["__mature"],
        categorical=categorical,
        numeric={c: cols[code] for c, code in zip(spec.numeric, nums)},
        signals=signal_sums(events, spec.signals, n) if sum_signals else {},
        data_end=end,
        events=events,
        open=cols["__open"] if spec.mapping.outcome.converted is not None else None,
        deal_value=cols["__value"].astype(np.float64) if "__value" in cols else None,
        converted_at=cols["__conv"],
    )


def _rows(source: Source, table: str) -> int:
    """Rows of a table (DuckDB keeps the count: no scan), for the events' progress bar."""
    ((n,),) = source.con.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()
    return int(n)


def extract_features(source: Source, config_or_spec: ScoringConfig | FeatureSpec,
                     now: dt.datetime | None = None, quality: QualityReport | None = None,
                     sum_signals: bool = True, progress: Progress | None = None,
                     later: tuple[str, ...] = (), start_later: Callable[[], None] | None = None) -> Features:
    """Read the spec's leads and point-in-time events once; return aligned arrays plus a data-quality report.

    The quality report depends only on the data and the mapping, not on decay or rules;
    pass one computed earlier (``quality``) to skip its table scans, or a pending one
    (``QualityReport.pending()``) that ``scoring.data.quality_later.check_into`` fills
    in afterwards (the app's first view does not wait for the scans). ``sum_signals=False``
    keeps the events but sums none: a base that features are only derived from
    (``derive_features``) holds no sums it never uses (100 MB at 10M leads). ``progress``
    is told each step (the app's progress bar on a long first load). ``later``: categorical columns
    (``scoring.data.later``) that stand in as ``LaterCategorical`` until ``read_later`` reads them;
    whoever needs one first calls ``start_later`` (idempotent), which must see to it that it runs.
    """
    progress = progress or _no_progress
    spec = config_or_spec if isinstance(config_or_spec, FeatureSpec) else feature_spec(config_or_spec)
    if source.feature_set:  # per-lead features computed in the warehouse
        return read_features(source, spec)
    check_columns(source, feature_needs(spec))
    now = now or dt.datetime.now()
    end = data_end(source, spec.mapping, now)
    if quality is None:  # first, while no arrays are held: its queries take DuckDB memory too (0.5 GB at 10M)
        progress("Checking data quality (duplicates, unknown leads, dates)...", 0.0)
        quality = check_quality(source, spec.mapping, now=now, data_end=end)
    expected = None
    if spec.mapping.events is not None:
        expected = quality.counts.get(spec.mapping.events.table) if quality.checked else _rows(source, spec.mapping.events.table)
    later = tuple(c for c in later if c in spec.categorical)
    now_read = replace(spec, categorical=tuple(c for c in spec.categorical if c not in later))
    try:
        features = _extract(source, now_read, end, sum_signals, progress, expected)
    except (duckdb.Error, pa.ArrowException) as exc:  # report, don't crash
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(str(source.path), [f"reading features failed: {first}"]) from None
    if later:
        features.spec = spec
        features.categorical = {c: features.categorical[c] if c in features.categorical else LaterCategorical(start_later)
                                for c in spec.categorical}
    features.quality = quality
    return features
