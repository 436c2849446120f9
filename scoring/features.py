"""Point-in-time feature extraction: DuckDB -> compact numpy arrays, once.

The expensive part of scoring (reading leads, joining events, decaying them to each
lead's scoring point) depends on the data, the mapping, the evaluation window and the
decays, never on points or thresholds. It is done here once per ``FeatureSpec``; the
engine then re-scores from these arrays alone, so a slider move runs no SQL.

Point in time: a lead is scored ``scoring_point_days`` after its creation. Only events
strictly before that moment count (or before the conversion, if the lead converted
earlier: what happened after a sale must not explain the sale). Decay is measured to the
scoring point. The outcome is a conversion before ``scoring point + outcome window``; a
lead is mature when that moment is at or before the end of the data.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import EngagementRule, ScoringConfig, SourceMapping, decay_key, normalise_value
from .quality import QualityReport, check_quality
from .source import ColumnNeed, Source, SourceError, check_columns, mapping_needs, quote

DAY_US = 86_400_000_000


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
    converted_at: np.ndarray
    deal_value: np.ndarray
    categorical: dict[str, Categorical]
    numeric: dict[str, np.ndarray]
    signals: dict[str, np.ndarray]
    data_end: dt.datetime
    quality: QualityReport = field(default_factory=QualityReport)

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
        cached = self.__dict__.get("_scoring_month")
        if cached is None:
            cached = self.scoring_at.astype("datetime64[M]").astype(np.int64)
            self.__dict__["_scoring_month"] = cached
        return cached

    def feature(self, key: str) -> np.ndarray:
        """The activity array an engagement rule reads (see ``rule_signal_key``)."""
        if key.startswith("col:"):
            return np.nan_to_num(self.numeric[key[4:]], nan=0.0)
        return self.signals[key]

    def subset(self, mask: np.ndarray) -> "Features":
        """The leads where ``mask`` is true (e.g. one segment or one cohort)."""
        return Features(
            spec=self.spec,
            lead_id=self.lead_id[mask],
            created_at=self.created_at[mask],
            scoring_at=self.scoring_at[mask],
            converted=self.converted[mask],
            mature=self.mature[mask],
            converted_at=self.converted_at[mask],
            deal_value=self.deal_value[mask],
            categorical={k: Categorical(v.codes[mask], v.categories) for k, v in self.categorical.items()},
            numeric={k: v[mask] for k, v in self.numeric.items()},
            signals={k: v[mask] for k, v in self.signals.items()},
            data_end=self.data_end,
            quality=self.quality,
        )


def _decay_weight(decay: tuple, param: str) -> str:
    """SQL for an event's weight given its age in days (``age``); parameters bound."""
    kind = decay[0]
    if kind == "exponential":
        return f"pow(0.5, age / ${param})"
    if kind == "linear":
        return f"greatest(0.0, 1.0 - age / ${param})"
    if kind == "window":
        return f"CASE WHEN age < ${param} THEN 1.0 ELSE 0.0 END"
    return "1.0"


def _category_expr(column: str) -> str:
    """Trimmed text of a column, NULL when it is one of the missing markers."""
    text = f"trim(CAST({quote(column)} AS VARCHAR))"
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


def build_query(spec: FeatureSpec) -> tuple[str, dict]:
    """The one feature query and its parameters."""
    mapping = spec.mapping
    leads, out, ev = mapping.leads, mapping.outcome, mapping.events
    params: dict = {
        "missing": [normalise_value(v) for v in mapping.missing_values],
        "sp_us": int(round(spec.scoring_point_days * DAY_US)),
        "win_us": int(round(spec.outcome_window_days * DAY_US)),
    }
    cols = [f"{_category_expr(c)} AS {quote('cat_' + c)}" for c in spec.categorical]
    cols += [f"CAST({quote(c)} AS DOUBLE) AS {quote('num_' + c)}" for c in spec.numeric]
    flag_mode = out.converted is not None  # a yes/no outcome: no conversion time, no window
    if out.table is None:
        if flag_mode:
            cols.append(f"CAST({quote(out.converted)} AS BOOLEAN) AS __flag")
            cols.append("NULL::TIMESTAMP AS __conv")
        else:
            cols.append(f"CAST({quote(out.converted_at)} AS TIMESTAMP) AS __conv")
        if out.deal_value:
            cols.append(f"CAST({quote(out.deal_value)} AS DOUBLE) AS __deal")
    select_cols = "".join(", " + c for c in cols)
    created = f"CAST({quote(leads.created_at)} AS TIMESTAMP)" if leads.created_at else "NULL::TIMESTAMP"
    first = f"{quote(leads.created_at)} NULLS LAST" if leads.created_at else quote(leads.id)
    has_time = " AND __created IS NOT NULL" if leads.created_at else ""
    sql = [
        "WITH raw AS (",
        f"  SELECT {quote(leads.id)} AS __id, {created} AS __created{select_cols},",
        f"    row_number() OVER (PARTITION BY {quote(leads.id)} ORDER BY {first}) AS __rn",
        f"  FROM {quote(leads.table)} WHERE {quote(leads.id)} IS NOT NULL",
        f"), l AS (SELECT * EXCLUDE (__rn) FROM raw WHERE __rn = 1{has_time})",
    ]
    if out.table is not None:
        deal = f"max(CAST({quote(out.deal_value)} AS DOUBLE))" if out.deal_value else "NULL::DOUBLE"
        if flag_mode:
            outcome = f"NULL::TIMESTAMP AS __conv, bool_or(CAST({quote(out.converted)} AS BOOLEAN)) AS __flag"
            where = ""
        else:
            outcome = f"min(CAST({quote(out.converted_at)} AS TIMESTAMP)) AS __conv"
            where = f" WHERE CAST({quote(out.converted_at)} AS TIMESTAMP) <= $data_end"
        flag = ", o.__flag" if flag_mode else ""
        sql += [
            ", o AS (",
            f"  SELECT {quote(out.lead_id)} AS __id, {outcome}, {deal} AS __deal",
            f"  FROM {quote(out.table)}{where}",
            "  GROUP BY 1)",
            f", b AS (SELECT l.*, o.__conv, o.__deal{flag}, "
            "l.__created + to_microseconds($sp_us) AS __scoring FROM l LEFT JOIN o ON l.__id = o.__id)",
        ]
    else:
        deal = "" if out.deal_value else ", NULL::DOUBLE AS __deal"
        sql += [
            f", b AS (SELECT * REPLACE (CASE WHEN __conv <= $data_end THEN __conv END AS __conv){deal}, "
            "__created + to_microseconds($sp_us) AS __scoring FROM l)"
        ]
    sums = []
    if spec.signals:
        assert ev is not None
        for i, sig in enumerate(spec.signals):
            params[f"ev{i}"] = list(sig.events)
            if sig.decay[0] != "none":
                params[f"dp{i}"] = float(sig.decay[1])
            weight = _decay_weight(sig.decay, f"dp{i}")
            sums.append(f"sum(CASE WHEN list_contains($ev{i}, t) THEN {weight} END) AS s{i}")
        event_time = f"CAST(e.{quote(ev.time)} AS TIMESTAMP)"
        sql += [
            ", e AS (",
            f"  SELECT b.__id, lower(trim(CAST(e.{quote(ev.type)} AS VARCHAR))) AS t,",
            f"    (epoch_us(b.__scoring) - epoch_us({event_time})) / {DAY_US}.0 AS age",
            f"  FROM {quote(ev.table)} e JOIN b ON e.{quote(ev.lead_id)} = b.__id",
            f"  WHERE {event_time} < least(b.__scoring, coalesce(b.__conv, b.__scoring))",
            f"    AND {event_time} <= $data_end)",
            ", agg AS (SELECT __id, " + ", ".join(sums) + " FROM e GROUP BY __id)",
        ]
    sig_cols = "".join(f", coalesce(agg.s{i}, 0.0) AS s{i}" for i in range(len(spec.signals)))
    join = " LEFT JOIN agg ON b.__id = agg.__id" if spec.signals else ""
    if flag_mode:  # known outcome (won or lost) is mature; open (NULL) is not
        outcome = ["  coalesce(b.__flag, false) AS __converted,", "  (b.__flag IS NOT NULL) AS __mature"]
    else:
        outcome = ["  (b.__conv IS NOT NULL AND b.__conv < b.__scoring + to_microseconds($win_us)) AS __converted,",
                   "  (b.__scoring + to_microseconds($win_us) <= $data_end) AS __mature"]
    sql += [f"SELECT b.* EXCLUDE (__id), b.__id{sig_cols},", *outcome,
            f"FROM b{join} ORDER BY b.__created, b.__id"]
    return "\n".join(sql), params


def _encode(column: pa.ChunkedArray) -> Categorical:
    """Dictionary-encode text with Arrow (C++), missing -> -1."""
    enc = pc.dictionary_encode(column).combine_chunks()
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    return Categorical(codes=codes, categories=np.asarray(enc.dictionary.to_pylist(), dtype=object))


def extract_features(source: Source, config_or_spec: ScoringConfig | FeatureSpec,
                     now: dt.datetime | None = None, quality: QualityReport | None = None) -> Features:
    """Run the one feature query and return aligned arrays plus a data-quality report.

    The quality report depends only on the data and the mapping, not on decay or rules;
    pass one computed earlier (``quality``) to skip its table scans on a decay change.
    """
    spec = config_or_spec if isinstance(config_or_spec, FeatureSpec) else feature_spec(config_or_spec)
    check_columns(source, feature_needs(spec))
    now = now or dt.datetime.now()
    end = data_end(source, spec.mapping, now)
    sql, params = build_query(spec)
    params["data_end"] = end
    used = {k: v for k, v in params.items() if "$" + k in sql}
    try:
        table = source.con.sql(sql, params=used).to_arrow_table()
    except Exception as exc:  # duckdb raises many error classes; report, don't crash
        first = str(exc).splitlines()[0]
        raise SourceError(str(source.path), [f"reading features failed: {first}"]) from None

    def num(name: str) -> np.ndarray:
        return table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)

    def times(name: str) -> np.ndarray:
        return table.column(name).cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)

    features = Features(
        spec=spec,
        lead_id=table.column("__id").to_numpy(zero_copy_only=False),
        created_at=times("__created"),
        scoring_at=times("__scoring"),
        converted=table.column("__converted").to_numpy(zero_copy_only=False).astype(bool),
        mature=table.column("__mature").to_numpy(zero_copy_only=False).astype(bool),
        converted_at=times("__conv"),
        deal_value=num("__deal"),
        categorical={c: _encode(table.column("cat_" + c)) for c in spec.categorical},
        numeric={c: num("num_" + c) for c in spec.numeric},
        signals={s.key: num(f"s{i}") for i, s in enumerate(spec.signals)},
        data_end=end,
    )
    features.quality = quality if quality is not None else check_quality(source, spec.mapping, now=now, data_end=end)
    return features


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
