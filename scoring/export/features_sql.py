"""The point-in-time feature query, for the warehouse: one row per lead, ready to calibrate on.

A company with hundreds of millions of events keeps them in a warehouse. This query runs
there and returns what leadcal's feature extraction (``scoring.data.extract``) computes, per
lead: creation time, scoring point, outcome and maturity, each fit attribute, and each
engagement signal (a set of event types under one decay) summed and decayed to the
scoring point. Store its result as Parquet and point leadcal at the folder
(``scoring.feature_set``): only per-lead rows leave the warehouse.

Built like the scoring query (``scoring.export.sql``, whose CTEs it shares): one sqlglot
tree rendered for DuckDB, PostgreSQL, Snowflake, BigQuery and Spark; the user's names
quoted, values as literals, the same point in time, data end, deduplication and decay.

Columns (``FIXED`` first, every one named by leadcal, never by a value):

- ``leadcal_lead_id``, ``leadcal_created_at``, ``leadcal_scored_at``,
  ``leadcal_converted``, ``leadcal_mature``, ``leadcal_data_end``,
  ``leadcal_outcome_window_days`` (the window the outcome was judged on);
- each fit or segment column under its own (mapped) name: categorical ones as trimmed
  text (NULL when missing or a missing marker), numeric ones as DOUBLE;
- ``leadcal_act_<hash>`` per signal (``activity_column``): its decayed sum, 0 without events.

The column names are the feature set's contract, defined where it is read (``scoring.feature_set``).
"""

from __future__ import annotations

from sqlglot import exp

from ..data.feature_set import PREFIX, activity_column
from ..model.config import ScoringConfig, normalise_value
from ..model.features import FeatureSpec, feature_spec
from .sql import (
    _ACTIVITY,
    _CONVERSIONS,
    _DATA_END,
    _DOUBLE,
    _EVENTS,
    _LEADS,
    DAY_US,
    _activity_cte,
    _add_micros,
    _and,
    _case,
    _conversions_cte,
    _cte_table,
    _data_end_cte,
    _events_cte,
    _in,
    _num,
    _ref,
    _ts,
    _user_col,
    _user_table,
    check_exportable,
    render,
)

_RANKED = "leadcal_ranked_leads"
_FLAGS = "leadcal_outcome_flags"
_BOOL = exp.DataType.build("BOOLEAN")


def _flag_mode(config: ScoringConfig) -> bool:
    """A yes/no outcome column instead of a conversion time."""
    return config.source.outcome.converted is not None


def _ranked_cte(config: ScoringConfig, spec: FeatureSpec, missing: list[str]) -> exp.Select:
    """Leads with an id, their attributes as the engine keeps them, numbered within each id."""
    leads, out = config.source.leads, config.source.outcome
    select = [_user_col(leads.id, "l").as_("lead_key"), _ts(_user_col(leads.created_at, "l")).as_("created_ts")]
    for i, column in enumerate(spec.categorical):
        text = exp.Trim(this=exp.cast(_user_col(column, "l"), exp.DataType.build("TEXT")))
        select.append(_case([(_in(exp.Lower(this=text.copy()), missing), exp.null())], text).as_(f"cat_{i}"))
    for i, column in enumerate(spec.numeric):
        select.append(exp.cast(_user_col(column, "l"), _DOUBLE).as_(f"num_{i}"))
    if out.table is None:
        if _flag_mode(config):
            select.append(exp.cast(_user_col(out.converted, "l"), _BOOL).as_("flag"))
        else:
            select.append(_ts(_user_col(out.converted_at, "l")).as_("converted_raw"))
    row_no = exp.Window(
        this=exp.RowNumber(),
        partition_by=[_user_col(leads.id, "l")],
        order=exp.Order(expressions=[exp.Ordered(this=_user_col(leads.created_at, "l"), nulls_first=False)]),
    )
    select.append(row_no.as_("row_no"))
    return (exp.select(*select).from_(_user_table(leads.table, "l"))
            .where(exp.Not(this=exp.Is(this=_user_col(leads.id, "l"), expression=exp.null()))))


def _flags_cte(config: ScoringConfig) -> exp.Select:
    """A yes/no outcome table: true when any of the lead's rows says converted (NULL: open)."""
    out = config.source.outcome
    flag = exp.LogicalOr(this=exp.cast(_user_col(out.converted, "o"), _BOOL))
    return (exp.select(_user_col(out.lead_id, "o").as_("lead_key"), flag.as_("flag"))
            .from_(_user_table(out.table, "o")).group_by(_user_col(out.lead_id, "o")))


def _leads_cte(config: ScoringConfig, spec: FeatureSpec) -> exp.Select:
    """One row per scorable lead: the columns ``_events_cte`` reads plus everything the outcome needs."""
    out = config.source.outcome
    sp_us = round(spec.scoring_point_days * DAY_US)
    select = [_ref("lead_key", "r").as_("lead_key"), _ref("created_ts", "r").as_("created_ts"),
              _add_micros(_ref("created_ts", "r"), sp_us).as_("scoring_ts")]
    query = exp.select().from_(_cte_table(_RANKED, "r")).join(_cte_table(_DATA_END, "d"), join_type="cross")
    on = exp.EQ(this=_ref("lead_key", "r"), expression=_ref("lead_key", "c"))
    if _flag_mode(config):
        select.append(_ts(exp.null()).as_("converted_ts"))  # no time: nothing cuts the events
        if out.table is None:
            select.append(_ref("flag", "r").as_("flag"))
        else:
            select.append(_ref("flag", "c").as_("flag"))
            query = query.join(_cte_table(_FLAGS, "c"), on=on, join_type="left")
    elif out.table is not None:
        select.append(_ref("converted_ts", "c").as_("converted_ts"))
        query = query.join(_cte_table(_CONVERSIONS, "c"), on=on, join_type="left")
    else:
        raw = _ref("converted_raw", "r")
        select.append(_case([(exp.LTE(this=raw, expression=_ref("data_end", "d")), raw.copy())], None)
                      .as_("converted_ts"))
    select.append(_ref("data_end", "d").as_("data_end"))
    select += [_ref(f"cat_{i}", "r").as_(f"cat_{i}") for i in range(len(spec.categorical))]
    select += [_ref(f"num_{i}", "r").as_(f"num_{i}") for i in range(len(spec.numeric))]
    return query.select(*select).where(_and(
        exp.EQ(this=_ref("row_no", "r"), expression=_num(1)),
        exp.Not(this=exp.Is(this=_ref("created_ts", "r"), expression=exp.null())),
    ))


def outcome_columns(config: ScoringConfig, spec: FeatureSpec) -> tuple[exp.Expression, exp.Expression]:
    """(converted, mature) of a lead row ``b``: the one place the outcome model lives.

    As ``scoring.data.extract``: with a conversion time, converted means before scoring point
    + window and mature means that moment is at or before the data's end; with a yes/no
    column, a known outcome (won or lost) is mature and an open one (NULL) is not.
    """
    if _flag_mode(config):
        flag = _ref("flag", "b")
        return (exp.Coalesce(this=flag, expressions=[exp.false()]),
                exp.Not(this=exp.Is(this=flag.copy(), expression=exp.null())))
    deadline = _add_micros(_ref("scoring_ts", "b"), round(spec.outcome_window_days * DAY_US))
    converted = _and(exp.Not(this=exp.Is(this=_ref("converted_ts", "b"), expression=exp.null())),
                     exp.LT(this=_ref("converted_ts", "b"), expression=deadline))
    mature = exp.Coalesce(this=exp.LTE(this=deadline.copy(), expression=_ref("data_end", "b")),
                          expressions=[exp.false()])
    return converted, mature


def build_features_query(config: ScoringConfig) -> exp.Select:
    """The feature query as a sqlglot tree (render with ``export_features_sql``)."""
    spec = feature_spec(config)
    for column in (*spec.categorical, *spec.numeric):
        if column.lower().startswith(PREFIX):
            raise ValueError(f"column '{column}': names starting with '{PREFIX}' are leadcal's own in the "
                             "feature set; rename or alias it in the warehouse")
    signals = {(s.events, s.decay): f"act_{i}" for i, s in enumerate(spec.signals)}
    if signals and config.source.events is None:
        raise ValueError("engagement rules count events, but source.events is not mapped to a table")
    missing = [normalise_value(v) for v in config.source.missing_values]
    ctes: list[tuple[str, exp.Expression]] = [(_DATA_END, _data_end_cte(config)),
                                              (_RANKED, _ranked_cte(config, spec, missing))]
    out = config.source.outcome
    if out.table is not None:
        ctes.append((_FLAGS, _flags_cte(config)) if _flag_mode(config) else (_CONVERSIONS, _conversions_cte(config)))
    ctes.append((_LEADS, _leads_cte(config, spec)))
    if signals:
        ctes += [(_EVENTS, _events_cte(config, signals)), (_ACTIVITY, _activity_cte(signals))]

    converted, mature = outcome_columns(config, spec)
    select = [
        _ref("lead_key", "b").as_("leadcal_lead_id"),
        _ref("created_ts", "b").as_("leadcal_created_at"),
        _ref("scoring_ts", "b").as_("leadcal_scored_at"),
        converted.as_("leadcal_converted"),
        mature.as_("leadcal_mature"),
        _ref("data_end", "b").as_("leadcal_data_end"),
        exp.cast(_num(spec.outcome_window_days), _DOUBLE).as_("leadcal_outcome_window_days"),
    ]
    select += [_ref(f"cat_{i}", "b").as_(exp.to_identifier(c, quoted=True)) for i, c in enumerate(spec.categorical)]
    select += [_ref(f"num_{i}", "b").as_(exp.to_identifier(c, quoted=True)) for i, c in enumerate(spec.numeric)]
    for signal in spec.signals:
        value = exp.Coalesce(this=_ref(signals[(signal.events, signal.decay)], "a"),
                             expressions=[exp.cast(_num(0), _DOUBLE)])
        select.append(value.as_(activity_column(signal)))
    query = exp.select(*select).from_(_cte_table(_LEADS, "b"))
    if signals:
        query = query.join(_cte_table(_ACTIVITY, "a"),
                           on=exp.EQ(this=_ref("lead_key", "b"), expression=_ref("lead_key", "a")), join_type="left")
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return query


def _header(config: ScoringConfig, spec: FeatureSpec, dialect: str) -> str:
    name = "".join(ch if " " <= ch <= "~" else "?" for ch in config.name)
    lines = [
        f"leadcal point-in-time features for model '{name}' - generated by leadcal for {dialect}; do not edit.",
        f"One row per lead, scored {spec.scoring_point_days:g} days after creation, outcome within "
        f"{spec.outcome_window_days:g} days after that.",
        "Store the result as Parquet and calibrate on it: LEADCAL_DB=/path/to/folder (or --db FOLDER).",
        "Activity columns, each a decayed sum of events before the scoring point:",
    ]
    lines += [f"  {activity_column(s)}: {', '.join(s.events)} | {':'.join(str(x) for x in s.decay)}"
              for s in spec.signals]
    return "".join("-- " + "".join(ch if " " <= ch <= "~" else "?" for ch in line) + "\n" for line in lines)


def export_features_sql(config: ScoringConfig, dialect: str = "duckdb") -> str:
    """The feature query of ``config`` in ``dialect`` (one SELECT with CTEs), with a header."""
    check_exportable(config, dialect)
    return _header(config, feature_spec(config), dialect) + render(build_features_query(config), dialect) + "\n"
