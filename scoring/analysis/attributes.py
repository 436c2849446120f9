"""Attribute lift: how each fit value and each engagement rule converts, and what the draft pays for it.

The meeting argues about points; this puts the close rate of every attribute value next
to the overall close rate and next to the points the draft gives, so an over-scored
trivial action (points for e-mail opens that do not predict anything) or an
under-scored strong signal stands out. Only mature leads count.

Conventions (as in credit scoring, signs flipped so "good" means "converts"):

- weight of evidence ``WoE = ln(share of converters in the value / share of
  non-converters in the value)``: positive WoE = more likely to convert than average,
  so points and sliders point the same way;
- information value ``IV = sum((p_conv - p_nonconv) * WoE)`` over an attribute's values;
  rule of thumb (Siddiqi): < 0.02 useless, 0.02-0.1 weak, 0.1-0.3 medium, 0.3-0.5
  strong, above that very strong;
- smoothing: a value with no converters (or no non-converters) counts ``SMOOTHING``
  (half a lead) in that class, so its WoE stays finite (and large) instead of infinite;
  a value with no mature leads at all has no WoE and adds nothing to IV;
- conversion rate with a Wilson 95% interval, lift = value rate / overall rate.

An engagement rule is read by how much: no activity before its scoring point, then
quantile bins of the activity (a count, a decayed sum, seconds on the site), so a
per-second column is judged by its spread, not as "any or none". Possible leakage (a
field filled in after the outcome is known) is ``scoring.analysis.leakage``'s one definition: a
column filled only for converted or only for closed leads, or with IV above
``LEAKAGE_IV`` (see the README for why the default is 1.0 for leads, not credit
scoring's 0.5).

Everything is one ``np.bincount`` per attribute on the cached feature arrays: no
DuckDB, no per-lead Python, well under a second for a million leads.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..model.config import CategoricalFit, EngagementRule, NumericFit, ScoringConfig, normalise_value
from ..model.engine import engagement_points, numeric_bin_index
from ..model.features import Categorical, Features
from ..model.metrics import SMALL_BAND, wilson_interval
from .leakage import LEAKAGE_IV, check, feature_groups, numeric_groups, quantile_edges, woe_iv

MIN_LEADS = SMALL_BAND
"""Values with fewer mature leads than this get a warning: their rate is noise."""
MAX_VALUES = 50
"""A categorical column with more values than this shows the largest ones and pools the rest."""
IV_STRENGTH = ((0.02, "useless"), (0.1, "weak"), (0.3, "medium"), (0.5, "strong"), (math.inf, "very strong"))
"""Upper bounds of Siddiqi's IV rule-of-thumb classes."""
MISSING_LABEL = "(missing)"
OTHER_LABEL = "(other values)"


# --------------------------------------------------------------------------- statistics


def iv_strength(iv: float | None) -> str | None:
    """Siddiqi's words for an IV: useless, weak, medium, strong, very strong."""
    if iv is None or math.isnan(iv):
        return None
    return next(word for bound, word in IV_STRENGTH if iv < bound)


def outcome_state(converted: np.ndarray, mature: np.ndarray) -> np.ndarray:
    """Per lead: 0 immature, 1 mature and not converted, 2 mature and converted (computed once)."""
    mature = np.asarray(mature, dtype=bool)
    return mature.astype(np.int64) + (np.asarray(converted, dtype=bool) & mature)


def group_counts(groups: np.ndarray, converted: np.ndarray, mature: np.ndarray, k: int,
                 state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mature leads, their conversions and immature leads per group, in one ``bincount``."""
    state = outcome_state(converted, mature) if state is None else state
    counts = np.bincount(groups * 3 + state, minlength=3 * k).reshape(k, 3)
    return counts[:, 1] + counts[:, 2], counts[:, 2], counts[:, 0]


# --------------------------------------------------------------------------- grouping


@dataclass
class Grouping:
    """Leads of one attribute split in groups: a group index per lead and the groups' labels."""

    groups: np.ndarray
    labels: list[str]
    points: np.ndarray
    """The points the config gives a lead in each group (per event for engagement rules)."""
    given: np.ndarray | None = None
    """Per lead: the points the rule gives (to average per group); None when ``points`` says it all."""


def categorical_grouping(rule: CategoricalFit, cat: Categorical, max_values: int = MAX_VALUES) -> Grouping:
    """Group codes by value as the engine matches them (trimmed, case-folded); missing first.

    Values the config names that never occur are listed too (no leads), so every point
    the draft gives is on screen. Beyond ``max_values`` the smallest values are pooled.
    """
    keys = [normalise_value(v) for v in cat.categories]
    counts = np.bincount(cat.codes + 1, minlength=len(cat.categories) + 1)[1:]
    order: dict[str, int] = {}
    spelling: dict[str, tuple[int, str]] = {}
    for i in np.argsort(-counts, kind="stable"):
        key = keys[i]
        if key not in order:
            order[key] = len(order)
        best = spelling.get(key)
        if best is None or counts[i] > best[0]:
            spelling[key] = (int(counts[i]), str(cat.categories[i]))
    named = {normalise_value(k): (k, v) for k, v in rule.points.items()}
    key_list = list(order)
    pooled = key_list[max_values:] if len(key_list) > max_values else []
    shown = key_list[:max_values] if pooled else key_list
    for key in named:
        if key not in order:
            shown.append(key)
    group_of_key = {key: j + 1 for j, key in enumerate(shown)}
    other_group = len(shown) + 1
    lut = np.empty(len(cat.categories) + 1, dtype=np.int64)
    lut[0] = 0
    for i, key in enumerate(keys):
        lut[i + 1] = group_of_key.get(key, other_group)
    labels = [MISSING_LABEL] + [named[k][0] if k in named else spelling[k][1] for k in shown]
    points = [float(rule.missing)] + [float(named[k][1]) if k in named else float(rule.other) for k in shown]
    if pooled:
        labels.append(OTHER_LABEL)
        points.append(float(rule.other))
    return Grouping(lut[cat.codes + 1], labels, np.asarray(points))


def numeric_grouping(rule: NumericFit, values: np.ndarray) -> Grouping:
    """One group per bin of the rule, then 'outside every bin', then missing."""
    groups = numeric_bin_index(rule, values)
    labels = [bin_label(b.min, b.max) for b in rule.bins] + ["(outside the bins)", MISSING_LABEL]
    points = [float(b.points) for b in rule.bins] + [float(rule.other), float(rule.missing)]
    return Grouping(groups.astype(np.int64), labels, np.asarray(points))


ACTIVITY_BINS = 5
"""An engagement rule's leads with activity are split in (up to) this many quantile bins."""


def engagement_grouping(rule: EngagementRule, config: ScoringConfig, features: Features,
                        bins: int = ACTIVITY_BINS) -> Grouping:
    """No activity, then quantile bins of the activity before the scoring point (by how much, not just any)."""
    from ..model.features import rule_signal_key

    activity = features.feature(rule_signal_key(config, rule))
    edges = quantile_edges(activity[activity > 0], bins)
    edges = np.concatenate([[np.nextafter(0.0, 1.0)], edges])  # 0 is its own group
    groups, _ = numeric_groups(activity, edges)
    groups = np.minimum(groups, edges.size)  # activity is never missing (0 = none)
    what = "activity" if rule.column is not None else "events"
    cuts = [_g(x) for x in edges[1:]]
    labels = [f"no {what}"] + [f"> 0 to < {cuts[0]}"] if cuts else [f"no {what}", f"any {what}"]
    if cuts:
        labels += [f"{lo} to < {hi}" for lo, hi in zip(cuts, cuts[1:])] + [f">= {cuts[-1]}"]
    points = np.array([0.0] + [float(rule.points)] * (len(labels) - 1))
    return Grouping(groups, labels, points, engagement_points(rule, config, features))


def _g(x: float) -> str:
    return f"{x:.3g}"


def bin_label(lo: float | None, hi: float | None) -> str:
    """A numeric bin as the meeting reads it: '< 50', '50 to < 200', '>= 2000'."""
    if lo is None:
        return f"< {hi:g}"
    if hi is None:
        return f">= {lo:g}"
    return f"{lo:g} to < {hi:g}"


# --------------------------------------------------------------------------- the table


@dataclass
class AttributeValue:
    """One value (or bin, or activity level) of an attribute: its mature leads, conversion, lift and WoE."""

    value: str
    leads: int
    immature: int
    conversions: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    lift: float | None
    woe: float | None
    iv: float
    """This value's term of the attribute's IV."""
    share: float | None
    points: float
    avg_points: float
    """What the rule gives on average to the value's mature leads."""
    small: bool
    flag: str | None = None
    """Over- or under-scored in words, when it is."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Attribute:
    """One attribute (fit rule, engagement rule or probed column): its values and what is off about it."""

    attribute: str
    kind: str
    """'categorical', 'numeric' or 'engagement'."""
    in_model: bool
    iv: float | None
    strength: str | None
    leakage: bool
    leak: str | None
    """Why it looks filled after the outcome (``scoring.analysis.leakage``)."""
    points_spread: float
    points_per_double_odds: float | None
    rows: list[AttributeValue]
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Overall:
    """All leads analysed: mature leads, conversions, their rate, and the immature ones left out."""

    leads: int
    conversions: int
    rate: float | None
    immature: int


@dataclass
class AttributeTable:
    """Every attribute (fit rule, engagement rule, probed column) with its values, sorted by IV."""

    overall: Overall
    """Mature leads, conversions and rate of all leads analysed."""
    attributes: list[Attribute]
    """Highest IV first (see ``attribute_table``)."""
    warnings: list[str] = field(default_factory=list)
    """What the meeting must not miss, in words."""
    points_per_double_odds: float | None = None
    """The draft's typical exchange rate: median over attributes of points per doubling of odds."""


def _attribute(name: str, kind: str, grouping: Grouping, features: Features, state: np.ndarray,
               min_leads: int, leakage_iv: float, in_model: bool, column: str | None = None) -> Attribute:
    k = len(grouping.labels)
    leads, conv, immature = group_counts(grouping.groups, features.converted, features.mature, k, state)
    total_leads, total_conv = int(leads.sum()), int(conv.sum())
    overall = total_conv / total_leads if total_leads else math.nan
    woe, part, iv = woe_iv(conv, leads - conv)
    low, high = wilson_interval(conv, leads)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(leads > 0, conv / np.maximum(leads, 1), np.nan)
        lift = rate / overall if overall else np.full(k, np.nan)
    if grouping.given is not None:  # what the rule gives on average to the group's mature leads
        sums = np.bincount(grouping.groups, weights=grouping.given * (state > 0), minlength=k)
        avg = np.where(leads > 0, sums / np.maximum(leads, 1), grouping.points)
    else:
        avg = grouping.points
    rows = []
    for i in range(k):
        if kind == "categorical" and leads[i] == 0 and immature[i] == 0 and grouping.labels[i] in (
                MISSING_LABEL, OTHER_LABEL):
            continue  # no missing values at all: no row for them
        if kind == "numeric" and leads[i] == 0 and immature[i] == 0 and i >= k - 2:
            continue
        rows.append(AttributeValue(
            value=grouping.labels[i],
            leads=int(leads[i]),
            immature=int(immature[i]),
            conversions=int(conv[i]),
            rate=_num(rate[i]),
            ci_low=_num(low[i]),
            ci_high=_num(high[i]),
            lift=_num(lift[i]),
            woe=_num(woe[i]),
            iv=float(part[i]),
            share=leads[i] / total_leads if total_leads else None,
            points=float(grouping.points[i]),
            avg_points=float(avg[i]),
            small=bool(leads[i] < min_leads),
            flag=None,
        ))
    slope = _points_per_double_odds(rows, min_leads)
    iv_value = None if math.isnan(iv) else iv
    found = feature_groups(features, column) if column is not None else None
    # a column is judged exactly as the import and the suggestion judge it (its values or quantile bins)
    leak = check(name, None if found is None else found[0], grouping.groups if found is None else found[1],
                 features.converted, features.mature, getattr(features, "open", None), leakage_iv)
    return Attribute(
        attribute=name,
        kind=kind,
        in_model=in_model,
        iv=iv_value,
        strength=iv_strength(iv),
        leakage=leak is not None,
        leak=leak.message if leak is not None else None,
        points_spread=_spread(rows, min_leads),
        points_per_double_odds=slope,
        rows=rows,
        flags=[],
    )


def _spread(rows: list[AttributeValue], min_leads: int) -> float:
    pts = [r.avg_points for r in rows if r.leads >= min_leads]
    return float(max(pts) - min(pts)) if pts else 0.0


def _points_per_double_odds(rows: list[AttributeValue], min_leads: int) -> float | None:
    """Lead-weighted slope of points on WoE, times ln 2: what the draft pays per doubling of odds."""
    ok = [r for r in rows if r.leads >= min_leads and r.woe is not None]
    if len(ok) < 2:
        return None
    w = np.array([r.leads for r in ok], dtype=np.float64)
    x = np.array([r.woe for r in ok])
    y = np.array([r.avg_points for r in ok])
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    var = np.average((x - xm) ** 2, weights=w)
    if var < 1e-12:
        return None
    return float(np.average((x - xm) * (y - ym), weights=w) / var * math.log(2))


def attribute_table(config: ScoringConfig, features: Features, *, min_leads: int = MIN_LEADS,
                    leakage_iv: float = LEAKAGE_IV, extra_columns: list[str] | tuple[str, ...] = (),
                    max_values: int = MAX_VALUES) -> AttributeTable:
    """Lift, WoE and IV of every fit value and engagement rule of the config, highest IV first.

    ``extra_columns``: categorical columns of ``features`` that the model does not score
    (see ``probe_config``), shown with zero points so a strong unused field stands out.
    """
    mature = features.mature
    state = outcome_state(features.converted, mature)
    total_leads = int(mature.sum())
    total_conv = int((features.converted & mature).sum())
    overall_rate = total_conv / total_leads if total_leads else None
    attrs = []
    model_columns = set()
    for rule in config.fit:
        model_columns.add(rule.column)
        if isinstance(rule, CategoricalFit):
            g = categorical_grouping(rule, features.categorical[rule.column], max_values)
            attrs.append(_attribute(rule.column, "categorical", g, features, state, min_leads, leakage_iv, True,
                                    rule.column))
        else:
            g = numeric_grouping(rule, features.numeric[rule.column])
            attrs.append(_attribute(rule.column, "numeric", g, features, state, min_leads, leakage_iv, True,
                                    rule.column))
    for rule in config.engagement:
        g = engagement_grouping(rule, config, features)
        attrs.append(_attribute(rule.label, "engagement", g, features, state, min_leads, leakage_iv, True,
                                rule.column))
    for column in extra_columns:
        if column in model_columns or column not in features.categorical:
            continue
        g = categorical_grouping(CategoricalFit(column=column), features.categorical[column], max_values)
        attrs.append(_attribute(column, "categorical", g, features, state, min_leads, leakage_iv, False, column))
    attrs.sort(key=lambda a: -1.0 if a.iv is None else a.iv, reverse=True)
    rate = _flag(attrs, overall_rate, min_leads)
    table = AttributeTable(
        overall=Overall(total_leads, total_conv, overall_rate, int((~mature).sum())),
        attributes=attrs,
        points_per_double_odds=rate,
    )
    table.warnings = _warnings(table, min_leads, leakage_iv)
    return table


def _flag(attrs: list[Attribute], overall: float | None, min_leads: int) -> float | None:
    """Mark over- and under-scored values and attributes; return the draft's median exchange rate."""
    slopes = [a.points_per_double_odds for a in attrs
              if a.in_model and a.points_per_double_odds is not None and a.points_spread > 0
              and (a.iv or 0) >= 0.02]
    median = float(np.median(slopes)) if slopes else None
    for a in attrs:
        iv = a.iv or 0.0
        if a.leakage:
            a.flags.append("possible leakage: " + a.leak.split(": ", 1)[-1] + "; left out of the "
                              "suggestion unless you include it")
        if a.in_model and iv < 0.02 and a.points_spread > 0:
            a.flags.append("over-scored: the draft gives points for an attribute that does not "
                              "predict conversion (IV < 0.02)")
        elif iv >= 0.1 and a.points_spread == 0:
            a.flags.append("under-scored: predicts conversion but " + (
                "the draft gives it no points" if a.in_model else "the model does not use it"))
        elif (median and median > 0 and a.points_per_double_odds is not None and iv >= 0.02
              and a.points_spread > 0):
            slope = a.points_per_double_odds
            if slope < 0:
                a.flags.append("points point the wrong way: values that convert better get fewer points")
            elif slope > 2 * median:
                a.flags.append(f"over-scored: {slope:.0f} points per doubling of the odds, the draft's "
                                  f"typical rate is {median:.0f}")
            elif slope < median / 2:
                a.flags.append(f"under-scored: {slope:.0f} points per doubling of the odds, the draft's "
                                  f"typical rate is {median:.0f}")
        if overall is None:
            continue
        mean_points = _mean_points(a.rows)
        for row in a.rows:
            if row.leads < min_leads:
                row.flag = f"few leads (< {min_leads})"
                continue
            rel = row.avg_points - mean_points
            if rel > 0.5 and row.ci_high is not None and row.ci_high < overall:
                row.flag = "scored up, converts below average"
            elif rel < -0.5 and row.ci_low is not None and row.ci_low > overall:
                row.flag = "scored down, converts above average"
            elif rel <= 0.5 and row.woe is not None and row.woe >= math.log(2) \
                    and row.ci_low is not None and row.ci_low > overall:
                row.flag = "strong signal, no extra points"
    return median


def _mean_points(rows: list[AttributeValue]) -> float:
    leads = sum(r.leads for r in rows)
    return sum(r.avg_points * r.leads for r in rows) / leads if leads else 0.0


def _warnings(table: AttributeTable, min_leads: int, leakage_iv: float) -> list[str]:
    out = []
    for a in table.attributes:
        if a.leakage:
            out.append(f"Possible leakage: {a.leak}. A field filled in after the outcome is known scores "
                       "too well to be true; the suggestion leaves it out unless you include it.")
        small = [r.value for r in a.rows if r.small and (r.leads or r.immature)]
        if small:
            out.append(f"{a.attribute}: {len(small)} value(s) with fewer than {min_leads} mature leads "
                       f"({', '.join(small[:5])}{', ...' if len(small) > 5 else ''}): their rates are noise.")
    if table.overall.leads and not table.overall.conversions:
        out.append("No mature lead converted: there is nothing to learn from yet.")
    return out


def flat_rows(table: AttributeTable) -> list[dict]:
    """One row per attribute value, attributes in IV order: what the page's table shows."""
    out = []
    for a in table.attributes:
        for row in a.rows:
            out.append({"attribute": a.attribute, "kind": a.kind, "attribute_iv": a.iv,
                        "strength": a.strength, **row.to_dict()})
    return out


def summary_rows(table: AttributeTable) -> list[dict]:
    """One row per attribute: IV, strength, points spread, exchange rate, flags."""
    return [{"attribute": a.attribute, "kind": a.kind, "in_model": a.in_model, "iv": a.iv,
             "strength": a.strength, "leakage": a.leakage, "points_spread": a.points_spread,
             "points_per_double_odds": a.points_per_double_odds, "flags": "; ".join(a.flags)}
            for a in table.attributes]


# --------------------------------------------------------------------------- probing columns


def probe_config(config: ScoringConfig, columns: list[str] | tuple[str, ...]) -> ScoringConfig:
    """The config plus a zero-point categorical rule per extra column, so features carry them.

    Used only to extract features (the attribute table scores the real config); a column
    the model already scores is left alone.
    """
    have = {r.column for r in config.fit}
    extra = [c for c in columns if c not in have]
    if not extra:
        return config
    probe = copy.deepcopy(config)
    probe.fit = list(probe.fit) + [CategoricalFit(column=c) for c in extra]
    return probe


def candidate_columns(source, config: ScoringConfig) -> list[str]:
    """Text columns of the leads table the model does not score: fields worth a look."""
    leads, outcome = config.source.leads, config.source.outcome
    columns = source.tables.get(leads.table.lower()) or {}
    skip = {leads.id, leads.created_at, leads.account}  # an account key is a grouping, not a field
    if outcome.table is None:  # outcome columns on the leads table are the answer, not a field
        skip |= {outcome.converted_at, getattr(outcome, "converted", None), outcome.deal_value}
    skip |= {r.column for r in config.fit}
    skip_lower = {s.lower() for s in skip if s}
    text = ("VARCHAR", "TEXT", "BOOLEAN")
    return [name for name, dtype in columns.items()
            if name.lower() not in skip_lower and (dtype.upper() in text or dtype.upper().startswith("ENUM"))]


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x
