"""Export an approved config as one SQL query for the user's warehouse.

Production scoring runs where the leads live, so the SQL must give exactly the scores
the engine gives (``scoring.data.extract`` + ``scoring.model.engine``): same point in time, same
data end, same dedup of leads, same decay, caps, segments and tiers.

The query is built once as a sqlglot expression tree and rendered to each dialect;
nothing the user typed (table and column names, event types, category values, missing
markers) is pasted into SQL text: names become quoted identifiers, values string
literals, and sqlglot quotes and escapes them for the target dialect.

Time arithmetic is the part dialects disagree on. Every timestamp is cast to a naive
timestamp (DuckDB ``TIMESTAMP``, BigQuery ``DATETIME``, Snowflake ``TIMESTAMP_NTZ``,
Spark ``TIMESTAMP_NTZ``) and only two operations are used, each rendered by sqlglot:
adding the scoring point as a whole number of seconds (microseconds when the days do
not make whole seconds), and the difference of two timestamps in microseconds (an
exact integer, divided by a day's microseconds to get an event's age in days, as the
engine does).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from sqlglot import ErrorLevel, exp

from ..model.config import Cap, CategoricalFit, EngagementRule, NumericFit, ScoringConfig, decay_key, normalise_value

DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "spark")
"""The SQL dialects ``export_sql`` renders."""

DAY_US = 86_400_000_000
_SECOND_US = 1_000_000

_TS = exp.DataType.build("TIMESTAMP", dialect="duckdb")  # a naive timestamp (NTZ)
_DOUBLE = exp.DataType.build("DOUBLE")
_TEXT = exp.DataType.build("TEXT")

# CTE names carry a prefix so they never shadow a user's table of the same name.
_DATA_END = "leadcal_data_end"
_RANKED = "leadcal_ranked_leads"
_CONVERSIONS = "leadcal_conversions"
_LEADS = "leadcal_leads"
_EVENTS = "leadcal_events"
_ACTIVITY = "leadcal_activity"
_PARTS = "leadcal_parts"
_SCORES = "leadcal_scores"


# --------------------------------------------------------------------------- small builders


def _user_col(name: str, table: str) -> exp.Column:
    """A user's column, quoted, qualified by an internal table alias."""
    return exp.Column(this=exp.to_identifier(name, quoted=True), table=exp.to_identifier(table))


def _user_table(name: str, alias: str) -> exp.Table:
    """A user's table, quoted, with an internal alias."""
    return exp.Table(this=exp.to_identifier(name, quoted=True),
                     alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _cte_table(name: str, alias: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(name), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _ref(name: str, table: str | None = None) -> exp.Column:
    """An internal (generated, unquoted) column."""
    return exp.column(name, table)


def _num(value: float) -> exp.Expression:
    """A number: an integer literal when exact, else a DOUBLE (never a decimal literal)."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot export {value!r} to SQL: numbers in the config must be finite")
    if value.is_integer() and abs(value) < 2**53:
        return exp.Literal.number(int(value))
    return exp.cast(exp.Literal.number(repr(value)), _DOUBLE)


def _str(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _in(expr: exp.Expression, values: Iterable[str]) -> exp.Expression:
    values = list(dict.fromkeys(values))
    if not values:
        return exp.false()
    return exp.In(this=expr, expressions=[_str(v) for v in values])


def _and(*conds: exp.Expression) -> exp.Expression:
    conds = [c for c in conds if c is not None]
    if not conds:
        return exp.true()
    out = conds[0]
    for c in conds[1:]:
        out = exp.And(this=out, expression=c)
    return out


def _sum(terms: list[exp.Expression]) -> exp.Expression:
    """Left-to-right sum (the engine's order), 0.0 when empty."""
    if not terms:
        return exp.cast(exp.Literal.number(0), _DOUBLE)
    out = terms[0]
    for t in terms[1:]:
        out = exp.Add(this=out, expression=t)
    return out


def _clip(expr: exp.Expression, low: float | None, high: float | None) -> exp.Expression:
    """``least(greatest(x, low), high)``, like ``np.clip``; a None side is open.

    GREATEST / LEAST here (and everywhere in the query) never see a NULL, so whether a
    dialect's version ignores NULLs does not matter; ``ignore_nulls=True`` keeps sqlglot
    from wrapping each call in a NULL-propagating CASE.
    """
    if low is not None:
        expr = exp.Greatest(this=expr, expressions=[_num(low)], ignore_nulls=True)
    if high is not None:
        expr = exp.Least(this=expr, expressions=[_num(high)], ignore_nulls=True)
    return expr


def _clip_cap(expr: exp.Expression, cap: Cap | None) -> exp.Expression:
    if cap is None:
        return expr
    return _clip(expr, cap.min, cap.max)


def _case(ifs: list[tuple[exp.Expression, exp.Expression]], default: exp.Expression | None) -> exp.Expression:
    if not ifs:
        return default if default is not None else exp.null()
    return exp.Case(ifs=[exp.If(this=c, true=v) for c, v in ifs], default=default)


def _ts(expr: exp.Expression) -> exp.Expression:
    return exp.cast(expr, _TS)


def _normalised_text(expr: exp.Expression) -> exp.Expression:
    """``lower(trim(cast(x as text)))``: how values and event types are compared."""
    return exp.Lower(this=exp.Trim(this=exp.cast(expr, _TEXT)))


def _micros_between(start: exp.Expression, end: exp.Expression) -> exp.Expression:
    """``end - start`` in microseconds (an exact integer in every dialect)."""
    return exp.DatetimeDiff(this=end, expression=start, unit=exp.var("MICROSECOND"))


def _add_micros(ts: exp.Expression, micros: int) -> exp.Expression:
    """``ts + micros`` microseconds, as whole seconds when that is exact."""
    if micros % _SECOND_US == 0:
        return exp.DatetimeAdd(this=ts, expression=exp.Literal.number(micros // _SECOND_US),
                               unit=exp.var("SECOND"))
    return exp.DatetimeAdd(this=ts, expression=exp.Literal.number(micros), unit=exp.var("MICROSECOND"))


# --------------------------------------------------------------------------- the query


class _Columns:
    """Internal aliases of the lead attributes the rules read (never the user's names)."""

    def __init__(self, config: ScoringConfig):
        categorical: set[str] = set()
        numeric: set[str] = set()
        for _, rules in config.rule_sets():
            for rule in rules["fit"]:
                (categorical if isinstance(rule, CategoricalFit) else numeric).add(rule.column)
            for rule in rules["engagement"]:
                if rule.column is not None:
                    numeric.add(rule.column)
        for seg in config.segments:
            (categorical if seg.filter.values is not None else numeric).add(seg.filter.column)
        self.categorical = {c: f"cat_{i}" for i, c in enumerate(sorted(categorical))}
        self.numeric = {c: f"num_{i}" for i, c in enumerate(sorted(numeric))}


def _signals(config: ScoringConfig) -> dict[tuple, str]:
    """(normalised event types, decay key) -> activity column, shared like the engine's."""
    keys: set[tuple] = set()
    for _, rules in config.rule_sets():
        for rule in rules["engagement"]:
            if rule.column is None:
                keys.add(_signal_key(config, rule))
    return {k: f"act_{i}" for i, k in enumerate(sorted(keys, key=repr))}


def _signal_key(config: ScoringConfig, rule: EngagementRule) -> tuple:
    events = tuple(sorted({normalise_value(e) for e in rule.events}))
    return events, decay_key(config.rule_decay(rule))


def _decay_weight(decay: tuple, age: exp.Expression) -> exp.Expression:
    kind = decay[0]
    if kind == "exponential":
        return exp.Pow(this=_num(0.5), expression=exp.Div(this=age, expression=_num(decay[1])))
    if kind == "linear":
        return exp.Greatest(
            this=_num(0),
            expressions=[exp.Sub(this=_num(1), expression=exp.Div(this=age, expression=_num(decay[1])))],
            ignore_nulls=True,
        )
    if kind == "window":
        return _case([(exp.LT(this=age, expression=_num(decay[1])), _num(1))], _num(0))
    return _num(1)


def _now() -> exp.Expression:
    return _ts(exp.CurrentTimestamp())


def _data_end_cte(config: ScoringConfig) -> exp.Select:
    """The latest creation, event or conversion time that is not in the future."""
    src = config.source
    parts: list[tuple[str, str]] = [(src.leads.table, src.leads.created_at)]
    if src.events is not None:
        parts.append((src.events.table, src.events.time))
    if src.outcome.converted_at is not None:  # a yes/no outcome has no time
        parts.append((src.outcome.table or src.leads.table, src.outcome.converted_at))
    selects = []
    for table, column in parts:
        t = _ts(_user_col(column, "x"))
        selects.append(
            exp.select(exp.Max(this=t).as_("t"))
            .from_(_user_table(table, "x"))
            .where(exp.LTE(this=t.copy(), expression=_now()))
        )
    union = selects[0]
    for s in selects[1:]:
        union = exp.union(union, s, distinct=False)
    return exp.select(exp.Max(this=_ref("t")).as_("data_end")).from_(union.subquery("times"))


def _ranked_cte(config: ScoringConfig, cols: _Columns, missing: list[str], account: bool = False) -> exp.Select:
    """Leads with an id, numbered by creation time within each id (earliest first).

    ``account``: with the account key as the engine codes it (trimmed text, a missing marker NULL)."""
    leads = config.source.leads
    select = [
        _user_col(leads.id, "l").as_("lead_key"),
        _ts(_user_col(leads.created_at, "l")).as_("created_ts"),
    ]
    if account:
        text = exp.Trim(this=exp.cast(_user_col(leads.account, "l"), _TEXT))
        select.append(_case([(_in(_normalised_text(_user_col(leads.account, "l")), missing), exp.null())],
                            text).as_("account_key"))
    for column, alias in cols.categorical.items():
        value = _normalised_text(_user_col(column, "l"))
        select.append(_case([(_in(value, missing), exp.null())], value.copy()).as_(alias))
    for column, alias in cols.numeric.items():
        select.append(exp.cast(_user_col(column, "l"), _DOUBLE).as_(alias))
    if config.source.outcome.converted_at is None:  # yes/no outcome: no conversion time cuts events
        select.append(_ts(exp.null()).as_("converted_raw"))
    elif config.source.outcome.table is None:
        select.append(_ts(_user_col(config.source.outcome.converted_at, "l")).as_("converted_raw"))
    row_no = exp.Window(
        this=exp.RowNumber(),
        partition_by=[_user_col(leads.id, "l")],
        order=exp.Order(expressions=[exp.Ordered(this=_user_col(leads.created_at, "l"), nulls_first=False)]),
    )
    select.append(row_no.as_("row_no"))
    return (
        exp.select(*select)
        .from_(_user_table(leads.table, "l"))
        .where(exp.Not(this=exp.Is(this=_user_col(leads.id, "l"), expression=exp.null())))
    )


def _conversion_table(config: ScoringConfig) -> bool:
    """Whether conversion times come from a separate outcome table."""
    return config.source.outcome.table is not None and config.source.outcome.converted_at is not None


def _conversions_cte(config: ScoringConfig) -> exp.Select:
    """Earliest conversion per lead among those not after the data's end."""
    out = config.source.outcome
    assert out.table is not None
    conv = _ts(_user_col(out.converted_at, "o"))
    return (
        exp.select(_user_col(out.lead_id, "o").as_("lead_key"), exp.Min(this=conv).as_("converted_ts"))
        .from_(_user_table(out.table, "o"))
        .join(_cte_table(_DATA_END, "d"), join_type="cross")
        .where(exp.LTE(this=conv.copy(), expression=_ref("data_end", "d")))
        .group_by(_user_col(out.lead_id, "o"))
    )


def _segment_condition(segment, cols: _Columns) -> exp.Expression:
    flt = segment.filter
    if flt.values is not None:
        return _in(_ref(cols.categorical[flt.column], "r"), [normalise_value(v) for v in flt.values])
    value = _ref(cols.numeric[flt.column], "r")
    conds = [exp.Not(this=exp.Is(this=value, expression=exp.null()))]
    if flt.min is not None:
        conds.append(exp.GTE(this=value.copy(), expression=_num(flt.min)))
    if flt.max is not None:
        conds.append(exp.LT(this=value.copy(), expression=_num(flt.max)))
    return _and(*conds)


def _leads_cte(config: ScoringConfig, cols: _Columns) -> exp.Select:
    """One row per scorable lead: scoring point, conversion, attributes, segment."""
    sp_us = round(float(config.evaluation.scoring_point_days) * DAY_US)
    select: list[exp.Expression] = [
        _ref("lead_key", "r").as_("lead_key"),
        _add_micros(_ref("created_ts", "r"), sp_us).as_("scoring_ts"),
    ]
    if _conversion_table(config):
        select.append(_ref("converted_ts", "c").as_("converted_ts"))
    else:
        raw = _ref("converted_raw", "r")
        within = exp.LTE(this=raw, expression=_ref("data_end", "d"))
        select.append(_case([(within, raw.copy())], None).as_("converted_ts"))
    for alias in list(cols.categorical.values()) + list(cols.numeric.values()):
        select.append(_ref(alias, "r").as_(alias))
    if config.segments:
        ifs = [(_segment_condition(s, cols), _num(i)) for i, s in enumerate(config.segments)]
        select.append(_case(ifs, _num(-1)).as_("segment_no"))
    query = exp.select(*select).from_(_cte_table(_RANKED, "r"))
    if _conversion_table(config):
        query = query.join(
            _cte_table(_CONVERSIONS, "c"),
            on=exp.EQ(this=_ref("lead_key", "r"), expression=_ref("lead_key", "c")),
            join_type="left",
        )
    else:
        query = query.join(_cte_table(_DATA_END, "d"), join_type="cross")
    return query.where(
        _and(
            exp.EQ(this=_ref("row_no", "r"), expression=_num(1)),
            exp.Not(this=exp.Is(this=_ref("created_ts", "r"), expression=exp.null())),
        )
    )


def _events_cte(config: ScoringConfig, signals: dict[tuple, str]) -> exp.Select:
    """Events that count at each lead's scoring point, with their age in days."""
    ev = config.source.events
    assert ev is not None
    time = _ts(_user_col(ev.time, "e"))
    event_type = _normalised_text(_user_col(ev.type, "e"))
    all_types = sorted({t for events, _ in signals for t in events})
    age = exp.Div(
        this=exp.cast(_micros_between(time.copy(), _ref("scoring_ts", "b")), _DOUBLE),
        expression=exp.Literal.number(DAY_US),
    )
    scoring = _ref("scoring_ts", "b")
    cutoff = exp.Least(
        this=scoring,
        expressions=[exp.Coalesce(this=_ref("converted_ts", "b"), expressions=[scoring.copy()])],
        ignore_nulls=True,
    )
    return (
        exp.select(_ref("lead_key", "b").as_("lead_key"), event_type.as_("event_type"), age.as_("age_days"))
        .from_(_user_table(ev.table, "e"))
        .join(
            _cte_table(_LEADS, "b"),
            on=exp.EQ(this=_user_col(ev.lead_id, "e"), expression=_ref("lead_key", "b")),
            join_type="inner",
        )
        .join(_cte_table(_DATA_END, "d"), join_type="cross")
        .where(
            _and(
                exp.LT(this=time.copy(), expression=cutoff),
                exp.LTE(this=time.copy(), expression=_ref("data_end", "d")),
                _in(event_type.copy(), all_types),
            )
        )
    )


def _activity_cte(signals: dict[tuple, str]) -> exp.Select:
    """Per lead, the decayed sum of each (event types, decay) signal."""
    select: list[exp.Expression] = [_ref("lead_key")]
    for (events, decay), alias in signals.items():
        weight = _decay_weight(decay, _ref("age_days"))
        summed = exp.Sum(this=_case([(_in(_ref("event_type"), events), weight)], None))
        select.append(exp.cast(summed, _DOUBLE).as_(alias))
    return exp.select(*select).from_(exp.to_table(_EVENTS)).group_by(_ref("lead_key"))


def _fit_points(rule: CategoricalFit | NumericFit, cols: _Columns) -> exp.Expression:
    if isinstance(rule, CategoricalFit):
        value = _ref(cols.categorical[rule.column], "b")
        ifs = [(exp.Is(this=value, expression=exp.null()), _num(rule.missing))]
        ifs += [(exp.EQ(this=value.copy(), expression=_str(normalise_value(k))), _num(v))
                for k, v in rule.points.items()]
        return exp.cast(_case(ifs, _num(rule.other)), _DOUBLE)
    value = _ref(cols.numeric[rule.column], "b")
    ifs = [(exp.Is(this=value, expression=exp.null()), _num(rule.missing))]
    for b in rule.bins:
        conds = []
        if b.min is not None:
            conds.append(exp.GTE(this=value.copy(), expression=_num(b.min)))
        if b.max is not None:
            conds.append(exp.LT(this=value.copy(), expression=_num(b.max)))
        ifs.append((_and(*conds), _num(b.points)))
    return exp.cast(_case(ifs, _num(rule.other)), _DOUBLE)


def _engagement_points(rule: EngagementRule, config: ScoringConfig, cols: _Columns,
                       signals: dict[tuple, str]) -> exp.Expression:
    if rule.column is not None:
        activity = exp.Coalesce(this=_ref(cols.numeric[rule.column], "b"), expressions=[_num(0)])
    else:
        activity = exp.Coalesce(this=_ref(signals[_signal_key(config, rule)], "a"), expressions=[_num(0)])
    points = exp.Mul(this=activity, expression=_num(rule.points))
    if rule.cap is not None:
        points = _clip(points, -rule.cap, rule.cap)
    return points


def _parts_cte(config: ScoringConfig, cols: _Columns, signals: dict[tuple, str]) -> exp.Select:
    """Fit and engagement parts (each capped) and the thresholds of each lead's rules."""

    def fit(rules) -> exp.Expression:
        return _sum([_fit_points(r, cols) for r in rules])

    def engagement(rules) -> exp.Expression:
        return _sum([_engagement_points(r, config, cols, signals) for r in rules])

    def by_segment(model: exp.Expression, own: list[exp.Expression | None]) -> exp.Expression:
        ifs = [(exp.EQ(this=_ref("segment_no", "b"), expression=_num(i)), e)
               for i, e in enumerate(own) if e is not None]
        return _case(ifs, model) if ifs else model

    segs = config.segments
    fit_expr = by_segment(fit(config.fit), [None if s.fit is None else fit(s.fit) for s in segs])
    eng_expr = by_segment(engagement(config.engagement),
                          [None if s.engagement is None else engagement(s.engagement) for s in segs])
    mql = by_segment(_num(config.thresholds.mql),
                     [None if s.thresholds is None else _num(s.thresholds.mql) for s in segs])
    sql = by_segment(_num(config.thresholds.sql),
                     [None if s.thresholds is None else _num(s.thresholds.sql) for s in segs])
    query = exp.select(
        _ref("lead_key", "b").as_("lead_key"),
        _ref("scoring_ts", "b").as_("scoring_ts"),
        _clip_cap(fit_expr, config.caps.fit).as_("fit_score"),
        _clip_cap(eng_expr, config.caps.engagement).as_("engagement_score"),
        mql.as_("mql_threshold"),
        sql.as_("sql_threshold"),
    ).from_(_cte_table(_LEADS, "b"))
    if signals:
        query = query.join(
            _cte_table(_ACTIVITY, "a"),
            on=exp.EQ(this=_ref("lead_key", "b"), expression=_ref("lead_key", "a")),
            join_type="left",
        )
    return query


def build_query(config: ScoringConfig, account: bool = False) -> exp.Select:
    """The scoring query as a sqlglot tree (dialect-neutral; render with ``export_sql``).

    ``account``: its leads CTE also carries the account key (for ``build_account_query``)."""
    cols = _Columns(config)
    signals = _signals(config)
    if signals and config.source.events is None:
        raise ValueError("engagement rules count events, but source.events is not mapped to a table")
    missing = [normalise_value(v) for v in config.source.missing_values]

    ctes: list[tuple[str, exp.Expression]] = [
        (_DATA_END, _data_end_cte(config)),
        (_RANKED, _ranked_cte(config, cols, missing, account)),
    ]
    if _conversion_table(config):
        ctes.append((_CONVERSIONS, _conversions_cte(config)))
    ctes.append((_LEADS, _leads_cte(config, cols)))
    if signals:
        ctes.append((_EVENTS, _events_cte(config, signals)))
        ctes.append((_ACTIVITY, _activity_cte(signals)))
    ctes.append((_PARTS, _parts_cte(config, cols, signals)))
    total = _clip_cap(exp.Add(this=_ref("fit_score"), expression=_ref("engagement_score")), config.caps.total)
    ctes.append((
        _SCORES,
        exp.select(_ref("lead_key"), _ref("scoring_ts"), _ref("fit_score"), _ref("engagement_score"),
                   total.as_("score"), _ref("mql_threshold"), _ref("sql_threshold"))
        .from_(exp.to_table(_PARTS)),
    ))
    tier = _case(
        [
            (exp.GTE(this=_ref("score"), expression=_ref("sql_threshold")), _str("sql")),
            (exp.GTE(this=_ref("score"), expression=_ref("mql_threshold")), _str("mql")),
        ],
        _str("below_mql"),
    )
    query = exp.select(
        _ref("lead_key").as_("lead_id"),
        _ref("scoring_ts").as_("scored_at"),
        _ref("fit_score"),
        _ref("engagement_score"),
        _ref("score"),
        tier.as_("tier"),
    ).from_(exp.to_table(_SCORES))
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return query


_LEAD_SCORES = "leadcal_lead_scores"
_ACCOUNT_LEADS = "leadcal_account_leads"
_ACCOUNTS = "leadcal_accounts"
_ACCOUNT_COUNTED = "leadcal_account_counted"


def build_account_query(config: ScoringConfig) -> exp.Select:
    """The account scoring query: one row per account, its scoring point, score and tier (``scoring.model.accounts``).

    The lead query's CTEs, its result as one more CTE, then: each account's scoring point (its first
    lead's creation + ``accounts.scoring_point_days``), the leads scored by then, and their max, capped
    sum or top-k mean.
    """
    acc = config.accounts
    if acc is None or config.source.leads.account is None:
        raise ValueError("this model scores no accounts: map source.leads.account and add an 'accounts' section")
    leads_query = build_query(config, account=True)
    ctes = [(c.alias, c.this) for c in leads_query.args["with_"].expressions]
    leads_query.set("with_", None)
    ctes.append((_LEAD_SCORES, leads_query))
    ctes.append((_ACCOUNT_LEADS, exp.select(_ref("account_key", "r"), _ref("score", "s"), _ref("scored_at", "s"),
                                            _ref("created_ts", "r"))
                 .from_(_cte_table(_LEAD_SCORES, "s"))
                 .join(_cte_table(_RANKED, "r"), on=_and(
                     exp.EQ(this=_ref("lead_key", "r"), expression=_ref("lead_id", "s")),
                     exp.EQ(this=_ref("row_no", "r"), expression=_num(1))), join_type="inner")
                 .where(exp.Not(this=exp.Is(this=_ref("account_key", "r"), expression=exp.null())))))
    sp_us = round(float(acc.scoring_point_days) * DAY_US)
    ctes.append((_ACCOUNTS, exp.select(_ref("account_key"),
                                       _add_micros(exp.Min(this=_ref("created_ts")), sp_us).as_("account_scored_at"))
                 .from_(exp.to_table(_ACCOUNT_LEADS)).group_by(_ref("account_key"))))
    rank = exp.Window(this=exp.RowNumber(), partition_by=[_ref("account_key", "a")],
                      order=exp.Order(expressions=[exp.Ordered(this=_ref("score", "l"), desc=True)]))
    ctes.append((_ACCOUNT_COUNTED, exp.select(_ref("account_key", "a"), _ref("account_scored_at", "a"),
                                              _ref("score", "l"), rank.as_("score_rank"))
                 .from_(_cte_table(_ACCOUNT_LEADS, "l"))
                 .join(_cte_table(_ACCOUNTS, "a"), on=exp.EQ(this=_ref("account_key", "l"),
                                                             expression=_ref("account_key", "a")), join_type="inner")
                 .where(exp.LTE(this=_ref("scored_at", "l"), expression=_ref("account_scored_at", "a")))))
    score = _ref("score")
    if acc.method == "max":
        value = exp.Max(this=score)
    elif acc.method == "sum":
        value = exp.Sum(this=score)
        if acc.cap is not None:
            value = exp.Least(this=value, expressions=[_num(acc.cap)], ignore_nulls=True)
    else:
        value = exp.Avg(this=_case([(exp.LTE(this=_ref("score_rank"), expression=_num(acc.k)), score.copy())], None))
    scored = (exp.select(_ref("account_key"), _ref("account_scored_at"), value.as_("account_score"))
              .from_(exp.to_table(_ACCOUNT_COUNTED)).group_by(_ref("account_key"), _ref("account_scored_at")))
    tier = _case([(exp.GTE(this=_ref("account_score"), expression=_num(acc.thresholds.sql)), _str("sqa")),
                  (exp.GTE(this=_ref("account_score"), expression=_num(acc.thresholds.mql)), _str("mqa"))],
                 _str("below_mqa"))
    query = exp.select(_ref("account_key").as_("account"), _ref("account_scored_at").as_("scored_at"),
                       _ref("account_score"), tier.as_("tier")).from_(scored.subquery("leadcal_account_scores"))
    for name, cte in ctes:
        query = query.with_(name, as_=cte)
    return query


def export_account_sql(config: ScoringConfig, dialect: str = "duckdb") -> str:
    """One SELECT giving the engine's account scores, in ``dialect``: ``account, scored_at, account_score, tier``."""
    check_exportable(config, dialect)
    name = _UNPRINTABLE.sub("?", config.name)
    acc = config.accounts
    head = (f"-- leadcal account scores of model '{name}' - generated by leadcal for {dialect}; do not edit by hand.\n"
            "-- One row per account: account; scored_at, its first lead's creation + "
            f"{float(acc.scoring_point_days) if acc else 0:g} days;\n"
            f"-- account_score, the {acc.method if acc else ''} of the scores of its leads scored by then; tier, "
            "'below_mqa', 'mqa' or 'sqa'.\n") if acc else ""
    return head + render(build_account_query(config), dialect) + "\n"


def _for_dialect(tree: exp.Expression, dialect: str) -> exp.Expression:
    """The one place a dialect needs another node than the tree's.

    A difference of two naive timestamps is a ``DatetimeDiff``: sqlglot renders it as
    ``DATE_DIFF('MICROSECOND', ...)`` (DuckDB), ``TIMESTAMPDIFF`` (Snowflake, Spark) and
    ``DATETIME_DIFF`` (BigQuery), but has no Postgres form for it; there a ``DateDiff``
    renders as ``EXTRACT(epoch FROM end - start) * 1000000``, exact as well.
    """
    if dialect != "postgres":
        return tree

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DatetimeDiff):
            return exp.DateDiff(this=node.this, expression=node.expression, unit=node.args.get("unit"))
        return node

    return tree.transform(swap)


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def _header(config: ScoringConfig, dialect: str) -> str:
    name = _UNPRINTABLE.sub("?", config.name)  # one line, whatever the name holds
    days = f"{float(config.evaluation.scoring_point_days):g}"
    lines = [
        f"leadcal scoring model '{name}' - generated by leadcal for {dialect}; do not edit by hand.",
        "One row per lead: lead_id; scored_at, the scoring point (creation time + "
        + f"{days} days);",
        "fit_score and engagement_score, each capped; score, their sum, capped; tier,",
        "'below_mql', 'mql' or 'sql' by the thresholds of the lead's segment.",
        "Scored as of the scoring point: only events strictly before it (and before the",
        "conversion, if earlier) count, decay is measured to it, and nothing after the data's",
        "end (the latest lead, event or conversion time not after CURRENT_TIMESTAMP) is used.",
        "Leads: rows with an id, the earliest created row of each id; undated leads are left out.",
    ]
    return "".join(f"-- {line}\n" for line in lines)


def check_exportable(config: ScoringConfig, dialect: str) -> None:
    """ValueError (one line) when ``config`` cannot be exported to ``dialect``."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; choose one of: {', '.join(DIALECTS)}")
    if not config.source.point_in_time:
        raise ValueError("SQL export scores leads at a point in time, but this config's data has no "
                         "creation time (source.leads.created_at)")


def replace_tables(tree: exp.Expression, tables: dict[str, exp.Table]) -> exp.Expression:
    """The tree with each of the user's tables (by mapped name) read from another relation.

    The user's tables are the only quoted table names in the tree (CTE references are
    unquoted), so nothing of leadcal's own is replaced; aliases are kept.
    """

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.this.args.get("quoted") and node.name in tables:
            new = tables[node.name].copy()
            if node.args.get("alias") is not None:
                new.set("alias", node.args["alias"].copy())
            return new
        return node

    return tree.transform(swap)


def render(tree: exp.Expression, dialect: str) -> str:
    """A query tree as ``dialect`` SQL text (no header)."""
    return _for_dialect(tree, dialect).sql(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE)


def header(config: ScoringConfig, dialect: str) -> str:
    """The comment lines that say what the scoring query computes."""
    return _header(config, dialect)


def export_sql(config: ScoringConfig, dialect: str = "duckdb") -> str:
    """One SELECT (with CTEs) giving the engine's scores for every lead, in ``dialect``.

    Columns: ``lead_id, scored_at, fit_score, engagement_score, score, tier``.
    Raises ValueError for a dialect not in ``DIALECTS``.
    """
    check_exportable(config, dialect)
    return _header(config, dialect) + render(build_query(config), dialect) + "\n"
