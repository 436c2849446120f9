"""Calibrate on per-lead features computed in the warehouse: a folder of Parquet files.

The feature query (``scoring.export_features``) runs where the events are; its result,
stored as Parquet (a Spark ``df.write.parquet(folder)``, a ``COPY ... TO``, an unload),
is one row per lead. ``open_source`` opens such a folder (or one ``.parquet`` file) as a
view ``leadcal_features`` in an in-memory DuckDB, and ``extract_features`` reads it here
into the same ``Features`` the events would have given: same order (creation time, then
lead id), categories numbered by first appearance, sparse activities.

What a feature set cannot do: re-weigh events under another decay (it holds the decayed
sums, not the events), or check raw-data quality. A config needing a signal, column or
window or outcome mapping the set does not hold is refused with a message saying what to
export again.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pyarrow as pa

from ..model.config import OutcomeTable
from ..model.features import DAY_US, Categorical, Features, FeatureSpec, Signal
from ..model.findings import QualityReport
from .source import Source, SourceError, is_feature_set, parquet_files, quote

VIEW = "leadcal_features"
"""The name the feature set is read under."""

FIXED = ("leadcal_lead_id", "leadcal_created_at", "leadcal_scored_at", "leadcal_converted", "leadcal_mature",
         "leadcal_data_end", "leadcal_outcome_window_days")
"""The columns every feature set has, in order."""

OPEN = "leadcal_open"
"""Still open at the data's end: written (last) when the outcome has won / lost / open states, so a
report on the feature set counts open leads as one on the tables does."""

OUTCOME = "leadcal_outcome"
"""How the outcome was judged (``outcome_rule``), written on every row: a config whose outcome
mapping differs (another column, table or ``open_lost_after_days``) is refused, as another window is."""


def outcome_rule(outcome: OutcomeTable) -> str:
    """The outcome mapping in words, e.g. ``won / lost / open from 'won', win dates from 'won_at' (table
    'deals'), open leads lost after 90 days``: equal for two mappings exactly when they judge alike."""
    parts = []
    if outcome.converted is not None:
        parts.append(f"won / lost / open from '{outcome.converted}'")
    if outcome.converted_at is not None:
        parts.append(f"{'win dates' if outcome.converted is not None else 'conversion times'} from "
                     f"'{outcome.converted_at}'")
    text = ", ".join(parts) + (f" (table '{outcome.table}')" if outcome.table is not None else " (leads table)")
    if outcome.converted is not None and outcome.open_lost_after_days is not None:
        text += f", open leads lost after {outcome.open_lost_after_days:g} days"
    return text

PREFIX = "leadcal_"
"""Column names starting with this are leadcal's own (a mapped column may not)."""


def activity_column(signal: Signal) -> str:
    """The column of one signal: ``leadcal_act_`` + 16 hex digits of a hash of its key.

    Named from the signal itself (event types and decay), not from the config, so any
    config whose signals a feature set holds can be calibrated on it; a hash keeps the
    name a plain identifier whatever characters the event types hold.
    """
    return PREFIX + "act_" + hashlib.sha256(signal.key.encode("utf-8")).hexdigest()[:16]


def _problem(source: Source, problems: list[str]) -> SourceError:
    return SourceError(str(source.path), problems)


def _check(source: Source, spec: FeatureSpec) -> None:
    """Every column the spec needs is there, and the set was made with the spec's evaluation."""
    have = {c.lower() for c in source.tables.get(VIEW, {})}
    problems = [f"no column '{c}': not a leadcal feature set (export one with "
                "`leadcal configs export NAME --format features-sql`)" for c in FIXED if c not in have]
    if problems:
        raise _problem(source, problems[:1])
    for column in (*spec.categorical, *spec.numeric):
        if column.lower() not in have:
            problems.append(f"no column '{column}' (a fit or segment column of this config)")
    for signal in spec.signals:
        if activity_column(signal) not in have:
            problems.append(f"no column '{activity_column(signal)}' ({', '.join(signal.events)} decayed "
                            f"{':'.join(str(x) for x in signal.decay)})")
    if problems:
        problems.append("the feature set was exported for other rules or decays: export the feature SQL of this "
                        "config (`leadcal configs export NAME --format features-sql`) and run it again")
        raise _problem(source, problems)
    sp_us = round(spec.scoring_point_days * DAY_US)
    (windows, off, rows, ids) = source.con.execute(
        f"SELECT list(DISTINCT leadcal_outcome_window_days), "
        f"count(*) FILTER (WHERE epoch_us(CAST(leadcal_scored_at AS TIMESTAMP)) "
        f"- epoch_us(CAST(leadcal_created_at AS TIMESTAMP)) <> {sp_us}), count(*), count(DISTINCT leadcal_lead_id) "
        f"FROM {VIEW}").fetchall()[0]
    if rows == 0:
        raise _problem(source, ["the feature set has no rows"])
    if windows != [spec.outcome_window_days]:
        problems.append(f"the outcome was judged with a window of {', '.join(f'{w:g}' for w in windows)} days; "
                        f"this config's is {spec.outcome_window_days:g} days")
    if off:
        problems.append(f"{off:,} leads are not scored {spec.scoring_point_days:g} days after creation, as this "
                        "config scores them")
    if ids != rows:
        problems.append(f"{rows - ids:,} duplicate lead ids (leadcal_lead_id must be unique)")
    rule = outcome_rule(spec.mapping.outcome)
    if OUTCOME in have:
        ((rules,),) = source.con.execute(f"SELECT list(DISTINCT {OUTCOME} ORDER BY {OUTCOME}) FROM {VIEW}").fetchall()
        if rules != [rule]:
            problems.append(f"the outcome was judged by {'; '.join(map(str, rules))}; this config's is {rule}")
    elif spec.mapping.outcome.converted is not None:  # exported before the feature set said how
        problems.append(f"the feature set does not say how its outcome was judged (no column '{OUTCOME}'); "
                        f"this config's outcome has won / lost / open states: {rule}")
    if problems:
        problems.append("export the feature SQL of this config and run it again")
        raise _problem(source, problems)


def first_seen_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Codes numbering a text column's values by first appearance (as the extraction does), -1 for NULL."""
    encoded = column.combine_chunks().dictionary_encode()  # Arrow numbers values in order of appearance
    categories = np.empty(len(encoded.dictionary), dtype=object)
    categories[:] = encoded.dictionary.to_pylist()
    dtype = np.int16 if len(categories) < np.iinfo(np.int16).max else np.int32
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(dtype)
    return codes, categories


def read_features(source: Source, spec: FeatureSpec) -> Features:
    """The spec's features from a feature set (see the module doc); SourceError when it cannot serve the spec."""
    _check(source, spec)
    cat = [f"{quote(c)}" for c in spec.categorical]
    num = [f"CAST({quote(c)} AS DOUBLE)" for c in spec.numeric]
    act = [f"CAST({activity_column(s)} AS DOUBLE)" for s in spec.signals]
    states = spec.mapping.outcome.converted is not None and OPEN in {c.lower() for c in source.tables.get(VIEW, {})}
    if states:  # read last; an older set without it counts no open leads (says nothing, rather than 0)
        act.append(f"coalesce(CAST({OPEN} AS BOOLEAN), false)")
    sql = ("SELECT leadcal_lead_id, CAST(leadcal_created_at AS TIMESTAMP), CAST(leadcal_scored_at AS TIMESTAMP), "
           "coalesce(CAST(leadcal_converted AS BOOLEAN), false), coalesce(CAST(leadcal_mature AS BOOLEAN), false)"
           + "".join(", " + c for c in cat + num + act)
           + f" FROM {VIEW} ORDER BY 2, 1")
    table = source.con.sql(sql).to_arrow_table()
    columns = table.columns
    n = table.num_rows

    def numpy(i: int) -> np.ndarray:
        column = columns[i]
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us"))
        return column.to_numpy()

    k = 5
    categorical = {}
    for name in spec.categorical:
        codes, categories = first_seen_codes(columns[k])
        categorical[name] = Categorical(codes=codes, categories=categories)
        k += 1
    numeric = {}
    for name in spec.numeric:
        numeric[name] = np.asarray(numpy(k), dtype=np.float64)
        k += 1
    signals = {}
    for signal in spec.signals:
        signals[signal.key] = np.nan_to_num(np.asarray(numpy(k), dtype=np.float64), nan=0.0)
        k += 1
    ((end,),) = source.con.execute(f"SELECT max(CAST(leadcal_data_end AS TIMESTAMP)) FROM {VIEW}").fetchall()
    return Features(
        spec=spec,
        lead_id=numpy(0),
        created_at=numpy(1),
        scoring_at=numpy(2),
        converted=np.asarray(numpy(3), dtype=bool),
        mature=np.asarray(numpy(4), dtype=bool),
        categorical=categorical,
        numeric=numeric,
        signals=signals,
        data_end=end if isinstance(end, dt.datetime) else dt.datetime.fromisoformat(str(end)),
        quality=QualityReport(counts={VIEW: n}),
        events=None,
        open=np.asarray(numpy(k), dtype=bool) if states else None,
    )


__all__ = ["FIXED", "OPEN", "OUTCOME", "PREFIX", "VIEW", "activity_column", "is_feature_set", "outcome_rule",
           "parquet_files", "read_features"]
