"""Point-in-time feature extraction: DuckDB -> compact numpy arrays, once.

The expensive part of scoring (reading leads, joining events to each lead's scoring
point) depends on the data, the mapping and the evaluation window, never on points or
thresholds. It is done here once: the deduplicated leads go into a temp table (categories
as integer codes), their columns are read into numpy, and the point-in-time events are
kept as narrow arrays (lead row, type code, age). Decayed sums are numpy over the kept
events, so a decay change (``derive_features``) runs no SQL, and neither does a slider move.

Point in time: a lead is scored ``scoring_point_days`` after its creation. Only events
strictly before that moment count (or before the conversion, if the lead converted
earlier: what happened after a sale must not explain the sale). Decay is measured to the
scoring point. The outcome is a conversion before ``scoring point + outcome window``; a
lead is mature when that moment is at or before the end of the data.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace

import duckdb
import numpy as np
import pyarrow as pa

from .activity import Activity
from .config import EngagementRule, OutcomeTable, ScoringConfig, SourceMapping, decay_key, normalise_value
from .kernels import add_at
from .quality import QualityReport, check_quality
from .source import ColumnNeed, Source, SourceError, check_columns, mapping_needs, quote

DAY_US = 86_400_000_000
TEMP_PREFIX = "__leadcal_leads_"
"""Name prefix of the per-extraction temp table (a random suffix makes it unique)."""
BATCH_ROWS = 1_000_000
"""Rows per Arrow record batch when reading results into numpy."""
LIST_LOOKUP_MAX = 64
"""A categorical column with at most this many distinct stored values is coded by a list
scan per lead, a longer one by a hash join (scanning 10,000 values per lead took 10 s for
a million leads, the join 0.05 s)."""


@dataclass(frozen=True)
class Signal:
    """One decayed activity sum: a set of event types under one decay."""

    events: tuple[str, ...]
    """Normalised event types."""
    decay: tuple
    """A ``decay_key``."""

    @property
    def key(self) -> str:
        """Stable name of the signal's feature column."""
        return "ev:" + "+".join(self.events) + "|" + ":".join(str(x) for x in self.decay)


def rule_signal_key(config: ScoringConfig, rule: EngagementRule) -> str:
    """The feature a rule reads: a signal key, or ``col:<name>`` for an activity column."""
    if rule.column is not None:
        return "col:" + rule.column
    events = tuple(sorted({normalise_value(e) for e in rule.events}))
    return Signal(events, decay_key(config.rule_decay(rule))).key


@dataclass(frozen=True)
class FeatureSpec:
    """Everything feature extraction depends on; equal specs give equal features."""

    mapping_json: str
    scoring_point_days: float
    outcome_window_days: float
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    signals: tuple[Signal, ...]

    @property
    def mapping(self) -> SourceMapping:
        """The source mapping."""
        return SourceMapping.model_validate_json(self.mapping_json)


def feature_spec(config: ScoringConfig) -> FeatureSpec:
    """The features a config needs: its columns, its (event set, decay) signals."""
    categorical: set[str] = set()
    numeric: set[str] = set()
    signals: set[Signal] = set()
    for _, rules in config.rule_sets():
        for rule in rules["fit"]:
            (categorical if rule.type == "categorical" else numeric).add(rule.column)
        for rule in rules["engagement"]:
            if rule.column is not None:
                numeric.add(rule.column)
            else:
                events = tuple(sorted({normalise_value(e) for e in rule.events}))
                signals.add(Signal(events, decay_key(config.rule_decay(rule))))
    for seg in config.segments:
        (categorical if seg.filter.values is not None else numeric).add(seg.filter.column)
    if config.source.leads.segment:
        categorical.add(config.source.leads.segment)
    return FeatureSpec(
        mapping_json=config.source.model_dump_json(),
        scoring_point_days=float(config.evaluation.scoring_point_days),
        outcome_window_days=float(config.evaluation.outcome_window_days),
        categorical=tuple(sorted(categorical)),
        numeric=tuple(sorted(numeric)),
        signals=tuple(sorted(signals, key=lambda s: s.key)),
    )


@dataclass
class Categorical:
    """A dictionary-encoded column: ``codes`` index ``categories``; -1 is missing."""

    codes: np.ndarray
    categories: np.ndarray

    def counts(self) -> np.ndarray:
        """Leads per category (missing left out), counted once: the controls show them on every rerun."""
        cached = self.__dict__.get("_counts")
        if cached is None:
            cached = np.bincount(self.codes[self.codes >= 0], minlength=len(self.categories))
            self.__dict__["_counts"] = cached
        return cached

    def values(self) -> np.ndarray:
        """Decoded values (None for missing); for display and tests, not for scoring."""
        out = np.empty(len(self.codes), dtype=object)
        ok = self.codes >= 0
        out[ok] = self.categories[self.codes[ok]]
        out[~ok] = None
        return out


@dataclass(frozen=True, eq=False)
class KeptEvents:
    """The point-in-time events of the counted types, one narrow row each, ordered by (type, row, age).

    Kept from the one events join of an extraction, so a decay change is numpy (weigh
    the ages again and add them up per lead) instead of another pass over the events.
    At 10M leads these are 40M events: 8 bytes each when their times are whole seconds.
    """

    types: tuple[str, ...]
    """Sorted normalised event types."""
    row: np.ndarray
    """int32: the lead's position in the Features arrays."""
    starts: np.ndarray
    """int64, one more than ``types``: the events of ``types[c]`` are ``starts[c]:starts[c + 1]``."""
    age: np.ndarray
    """Time from the event to the lead's scoring point: int32 seconds when every one is a whole
    second (exact, half the memory), else float64 days. ``days`` gives days either way."""

    def days(self, lo: int, hi: int) -> np.ndarray:
        """Ages in days of events ``lo:hi``, as the SQL computes them (microseconds / 86,400e6)."""
        return _days(self.age[lo:hi])

    def subset(self, mask: np.ndarray, position: np.ndarray) -> "KeptEvents":
        """The events of the leads where ``mask`` is true, rows renumbered by ``position`` (``cumsum(mask) - 1``)."""
        keep = mask[self.row]
        kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        return KeptEvents(self.types, position[self.row[keep]].astype(np.int32), kept_before[self.starts],
                          self.age[keep])


@dataclass
class Features:
    """Per-lead arrays, all aligned, sorted by creation time then lead id."""

    spec: FeatureSpec
    lead_id: np.ndarray
    created_at: np.ndarray
    scoring_at: np.ndarray
    converted: np.ndarray
    """Converted before scoring point + window."""
    mature: np.ndarray
    """The outcome window has fully passed before the data's end."""
    categorical: dict[str, Categorical]
    numeric: dict[str, np.ndarray]
    signals: dict[str, Activity]
    """Decayed event sums by signal key, sparse (dense arrays given here are made sparse)."""
    data_end: dt.datetime
    quality: QualityReport = field(default_factory=QualityReport)
    events: KeptEvents | None = None
    """The kept point-in-time events the signals were summed from (None without event rules)."""
    open: np.ndarray | None = None
    """Still open at the data's end (a three-state outcome: neither won nor lost); None when the
    outcome is a conversion time alone (open and lost cannot be told apart)."""
    cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """Work computed from these leads (outcome status, rule points, scored configs, ...), shared
    with the feature sets derived from this one: they have the same lead arrays, and an
    activity under one signal key is the same array in all of them."""

    def __post_init__(self) -> None:
        self.signals = {k: v if isinstance(v, Activity) else Activity.from_dense(v) for k, v in self.signals.items()}

    @property
    def n(self) -> int:
        """Number of leads."""
        return len(self.lead_id)

    @property
    def point_in_time(self) -> bool:
        """False for data without creation times: nothing is scored as of a moment, no cohorts."""
        return self.spec.mapping.point_in_time if self.spec is not None else True

    @property
    def scoring_month(self) -> np.ndarray:
        """Calendar month of each scoring point (months since 1970), computed once."""
        cached = self.cache.get("scoring_month")
        if cached is None:
            cached = self.scoring_at.astype("datetime64[M]").astype(np.int32)
            self.cache["scoring_month"] = cached
        return cached

    def feature(self, key: str) -> np.ndarray:
        """The activity an engagement rule reads (see ``rule_signal_key``), one float per lead
        (a new array: for analysis, the scoring loops take ``activity``)."""
        if key.startswith("col:"):
            return np.nan_to_num(self.numeric[key[4:]], nan=0.0)
        return self.signals[key].dense()

    def activity(self, key: str) -> Activity:
        """The activity an engagement rule reads, sparse; an activity column's is made once."""
        if not key.startswith("col:"):
            return self.signals[key]
        columns = self.cache.setdefault("column_activity", {})
        found = columns.get(key)
        if found is None:
            found = columns[key] = Activity.from_dense(self.numeric[key[4:]])
        return found

    def subset(self, mask: np.ndarray, keep_events: bool = False) -> "Features":
        """The leads where ``mask`` is true (e.g. one segment or one cohort).

        ``keep_events`` also keeps their kept events (renumbered), for a view that
        derives other decays later; the engine's per-segment subsets skip that work.
        """
        position = np.cumsum(mask, dtype=np.int64) - 1 if self.signals or keep_events else None
        return Features(
            spec=self.spec,
            lead_id=self.lead_id[mask],
            created_at=self.created_at[mask],
            scoring_at=self.scoring_at[mask],
            converted=self.converted[mask],
            mature=self.mature[mask],
            categorical={k: Categorical(v.codes[mask], v.categories) for k, v in self.categorical.items()},
            numeric={k: v[mask] for k, v in self.numeric.items()},
            signals={k: v.subset(mask, position) for k, v in self.signals.items()},
            data_end=self.data_end,
            quality=self.quality,
            events=self.events.subset(mask, position) if keep_events and self.events is not None else None,
            open=None if self.open is None else self.open[mask],
        )


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


# --------------------------------------------------------------------------- decayed sums in numpy


def event_types(spec: FeatureSpec) -> tuple[str, ...]:
    """The normalised event types the spec's signals count, sorted (the order of ``KeptEvents.starts``)."""
    return tuple(sorted({t for signal in spec.signals for t in signal.events}))


def decay_weights(decay: tuple, age: np.ndarray) -> np.ndarray | None:
    """Each event's weight from its age in days under a ``decay_key``; None means every event counts 1.

    The arithmetic of the SQL weights (``pow(0.5, age / half_life)``, ...) in numpy, so the
    exported SQL and the engine differ at most in summation order.
    """
    kind = decay[0]
    if kind == "exponential":
        return np.power(0.5, age / decay[1])
    if kind == "linear":
        return np.maximum(0.0, 1.0 - age / decay[1])
    if kind == "window":
        return (age < decay[1]) * 1.0
    return None


SUM_CHUNK = 1 << 20
"""Events weighed per step of a decayed sum: the temporaries stay a few MB (at 10M leads the
largest type has 18M events, and weighing it at once took 0.5 GB)."""


def _slices(events: KeptEvents, types: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where the kept events of some types are, in type order (events are ordered by type)."""
    return [(int(events.starts[c]), int(events.starts[c + 1])) for c in sorted(events.types.index(t) for t in types)]


def signal_sums(events: KeptEvents | None, signals: tuple[Signal, ...], n: int) -> dict[str, Activity]:
    """Each signal's decayed event count per lead, summed from the kept events, kept sparse.

    Each lead's events are added one by one in kept order: by type, then by age within a
    type (what ``np.bincount`` over them all would do), so sums come out the same on every
    run and every derivation. Weighed in chunks of ``SUM_CHUNK`` events.
    """
    out: dict[str, Activity] = {}
    for signal in signals:
        if events is None:
            raise ValueError(f"no kept events to count {', '.join(signal.events)} from")
        sums = np.zeros(n)
        for lo, hi in _slices(events, signal.events):
            for start in range(lo, hi, SUM_CHUNK):
                stop = min(hi, start + SUM_CHUNK)
                weights = decay_weights(signal.decay, events.days(start, stop))
                add_at(sums, events.row[start:stop], np.ones(stop - start) if weights is None else weights)
        out[signal.key] = Activity.from_dense(sums)
    return out


# --------------------------------------------------------------------------- SQL: leads into a temp table


@dataclass(frozen=True)
class Dictionary:
    """How one categorical column is coded in SQL: each distinct stored text -> a code.

    Built from the distinct values (few, even for many leads), so the per-lead work in
    DuckDB is one lookup of the stored text: trimming and the missing markers are applied
    to the dictionary, not to every row.
    """

    texts: tuple[str, ...]
    """Distinct trimmed, non-missing values; a code indexes them."""
    raw: tuple[str, ...]
    """Distinct stored values (as VARCHAR)."""
    codes: tuple[int, ...]
    """Code of each ``raw`` value (-1: a missing marker)."""


def _dictionary(source: Source, spec: FeatureSpec, column: str) -> Dictionary:
    """The dictionary of a column over all rows of the leads table.

    A superset of what the kept leads hold (duplicates and leads without a creation time
    are dropped later); the codes are renumbered by first appearance afterwards.
    """
    mapping = spec.mapping
    sql = (f"SELECT raw, {_category_text('raw')} FROM (SELECT DISTINCT CAST({quote(column)} AS VARCHAR) AS raw "
           f"FROM {quote(mapping.leads.table)} WHERE {quote(column)} IS NOT NULL) ORDER BY raw")
    missing = [normalise_value(v) for v in mapping.missing_values]
    return _as_dictionary(source.con.execute(sql, {"missing": missing}).fetchall())


MANY_COLUMNS = 16
"""From this many categorical columns on, their dictionaries and first appearances are read
in one query each (an UNPIVOT) instead of a query per column: on a wide table every query
costs time in proportion to the table's width, so a query per column grows as columns
squared (an import of 2,000 columns tries its starter config this way)."""


def _dictionaries(source: Source, spec: FeatureSpec) -> list[Dictionary]:
    """The dictionary of every categorical column of the spec, as ``_dictionary`` gives each."""
    columns = spec.categorical
    if len(columns) < MANY_COLUMNS:
        return [_dictionary(source, spec, c) for c in columns]
    text = ", ".join(f'CAST({quote(c)} AS VARCHAR) AS "{i}"' for i, c in enumerate(columns))
    names = ", ".join(f'"{i}"' for i in range(len(columns)))
    sql = (f"SELECT CAST(i AS INTEGER), raw, {_category_text('raw')} FROM (SELECT DISTINCT i, raw FROM "
           f"(SELECT {text} FROM {quote(spec.mapping.leads.table)}) UNPIVOT (raw FOR i IN ({names}))) "
           "ORDER BY 1, raw")
    missing = [normalise_value(v) for v in spec.mapping.missing_values]
    rows: list[list[tuple]] = [[] for _ in columns]
    for i, raw, category in source.con.execute(sql, {"missing": missing}).fetchall():
        rows[i].append((raw, category))
    return [_as_dictionary(r) for r in rows]


def _first_appearances(source: Source, table: str, codes: list[str]) -> list[list[int]] | None:
    """Per code column, its codes in order of first appearance (one query); None when few columns."""
    if len(codes) < MANY_COLUMNS:
        return None
    text = ", ".join(f'{c} AS "{i}"' for i, c in enumerate(codes))
    names = ", ".join(f'"{i}"' for i in range(len(codes)))
    out: list[list[int]] = [[] for _ in codes]
    for i, code in source.con.execute(
            f"SELECT CAST(i AS INTEGER), code FROM (SELECT __row, {text} FROM {table}) UNPIVOT (code FOR i IN "
            f"({names})) WHERE code >= 0 GROUP BY 1, 2 ORDER BY 1, min(__row)").fetchall():
        out[i].append(code)
    return out


def _as_dictionary(rows: list[tuple]) -> Dictionary:
    """A dictionary from (stored text, category text or None) rows ordered by stored text."""
    texts = sorted({text for _, text in rows if text is not None})
    index = {text: i for i, text in enumerate(texts)}
    return Dictionary(tuple(texts), tuple(raw for raw, _ in rows),
                      tuple(-1 if text is None else index[text] for _, text in rows))


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


def _leads_sql(spec: FeatureSpec, dictionaries: list[Dictionary]) -> tuple[str, dict]:
    """The deduplicated leads with outcome and scoring point, categories as integer codes, and ``__row``.

    ``__row`` is the 0-based position in the final order (creation time, then lead id).
    Each categorical column is coded by looking its stored text up in its dictionary
    (bound as lists: a list scan when short, else a hash join), before the
    deduplication, so only integers travel through the window sorts.
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
        params[f"raw{i}"], params[f"code{i}"] = list(dictionary.raw), list(dictionary.codes)
        stored = f"CAST({src}{quote(column)} AS VARCHAR)"
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
    select_cols = "".join(", " + c for c in cols)
    lead_id = f"{src}{quote(leads.id)}"
    created = _finite_time(f"{src}{quote(leads.created_at)}") if leads.created_at else "NULL::TIMESTAMP"
    first = f"{src}{quote(leads.created_at)} NULLS LAST" if leads.created_at else lead_id
    has_time = " AND __created IS NOT NULL" if leads.created_at else ""
    sql = ["WITH " + "".join(dicts) + "raw AS (",
           f"  SELECT {lead_id} AS __id, {created} AS __created{select_cols},",
           f"    row_number() OVER (PARTITION BY {lead_id} ORDER BY {first}) AS __rn",
           f"  FROM {quote(leads.table)} AS __src{''.join(joins)} WHERE {lead_id} IS NOT NULL",
           f"), l AS (SELECT * EXCLUDE (__rn) FROM raw WHERE __rn = 1{has_time})"]
    if out.table is not None:
        conv = _finite_time(quote(out.converted_at)) if has_date else ""
        parts = [f"min({conv}) FILTER (WHERE {conv} <= $data_end) AS __conv" if has_date
                 else "NULL::TIMESTAMP AS __conv"]
        if has_flag:  # won if any row is won, else open if any row is open, else lost
            flag_col = f"CAST({quote(out.converted)} AS BOOLEAN)"
            parts.append(f"CASE WHEN bool_or({flag_col}) THEN true WHEN count(*) > count({flag_col}) THEN NULL "
                         f"ELSE false END AS __flag, true AS __named")
        flag = ", o.__flag, o.__named" if has_flag else ""
        sql += [", o AS (",
                f"  SELECT {quote(out.lead_id)} AS __id, {', '.join(parts)}",
                f"  FROM {quote(out.table)}",
                "  GROUP BY 1)",
                f", b AS (SELECT l.*, o.__conv{flag}, "
                "l.__created + to_microseconds($sp_us) AS __scoring FROM l LEFT JOIN o ON l.__id = o.__id)"]
    else:
        sql.append(", b AS (SELECT * REPLACE (CASE WHEN __conv <= $data_end THEN __conv END AS __conv), "
                   "__created + to_microseconds($sp_us) AS __scoring FROM l)")
    sql.append(outcome_sql(out, bool(leads.created_at), params))
    return_cols = "b.__converted, b.__mature, b.__open"
    codes = "".join(f", b.__c{i}" for i in range(len(spec.categorical)))
    nums = "".join(f", b.__n{i}" for i in range(len(spec.numeric)))
    sql += ["SELECT CAST(row_number() OVER (ORDER BY b.__created, b.__id) - 1 AS INTEGER) AS __row,",
            f"  b.__id, b.__created, b.__scoring, b.__conv{codes}{nums}, {return_cols}", "FROM s AS b"]
    return "\n".join(sql), params


def _finite_time(column: str) -> str:
    """A time column as TIMESTAMP, with ``infinity`` / ``-infinity`` read as missing (they are no moment)."""
    value = f"CAST({column} AS TIMESTAMP)"
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def _events_sql(spec: FeatureSpec, table: str, types: tuple[str, ...]) -> str:
    """The point-in-time events of the signal types: lead row, type code, microseconds to the scoring point.

    Strictly before the scoring point and before the conversion, not after the data's
    end (as the README says). Ordered by (code, row, age): each type is one contiguous
    slice, and sums over them come out the same on every run.
    """
    ev = spec.mapping.events
    assert ev is not None
    code_type = "TINYINT" if len(types) <= 127 else "SMALLINT"
    return "\n".join([
        f"SELECT t.__row AS row, CAST(list_position($types, e.__type) - 1 AS {code_type}) AS code,",
        "  epoch_us(t.__scoring) - epoch_us(e.__time) AS age",
        f"FROM (SELECT {quote(ev.lead_id)} AS __lead, lower(trim(CAST({quote(ev.type)} AS VARCHAR))) AS __type,",
        f"        {_finite_time(quote(ev.time))} AS __time FROM {quote(ev.table)}) AS e",
        f"JOIN {table} AS t ON e.__lead = t.__id",
        "WHERE e.__time < least(t.__scoring, coalesce(t.__conv, t.__scoring)) AND e.__time <= $data_end",
        "  AND list_contains($types, e.__type)",
        "ORDER BY code, row, age",
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
                end: dt.datetime) -> Iterator[str]:
    """The leads materialised once into a uniquely named TEMP table (dropped afterwards, also on error).

    Temp tables live in the connection's temp storage, never in the user's file, so
    this works on the read-only connection.
    """
    name = quote(TEMP_PREFIX + uuid.uuid4().hex)
    sql, params = _leads_sql(spec, dictionaries)
    params["data_end"] = end
    try:
        source.con.execute(f"CREATE TEMP TABLE {name} AS {sql}", _used(sql, params))
        yield name
    finally:
        with suppress(duckdb.Error):  # a broken connection has no temp table left to drop
            source.con.execute(f"DROP TABLE IF EXISTS temp.main.{name}")


def _read_leads(source: Source, table: str, names: list[str]) -> dict[str, np.ndarray]:
    """Columns of the temp table, each placed at its ``__row``: record batches straight into numpy.

    Batches are written into arrays allocated once, so no full Arrow table sits next to
    the numpy copies, and no sort is needed: ``__row`` says where each lead goes.
    """
    ((n,),) = source.con.execute(f"SELECT count(*) FROM {table}").fetchall()
    reader = source.con.sql(f"SELECT __row, {', '.join(names)} FROM {table}").to_arrow_reader(BATCH_ROWS)
    out = {name: np.empty(n, dtype=_to_numpy(pa.array([], type=reader.schema.field(name).type)).dtype)
           for name in names}
    for batch in reader:
        rows = batch.column(0).to_numpy()
        for name, column in zip(names, batch.columns[1:]):
            out[name][rows] = _to_numpy(column)
    return out


def _categorical(source: Source, table: str, column: str, texts: tuple[str, ...], raw: np.ndarray,
                 used: list[int] | None = None) -> Categorical:
    """Renumber a column's codes by first appearance in the lead order (as Arrow's dictionary
    encoding of the sorted leads numbered them), keeping only values the kept leads hold.

    ``used``: those codes in that order, when already read (``_first_appearances``)."""
    if used is None:
        used = [code for (code,) in source.con.execute(
            f"SELECT {column} FROM {table} WHERE {column} >= 0 GROUP BY 1 ORDER BY min(__row)").fetchall()]
    dtype = np.int16 if len(used) < np.iinfo(np.int16).max else np.int32
    lut = np.full(len(texts) + 1, -1, dtype=dtype)
    lut[np.asarray(used, dtype=np.int64) + 1] = np.arange(len(used), dtype=dtype)
    categories = np.empty(len(used), dtype=object)
    categories[:] = [texts[code] for code in used]
    return Categorical(codes=lut[raw + 1], categories=categories)


Progress = Callable[[str, float], None]
"""Told what an extraction is doing and how far it is (0..1), for a progress bar."""


def _no_progress(message: str, fraction: float) -> None:
    return None


def _keep_events(source: Source, spec: FeatureSpec, table: str, end: dt.datetime,
                 progress: Progress = _no_progress, expected: int | None = None) -> KeptEvents | None:
    """The spec's point-in-time events as narrow arrays (None when the spec counts no events).

    Read in batches: rows as int32, types counted into ``starts``, ages as int32 seconds
    while every age so far is a whole second (else float64 days, see ``KeptEvents.age``).
    ``expected`` (the events table's rows, an upper bound) turns batches into progress.
    """
    types = event_types(spec)
    if not types:
        return None
    sql = _events_sql(spec, table, types)
    reader = source.con.sql(sql, params={"types": list(types), "data_end": end}).to_arrow_reader(BATCH_ROWS)
    rows: list[np.ndarray] = []
    ages: list[np.ndarray] = []
    counts = np.zeros(len(types), dtype=np.int64)
    progress("Joining the events to the leads as of each scoring point...", 0.0)
    for batch in reader:
        row, code, age_us = (column.to_numpy() for column in batch.columns)
        rows.append(row.astype(np.int32, copy=False))
        counts += np.bincount(code, minlength=len(types))
        ages.append(_age(age_us))
        del row, code, age_us
        done = int(counts.sum())
        progress(f"Reading point-in-time events: {done:,}" + (f" of at most {expected:,}" if expected else ""),
                 min(1.0, done / expected) if expected else 0.5)
    if any(a.dtype == np.float64 for a in ages):  # one age is not whole seconds: days for all
        ages = [_days(a) for a in ages]
    row = np.concatenate(rows) if rows else np.empty(0, np.int32)
    del rows
    age = np.concatenate(ages) if ages else np.empty(0, np.int32)
    del ages
    return KeptEvents(types, row, np.concatenate([[0], np.cumsum(counts)]), age)


def _days(age: np.ndarray) -> np.ndarray:
    """Ages in days from either form ``_age`` keeps (int32 seconds are exact in microseconds)."""
    if age.dtype == np.float64:
        return age
    return (age.astype(np.int64) * 1_000_000) / float(DAY_US)


def _age(age_us: np.ndarray) -> np.ndarray:
    """int32 seconds when exact (whole seconds within int32's range), else float64 days as the SQL divides."""
    if age_us.size and (age_us.max() < 2**31 * 1_000_000 and age_us.min() >= 0
                        and not np.any(age_us % 1_000_000)):
        return (age_us // 1_000_000).astype(np.int32)
    if not age_us.size:
        return np.empty(0, np.int32)
    return age_us / float(DAY_US)


def _extract(source: Source, spec: FeatureSpec, end: dt.datetime, sum_signals: bool = True,
             progress: Progress = _no_progress, expected_events: int | None = None) -> Features:
    """The SQL part of an extraction: the leads once into a temp table, then narrow reads of it."""
    names = ["__id", "__created", "__scoring", "__converted", "__mature", "__open"]
    codes = [f"__c{i}" for i in range(len(spec.categorical))]
    nums = [f"__n{i}" for i in range(len(spec.numeric))]
    progress("Reading the leads and their outcomes...", 0.0)
    dictionaries = _dictionaries(source, spec)
    with _temp_leads(source, spec, dictionaries, end) as table:
        cols = _read_leads(source, table, names + codes + nums)
        firsts = _first_appearances(source, table, codes) or [None] * len(codes)
        categorical = {c: _categorical(source, table, code, dictionaries[i].texts, cols.pop(code), firsts[i])
                       for i, (c, code) in enumerate(zip(spec.categorical, codes))}
        progress(f"Read {len(cols['__id']):,} leads", 1.0)
        events = _keep_events(source, spec, table, end, progress, expected_events)
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
    )


def extract_features(source: Source, config_or_spec: ScoringConfig | FeatureSpec,
                     now: dt.datetime | None = None, quality: QualityReport | None = None,
                     sum_signals: bool = True, progress: Progress | None = None) -> Features:
    """Read the spec's leads and point-in-time events once; return aligned arrays plus a data-quality report.

    The quality report depends only on the data and the mapping, not on decay or rules;
    pass one computed earlier (``quality``) to skip its table scans. ``sum_signals=False``
    keeps the events but sums none: a base that features are only derived from
    (``derive_features``) holds no sums it never uses (100 MB at 10M leads). ``progress``
    is told each step (the app's progress bar on a long first load).
    """
    progress = progress or _no_progress
    spec = config_or_spec if isinstance(config_or_spec, FeatureSpec) else feature_spec(config_or_spec)
    if source.feature_set:  # per-lead features computed in the warehouse
        from .feature_set import read_features

        return read_features(source, spec)
    check_columns(source, feature_needs(spec))
    now = now or dt.datetime.now()
    end = data_end(source, spec.mapping, now)
    if quality is None:  # first, while no arrays are held: its queries take DuckDB memory too (0.5 GB at 10M)
        progress("Checking data quality (duplicates, unknown leads, dates)...", 0.0)
        quality = check_quality(source, spec.mapping, now=now, data_end=end)
    expected = quality.counts.get(spec.mapping.events.table) if spec.mapping.events is not None else None
    try:
        features = _extract(source, spec, end, sum_signals, progress, expected)
    except (duckdb.Error, pa.ArrowException) as exc:  # report, don't crash
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(str(source.path), [f"reading features failed: {first}"]) from None
    features.quality = quality
    return features


def derive_features(base: Features, spec: FeatureSpec,
                    known: dict[str, Activity] | None = None) -> Features | None:
    """The features of ``spec`` computed from ``base`` without DuckDB, or None when that is not possible.

    Possible when the spec differs from base's only in decays (or needs fewer columns):
    same mapping, scoring point and window, its columns among base's, every event type
    its signals count among the events base kept. The result shares base's lead arrays
    (no copies) and base's signal arrays where the key is the same; other signals are
    decayed again from the kept events (a bincount each), unless ``known`` has them
    (sums of these very leads kept from an earlier run).
    """
    have = base.spec
    if (spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days) != (
        have.mapping_json, have.scoring_point_days, have.outcome_window_days
    ):
        return None
    if not (set(spec.categorical) <= set(base.categorical) and set(spec.numeric) <= set(base.numeric)):
        return None
    known = known or {}
    new = [s for s in spec.signals if s.key not in base.signals and s.key not in known]
    kept = set(base.events.types) if base.events is not None else set()
    if not {t for s in new for t in s.events} <= kept:
        return None
    computed = {**known, **signal_sums(base.events, tuple(new), base.n)}
    derived = replace(
        base,
        spec=spec,
        categorical={c: base.categorical[c] for c in spec.categorical},
        numeric={c: base.numeric[c] for c in spec.numeric},
        signals={s.key: base.signals.get(s.key, computed.get(s.key)) for s in spec.signals},
    )
    derived.cache = base.cache  # same leads: what was computed from them still holds
    return derived


def decay_free_spec(spec: FeatureSpec) -> FeatureSpec:
    """The spec without its decays: same columns, one undecayed signal over all its event types.

    What a cache of extractions is keyed on: every spec differing only in decays derives
    from the features of this one (``derive_features``).
    """
    types = event_types(spec)
    return FeatureSpec(spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days,
                       spec.categorical, spec.numeric, (Signal(types, ("none",)),) if types else ())


def spec_cache_key(spec: FeatureSpec) -> str:
    """A string key of a spec, for caches that need one."""
    return json.dumps(
        [spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days,
         spec.categorical, spec.numeric, [s.key for s in spec.signals]]
    )


def union_spec(a: FeatureSpec, b: FeatureSpec) -> FeatureSpec | None:
    """One spec serving two configs on the same data and evaluation, else None.

    The draft and the approved model are compared on the very same leads; when they
    share the mapping and evaluation, one extraction serves both.
    """
    if (a.mapping_json, a.scoring_point_days, a.outcome_window_days) != (
        b.mapping_json, b.scoring_point_days, b.outcome_window_days
    ):
        return None
    return FeatureSpec(
        mapping_json=a.mapping_json,
        scoring_point_days=a.scoring_point_days,
        outcome_window_days=a.outcome_window_days,
        categorical=tuple(sorted(set(a.categorical) | set(b.categorical))),
        numeric=tuple(sorted(set(a.numeric) | set(b.numeric))),
        signals=tuple(sorted(set(a.signals) | set(b.signals), key=lambda s: s.key)),
    )
