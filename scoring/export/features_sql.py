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
- ``leadcal_act_<hash>`` per signal (``activity_column``): its decayed sum, 0 without events;
- ``leadcal_outcome``: how the outcome was judged (``outcome_rule``), checked when the set is read;
- ``leadcal_open`` (won / lost / open outcomes only): still open at the data's end.

The outcome (``outcome_columns``) follows the extraction's rules in every form, so converted,
mature and open are the same per lead as ``extract_features`` gives on the tables.

The column names are the feature set's contract, defined where it is read (``scoring.feature_set``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ..data.feature_set import OPEN, OUTCOME, PREFIX, activity_column, outcome_rule
from ..model.config import ScoringConfig, normalise_value
from ..model.features import FeatureSpec, feature_spec
from .sql import (
    _ACTIVITY,
    _DATA_END,
    _DOUBLE,
    _EVENTS,
    _LEADS,
    DAY_US,
    _activity_cte,
    _add_micros,
    _and,
    _case,
    _cte_table,
    _data_end_cte,
    _events_cte,
    _in,
    _num,
    _ref,
    _str,
    _ts,
    _user_col,
    _user_table,
    check_exportable,
    render,
)

_RANKED = "leadcal_ranked_leads"
_OUTCOMES = "leadcal_outcomes"
_BOOL = exp.DataType.build("BOOLEAN")
_ISFINITE = "ISFINITE"
INFINITE_TIMES = ("duckdb", "postgres")
"""Dialects whose timestamps can be ``infinity`` / ``-infinity`` (elsewhere every time is finite)."""


def _states(config: ScoringConfig) -> bool:
    """A won / lost / open column (alone or with a conversion time): the three-state outcome."""
    return config.source.outcome.converted is not None


def _finite(expr: exp.Expression) -> exp.Expression:
    """A time, NULL when it is ``infinity`` / ``-infinity`` (no moment: missing, as the extraction reads it).

    Rendered as ``CASE WHEN ISFINITE(t) THEN t END`` where a dialect has infinite times;
    ``_without_isfinite`` reduces it to ``t`` for the others.
    """
    return exp.Case(ifs=[exp.If(this=exp.Anonymous(this=_ISFINITE, expressions=[expr]), true=expr.copy())])


def _without_isfinite(tree: exp.Expression, dialect: str) -> exp.Expression:
    """The tree for ``dialect``: ``_finite(t)`` is just ``t`` where no time is infinite."""
    if dialect in INFINITE_TIMES:
        return tree

    def swap(node: exp.Expression) -> exp.Expression:
        ifs = node.args.get("ifs") if isinstance(node, exp.Case) else None
        if ifs and len(ifs) == 1 and isinstance(ifs[0].this, exp.Anonymous) and ifs[0].this.name == _ISFINITE:
            return ifs[0].args["true"]
        return node

    return tree.transform(swap)


def _or(*conds: exp.Expression) -> exp.Expression:
    """``(a OR b OR ...)``, parenthesised so it nests safely in an AND."""
    out = conds[0]
    for c in conds[1:]:
        out = exp.Or(this=out, expression=c)
    return exp.Paren(this=out) if len(conds) > 1 else out


def _is_null(expr: exp.Expression) -> exp.Expression:
    return exp.Is(this=expr, expression=exp.null())


def _not_null(expr: exp.Expression) -> exp.Expression:
    return exp.Not(this=_is_null(expr))


def _ranked_cte(config: ScoringConfig, spec: FeatureSpec, missing: list[str]) -> exp.Select:
    """Leads with an id, their attributes as the engine keeps them, numbered within each id."""
    leads, out = config.source.leads, config.source.outcome
    select = [_user_col(leads.id, "l").as_("lead_key"),
              _finite(_ts(_user_col(leads.created_at, "l"))).as_("created_ts")]
    for i, column in enumerate(spec.categorical):
        text = exp.Trim(this=exp.cast(_user_col(column, "l"), exp.DataType.build("TEXT")))
        select.append(_case([(_in(exp.Lower(this=text.copy()), missing), exp.null())], text).as_(f"cat_{i}"))
    for i, column in enumerate(spec.numeric):
        select.append(exp.cast(_user_col(column, "l"), _DOUBLE).as_(f"num_{i}"))
    if out.table is None:  # the outcome of the lead's own (earliest created) row
        if out.converted is not None:
            select.append(exp.cast(_user_col(out.converted, "l"), _BOOL).as_("flag"))
        if out.converted_at is not None:
            select.append(_finite(_ts(_user_col(out.converted_at, "l"))).as_("converted_raw"))
    row_no = exp.Window(
        this=exp.RowNumber(),
        partition_by=[_user_col(leads.id, "l")],
        order=exp.Order(expressions=[exp.Ordered(this=_user_col(leads.created_at, "l"), nulls_first=False)]),
    )
    select.append(row_no.as_("row_no"))
    return (exp.select(*select).from_(_user_table(leads.table, "l"))
            .where(_not_null(_user_col(leads.id, "l"))))


def _outcomes_cte(config: ScoringConfig) -> exp.Select:
    """A separate outcome table, one row per lead it names.

    ``converted_ts``: the earliest conversion time not after the data's end; with states,
    ``flag``: won if any of the lead's rows is won, else open (NULL) if any is open, else
    lost, and ``named`` (TRUE: a lead without a row is not open).
    """
    out = config.source.outcome
    assert out.table is not None
    select = [_user_col(out.lead_id, "o").as_("lead_key")]
    query = (exp.select().from_(_user_table(out.table, "o")).join(_cte_table(_DATA_END, "d"), join_type="cross")
             .group_by(_user_col(out.lead_id, "o")))
    if out.converted_at is not None:
        conv = _finite(_ts(_user_col(out.converted_at, "o")))
        in_data = exp.LTE(this=conv, expression=_ref("data_end", "d"))
        if out.converted is None:  # a time alone: rows after the data's end say nothing
            select.append(exp.Min(this=conv.copy()).as_("converted_ts"))
            return query.select(*select).where(in_data)
        select.append(exp.Min(this=_case([(in_data, conv.copy())], None)).as_("converted_ts"))
    if out.converted is not None:
        flag = exp.cast(_user_col(out.converted, "o"), _BOOL)
        some_open = exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Count(this=flag.copy()))
        select.append(_case([(exp.LogicalOr(this=flag.copy()), exp.true()), (some_open, exp.null())], exp.false())
                      .as_("flag"))
        select.append(exp.true().as_("named"))
    return query.select(*select)


def _leads_cte(config: ScoringConfig, spec: FeatureSpec) -> exp.Select:
    """One row per scorable lead: the columns ``_events_cte`` reads plus everything the outcome needs.

    ``converted_ts`` (the conversion time not after the data's end; with a won / lost / open
    column the date of the lead's outcome) cuts the events as the extraction does;
    ``flag`` and ``named`` are there for a three-state outcome.
    """
    out = config.source.outcome
    sp_us = round(spec.scoring_point_days * DAY_US)
    select = [_ref("lead_key", "r").as_("lead_key"), _ref("created_ts", "r").as_("created_ts"),
              _add_micros(_ref("created_ts", "r"), sp_us).as_("scoring_ts")]
    query = exp.select().from_(_cte_table(_RANKED, "r")).join(_cte_table(_DATA_END, "d"), join_type="cross")
    if out.converted_at is None:  # no time: nothing cuts the events
        select.append(_ts(exp.null()).as_("converted_ts"))
    elif out.table is not None:
        select.append(_ref("converted_ts", "c").as_("converted_ts"))
    else:
        raw = _ref("converted_raw", "r")
        select.append(_case([(exp.LTE(this=raw, expression=_ref("data_end", "d")), raw.copy())], None)
                      .as_("converted_ts"))
    if _states(config):
        select.append(_ref("flag", "r" if out.table is None else "c").as_("flag"))
        if out.table is not None:
            select.append(_ref("named", "c").as_("named"))
    if out.table is not None:
        query = query.join(_cte_table(_OUTCOMES, "c"),
                           on=exp.EQ(this=_ref("lead_key", "r"), expression=_ref("lead_key", "c")),
                           join_type="left")
    select.append(_ref("data_end", "d").as_("data_end"))
    select += [_ref(f"cat_{i}", "r").as_(f"cat_{i}") for i in range(len(spec.categorical))]
    select += [_ref(f"num_{i}", "r").as_(f"num_{i}") for i in range(len(spec.numeric))]
    return query.select(*select).where(_and(
        exp.EQ(this=_ref("row_no", "r"), expression=_num(1)),
        _not_null(_ref("created_ts", "r")),
    ))


@dataclass(frozen=True)
class OutcomeColumns:
    """The outcome of a lead row ``b`` as SQL expressions."""

    converted: exp.Expression
    mature: exp.Expression
    open: exp.Expression | None
    """Still open (three-state outcomes only; None for a conversion time alone)."""


def outcome_columns(config: ScoringConfig, spec: FeatureSpec) -> OutcomeColumns:
    """(converted, mature, open) of a lead row ``b``: the one place the outcome model lives.

    The rules of the extraction (``scoring.data.extract.outcome_sql``), every value TRUE or FALSE:

    - a conversion time alone: converted when it falls before scoring point + window;
      mature when that moment is at or before the data's end;
    - a won / lost / open column: won converted, lost not, both mature; with a conversion
      time too, a win dated after the window is not converted (a win without a date is);
      open (NULL) is immature, never lost, unless ``open_lost_after_days`` counts it lost
      that many days after creation;
    - with a separate outcome table, a lead it does not name has not converted and is
      mature once its window has passed, never open.
    """
    out = config.source.outcome
    deadline = _add_micros(_ref("scoring_ts", "b"), round(spec.outcome_window_days * DAY_US))
    passed = exp.Coalesce(this=exp.LTE(this=deadline, expression=_ref("data_end", "b")), expressions=[exp.false()])
    if not _states(config):
        converted = _and(_not_null(_ref("converted_ts", "b")),
                         exp.LT(this=_ref("converted_ts", "b"), expression=deadline.copy()))
        return OutcomeColumns(converted, passed, None)
    flag = _ref("flag", "b")
    won = flag.copy()
    if out.converted_at is not None:  # a dated win counts only inside the window
        won = _and(won, _or(_is_null(_ref("converted_ts", "b")),
                            exp.LT(this=_ref("converted_ts", "b"), expression=deadline.copy())))
    converted = exp.Coalesce(this=won, expressions=[exp.false()])
    is_open = _is_null(flag.copy())
    known = [_not_null(flag.copy())]
    if out.table is not None:  # a lead the outcome table does not name is not open
        is_open = _and(is_open, _not_null(_ref("named", "b")))
        known.append(exp.Paren(this=_and(_is_null(_ref("named", "b")), passed.copy())))
    if out.open_lost_after_days is not None:  # stale open leads count as lost, as asked
        stale = _add_micros(_ref("created_ts", "b"), round(out.open_lost_after_days * DAY_US))
        known.append(exp.Paren(this=_and(is_open.copy(), exp.Coalesce(
            this=exp.LTE(this=stale, expression=_ref("data_end", "b")), expressions=[exp.false()]))))
    return OutcomeColumns(converted, _or(*known), is_open)


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
        ctes.append((_OUTCOMES, _outcomes_cte(config)))
    ctes.append((_LEADS, _leads_cte(config, spec)))
    if signals:
        ctes += [(_EVENTS, _events_cte(config, signals)), (_ACTIVITY, _activity_cte(signals))]

    outcome = outcome_columns(config, spec)
    select = [
        _ref("lead_key", "b").as_("leadcal_lead_id"),
        _ref("created_ts", "b").as_("leadcal_created_at"),
        _ref("scoring_ts", "b").as_("leadcal_scored_at"),
        outcome.converted.as_("leadcal_converted"),
        outcome.mature.as_("leadcal_mature"),
        _ref("data_end", "b").as_("leadcal_data_end"),
        exp.cast(_num(spec.outcome_window_days), _DOUBLE).as_("leadcal_outcome_window_days"),
    ]
    select += [_ref(f"cat_{i}", "b").as_(exp.to_identifier(c, quoted=True)) for i, c in enumerate(spec.categorical)]
    select += [_ref(f"num_{i}", "b").as_(exp.to_identifier(c, quoted=True)) for i, c in enumerate(spec.numeric)]
    for signal in spec.signals:
        value = exp.Coalesce(this=_ref(signals[(signal.events, signal.decay)], "a"),
                             expressions=[exp.cast(_num(0), _DOUBLE)])
        select.append(value.as_(activity_column(signal)))
    select.append(_str(outcome_rule(config.source.outcome)).as_(OUTCOME))
    if outcome.open is not None:
        select.append(outcome.open.as_(OPEN))
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
    tree = _without_isfinite(build_features_query(config), dialect)
    return _header(config, feature_spec(config), dialect) + render(tree, dialect) + "\n"
