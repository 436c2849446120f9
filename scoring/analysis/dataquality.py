"""Data quality per cohort: so a broken form shows up in the month it broke.

Completeness of every mapped lead column (NULL and the missing markers count as empty),
category values the config does not name, duplicate ids, events of unknown leads and
conversions dated before the lead, each per creation cohort (events per event-time
cohort). Counting runs in DuckDB on a read-only connection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ..data.source import Source, SourceError, quote
from ..model.config import CategoricalFit, ScoringConfig, normalise_value
from ..model.features import Features, feature_spec
from ..model.findings import Finding

COMPLETENESS_ALARM = 0.85
"""A column filled in fewer than this share of a cohort's leads raises an alarm."""
PROBLEM_ALARM = 0.01
"""Duplicates, unknown-lead events or conversions before creation above this share alarm."""
MIN_ROWS = 30
"""Cohorts smaller than this are shown but raise no alarm."""


@dataclass(frozen=True)
class CohortCompleteness:
    """One creation cohort: its leads, the filled share of every mapped column, and problem counts."""

    cohort: str
    leads: int
    filled: dict[str, float | None]
    """Column -> share of the cohort's leads with a value (NULL and missing markers count as empty)."""
    problems: dict[str, int]
    """``duplicate_ids``, ``unknown_lead_events``, ``events``, ``conversion_before_creation`` (only those seen)."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class UnnamedValues:
    """Category values a categorical fit rule does not name: their share per cohort, and the commonest."""

    by_cohort: dict[str, float | None]
    """Cohort -> share of filled values the config does not name."""
    top_unnamed: list[tuple[str, int]]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Alarm:
    """A cohort's column or problem past its alarm line, in one sentence."""

    cohort: str
    column: str
    problem: str
    value: float
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class QualityByCohort:
    """Data quality per cohort (``quality`` of `leadcal drift --format json`)."""

    grain: str
    threshold: float
    """Completeness below this share raises an alarm."""
    columns: list[str]
    cohorts: list[CohortCompleteness]
    unnamed_values: dict[str, UnnamedValues]
    """Categorical fit column -> its unnamed values."""
    findings: list[Finding]
    """The data-quality findings of the whole data (as the extraction counted them)."""
    alarms: list[Alarm]

    def to_dict(self) -> dict:
        """The documented JSON form."""
        return {"grain": self.grain, "threshold": self.threshold, "columns": list(self.columns),
                "cohorts": [c.to_dict() for c in self.cohorts],
                "unnamed_values": {col: u.to_dict() for col, u in self.unnamed_values.items()},
                "findings": [f.to_dict() for f in self.findings], "alarms": [a.to_dict() for a in self.alarms]}



def _trunc(grain: str, column: str) -> str:
    if grain not in ("week", "month"):
        raise ValueError(f"grain must be 'week' or 'month', not {grain!r}")
    return f"CAST(date_trunc('{grain}', CAST({column} AS TIMESTAMP)) AS DATE)"


def lead_columns(config: ScoringConfig) -> list[str]:
    """Every leads-table column the config maps or reads, in a stable order."""
    spec = feature_spec(config)
    leads = config.source.leads
    cols = [leads.id] + ([leads.segment] if leads.segment else []) + list(spec.categorical) + list(spec.numeric)
    return list(dict.fromkeys(cols))


def completeness(source: Source, config: ScoringConfig, grain: str) -> list[CohortCompleteness]:
    """Per cohort: leads and the filled share of every mapped column."""
    leads = config.source.leads
    cols = lead_columns(config)
    filled = []
    for c in cols:
        text = f"lower(trim(CAST({quote(c)} AS VARCHAR)))"
        filled.append(f"count(*) FILTER (WHERE {quote(c)} IS NOT NULL AND NOT list_contains($missing, {text}))")
    sql = (f"SELECT {_trunc(grain, quote(leads.created_at))} AS cohort, count(*) AS n, " + ", ".join(filled)
           + f" FROM {quote(leads.table)} WHERE {quote(leads.created_at)} IS NOT NULL GROUP BY 1 ORDER BY 1")
    missing = [normalise_value(v) for v in config.source.missing_values]
    rows = source.con.execute(sql, {"missing": missing}).fetchall()
    return [CohortCompleteness(cohort=r[0].isoformat(), leads=int(r[1]),
                               filled={c: (r[2 + i] / r[1] if r[1] else None) for i, c in enumerate(cols)}, problems={})
            for r in rows]


def problems_by_cohort(source: Source, config: ScoringConfig, grain: str) -> dict[str, dict[str, int]]:
    """Cohort -> counts of duplicate id rows, unknown-lead events, conversions before creation."""
    m = config.source
    lt, lid, lcr = quote(m.leads.table), quote(m.leads.id), quote(m.leads.created_at)
    out: dict[str, dict[str, int]] = {}

    def put(rows, key):
        for cohort, count in rows:
            if cohort is not None and count:
                out.setdefault(cohort.isoformat(), {})[key] = int(count)

    put(source.con.execute(
        f"SELECT {_trunc(grain, lcr)}, count(*) FROM (SELECT {lcr}, row_number() OVER "
        f"(PARTITION BY {lid} ORDER BY {lcr} NULLS LAST) AS rn FROM {lt} WHERE {lid} IS NOT NULL) "
        "WHERE rn > 1 GROUP BY 1").fetchall(), "duplicate_ids")
    if m.events is not None:
        et, eid, eti = quote(m.events.table), quote(m.events.lead_id), quote(m.events.time)
        put(source.con.execute(
            f"SELECT {_trunc(grain, 'e.' + eti)}, count(*) FROM {et} e WHERE e.{eid} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {lt} l WHERE l.{lid} = e.{eid}) GROUP BY 1").fetchall(), "unknown_lead_events")
        put(source.con.execute(
            f"SELECT {_trunc(grain, eti)}, count(*) FROM {et} GROUP BY 1").fetchall(), "events")
    if m.outcome.converted_at is None:
        return out  # a yes/no outcome has no conversion time to compare with the creation
    conv = quote(m.outcome.converted_at)
    if m.outcome.table is not None:
        ot, oid = quote(m.outcome.table), quote(m.outcome.lead_id)
        join = (f"{ot} o JOIN (SELECT {lid}, min({lcr}) AS {lcr} FROM {lt} GROUP BY {lid}) l "
                f"ON o.{oid} = l.{lid}")
        oconv = f"o.{conv}"
    else:
        join, oconv = f"{lt} l", f"l.{conv}"
    put(source.con.execute(
        f"SELECT {_trunc(grain, 'l.' + lcr)}, count(*) FROM {join} "
        f"WHERE CAST({oconv} AS TIMESTAMP) < CAST(l.{lcr} AS TIMESTAMP) GROUP BY 1").fetchall(),
        "conversion_before_creation")
    return out


def unnamed_values(config: ScoringConfig, features: Features, cohorts: np.ndarray,
                   starts: list) -> dict[str, UnnamedValues]:
    """Per categorical fit rule: share of filled values the config does not name, per cohort, and the top ones."""
    out = {}
    for rule in config.fit:
        if not isinstance(rule, CategoricalFit) or rule.column not in features.categorical:
            continue
        cat = features.categorical[rule.column]
        named = {normalise_value(k) for k in rule.points}
        is_named = np.array([normalise_value(v) in named for v in cat.categories] or [False])
        codes = cat.codes
        filled = codes >= 0
        unnamed = filled & ~is_named[np.clip(codes, 0, None)]
        per_filled = np.bincount(cohorts[filled], minlength=len(starts))
        per_unnamed = np.bincount(cohorts[unnamed], minlength=len(starts))
        top_counts = np.bincount(codes[unnamed], minlength=len(cat.categories))
        top = [(str(cat.categories[i]), int(top_counts[i])) for i in np.argsort(-top_counts)[:5] if top_counts[i]]
        out[rule.column] = UnnamedValues(
            by_cohort={s.isoformat(): (float(u / f) if f else None) for s, u, f in zip(starts, per_unnamed, per_filled)},
            top_unnamed=top,
        )
    return out


def quality_report(source: Source, config: ScoringConfig, features: Features, grain: str = "month",
                   threshold: float = COMPLETENESS_ALARM) -> QualityByCohort:
    """Completeness, unnamed categories and problem counts per cohort, with alarms."""
    from .drift import cohort_index

    if not features.point_in_time:
        raise ValueError("data quality per cohort needs creation times, and this data has no creation times")
    if source.feature_set:
        raise SourceError(str(source.path), [
            "data-quality and drift checks read the raw leads, events and outcome tables; this is a feature set "
            "computed in the warehouse (per-lead rows only): run `leadcal drift` where the tables are"])
    rows = completeness(source, config, grain)
    problems = problems_by_cohort(source, config, grain)
    rows = [replace(row, problems=problems.get(row.cohort, {})) for row in rows]
    cohorts, starts = cohort_index(features.created_at, grain)
    unnamed = unnamed_values(config, features, cohorts, starts)
    alarms = []
    for row in rows:
        if row.leads < MIN_ROWS:
            continue
        for col, share in row.filled.items():
            if share is not None and share < threshold:
                alarms.append(Alarm(cohort=row.cohort, column=col, problem="completeness", value=share,
                                    message=f"{row.cohort}: {col} filled in only {share:.0%} "
                                    f"of {row.leads:,} leads (alarm below {threshold:.0%})"))
        p = row.problems
        for key, base, what in (("duplicate_ids", row.leads, "duplicate lead id rows"),
                                ("conversion_before_creation", row.leads, "conversions dated before creation"),
                                ("unknown_lead_events", p.get("events", 0), "events of unknown leads")):
            if p.get(key) and base and p[key] / base > PROBLEM_ALARM:
                alarms.append(Alarm(cohort=row.cohort, column=key, problem=key, value=p[key] / base,
                                    message=f"{row.cohort}: {p[key]:,} {what} ({p[key] / base:.1%})"))
    covered = {r.cohort for r in rows}
    for cohort, p in sorted(problems.items()):  # event-only cohorts (e.g. events before any lead)
        if cohort not in covered and p.get("unknown_lead_events", 0) > 0:
            base = p.get("events", 0)
            if base and p["unknown_lead_events"] / base > PROBLEM_ALARM:
                alarms.append(Alarm(cohort=cohort, column="unknown_lead_events", problem="unknown_lead_events",
                                    value=p["unknown_lead_events"] / base,
                                    message=f"{cohort}: {p['unknown_lead_events']:,} events of unknown leads"))
    return QualityByCohort(grain=grain, threshold=threshold, columns=lead_columns(config), cohorts=rows,
                           unnamed_values=unnamed, findings=list(features.quality.complete_report().findings), alarms=alarms)
