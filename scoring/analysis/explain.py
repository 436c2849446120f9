"""Why a lead scored what it did: each rule's points, the caps that bit, the segment, and its events.

The meeting asks "why did this one score 72?". The answer must add up to the number on
screen, so the points here are computed with the engine's own arithmetic (the same
lookups, ``activity x points`` capped per rule, rule points added in rule order from
zero, then the part caps, then the total cap): the explanation's total *is* the engine's
score, bit for bit, for every lead (tested on every lead of the demo).

``breakdown`` does it vectorised for any set of leads (one array per rule); ``explain``
turns one lead's slice into readable lines; ``compare`` lines up the draft and the
approved model rule by rule; ``timeline`` lists the lead's counted events from the kept
arrays of its features (found by its row, no query), and classifies the events a
per-lead query returns (too late, after conversion) beside them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np

from ..model.config import CategoricalFit, EngagementRule, NumericFit, ScoringConfig, normalise_value
from ..model.engine import (
    TIERS,
    band_index,
    cap_points,
    clip_part,
    fit_points_at,
    lead_thresholds,
    numeric_bin_index,
    segment_index,
    tier_index,
)
from ..model.features import Features, age_days, rule_signal_key
from ..model.metrics import band_bounds, band_label, total_bounds


class ExplainError(ValueError):
    """A lead that cannot be explained (unknown id, outside the segment shown, no creation time)."""


# --------------------------------------------------------------------------- vectorised breakdown


@dataclass(frozen=True)
class RuleBreakdown:
    """One rule's points for a group of leads (arrays aligned with ``GroupBreakdown.rows``)."""

    kind: str
    """``fit`` or ``engagement``."""
    label: str
    rule: CategoricalFit | NumericFit | EngagementRule
    before_cap: np.ndarray
    """Engagement: activity x points before the rule's cap; fit: the points (no per-rule cap)."""
    points: np.ndarray
    """What the rule adds to its part."""
    activity: np.ndarray | None = None
    """Engagement: the decayed event count (or the column's units) at the scoring point."""
    choice: np.ndarray | None = None
    """Fit: the category code (-1 missing) or the bin index (k outside every bin, k+1 missing)."""


@dataclass(frozen=True)
class GroupBreakdown:
    """The leads of ``rows`` scored under one rule set (the model's, or one segment's)."""

    segment: int
    """-1 for the model's own rules, else the config segment's index."""
    rows: np.ndarray
    """Positions in the features."""
    rules: tuple[RuleBreakdown, ...]
    fit_sum: np.ndarray
    fit: np.ndarray
    engagement_sum: np.ndarray
    engagement: np.ndarray
    total_sum: np.ndarray
    total: np.ndarray


def _activity_at(features: Features, key: str, rows: np.ndarray) -> np.ndarray:
    """An activity's value at some leads (0 where the lead has none), read from its sparse arrays."""
    if key.startswith("col:"):
        return np.nan_to_num(features.numeric[key[4:]][rows], nan=0.0)
    act = features.activity(key)
    at = np.searchsorted(act.rows, rows.astype(act.rows.dtype))  # same dtype: no copy of the whole array
    found = at < act.rows.size
    found[found] = act.rows[at[found]] == rows[found]
    out = np.zeros(rows.size)
    out[found] = act.values[at[found]]
    return out


def _fit_choice(rule: CategoricalFit | NumericFit, features: Features, rows: np.ndarray) -> np.ndarray:
    if isinstance(rule, CategoricalFit):
        return features.categorical[rule.column].codes[rows].astype(np.int64)
    return numeric_bin_index(rule, features.numeric[rule.column][rows])


def _group(config: ScoringConfig, features: Features, segment: int, rows: np.ndarray) -> GroupBreakdown:
    seg = config.segments[segment] if segment >= 0 else None
    fit_rules = config.fit if seg is None or seg.fit is None else seg.fit
    eng_rules = config.engagement if seg is None or seg.engagement is None else seg.engagement
    lines: list[RuleBreakdown] = []
    fit_sum = np.zeros(rows.size)  # the order and arithmetic of engine.part_sum
    for rule in fit_rules:
        pts = fit_points_at(rule, features, rows)
        fit_sum += pts
        lines.append(RuleBreakdown("fit", rule.column, rule, pts, pts, choice=_fit_choice(rule, features, rows)))
    eng_sum = np.zeros(rows.size)
    for rule in eng_rules:
        activity = _activity_at(features, rule_signal_key(config, rule), rows)
        before = activity * float(rule.points)
        pts = cap_points(before.copy(), rule.cap)
        eng_sum += pts
        lines.append(RuleBreakdown("engagement", rule.label, rule, before, pts, activity=activity))
    fit = clip_part(fit_sum, config.caps.fit)
    eng = clip_part(eng_sum, config.caps.engagement)
    total_sum = fit + eng
    return GroupBreakdown(segment, rows, tuple(lines), fit_sum, fit, eng_sum, eng, total_sum,
                          clip_part(total_sum, config.caps.total))


def breakdown(config: ScoringConfig, features: Features, rows: np.ndarray | None = None) -> list[GroupBreakdown]:
    """Every rule's points for the leads at ``rows`` (all leads when None), one group per rule set used.

    The engine's arithmetic, rule by rule: ``total`` equals ``engine.score(config, features).total``
    at those rows exactly (so do ``fit`` and ``engagement``).
    """
    rows = np.arange(features.n) if rows is None else np.asarray(rows, dtype=np.int64)
    if not config.segments:
        return [_group(config, features, -1, rows)]
    seg = segment_index(config, features)[rows]
    return [_group(config, features, int(s), rows[seg == s]) for s in np.unique(seg)]


# --------------------------------------------------------------------------- one lead, in words


@dataclass(frozen=True)
class FitLine:
    """One fit rule for one lead: the lead's value, what it matched and the points it gave."""

    rule: str
    value: str | float | None
    """The lead's value (None when missing)."""
    matched: str
    """The listed value, the range (``[50, 200)``), ``other`` or ``missing``."""
    points: float


@dataclass(frozen=True)
class EngagementLine:
    """One engagement rule for one lead: its activity at the scoring point and the points, before and after its cap."""

    rule: str
    counts: str
    """What it counts: ``events demo_request (exponential, half-life 30 d)`` or ``column page_views``."""
    activity: float
    """Decayed event count (or the column's units) at the scoring point."""
    points_each: float
    cap: float | None
    before_cap: float
    points: float

    @property
    def capped(self) -> bool:
        """The rule's cap took points off (or limited a loss)."""
        return self.before_cap != self.points


@dataclass(frozen=True)
class PartCap:
    """A score part before and after its cap (fit, engagement, total)."""

    part: str
    before: float
    after: float
    low: float | None
    high: float | None

    @property
    def bit(self) -> bool:
        """The cap changed the part."""
        return self.before != self.after


@dataclass(frozen=True)
class Explanation:
    """Why one lead has its score under one model; ``score`` is the engine's score of the lead."""

    model: str
    lead_id: str
    row: int
    segment: str | None
    """The segment whose rules applied (None: the model's own rules)."""
    fit: tuple[FitLine, ...]
    engagement: tuple[EngagementLine, ...]
    parts: tuple[PartCap, ...]
    """fit, engagement, total: each before and after its cap."""
    score: float
    band: str
    tier: str
    mql: float
    sql: float
    created_at: str | None
    scoring_point: str | None
    mature: bool
    converted: bool

    @property
    def caps_that_bit(self) -> list[str]:
        """The part caps and rule caps that changed the score, in words."""
        out = [f"{line.rule} rule cap ({line.cap:g})" for line in self.engagement if line.capped]
        return out + [f"{p.part} cap" for p in self.parts if p.bit]

    def part(self, name: str) -> PartCap:
        """The ``fit``, ``engagement`` or ``total`` part."""
        return next(p for p in self.parts if p.part == name)

    def to_dict(self) -> dict:
        out = asdict(self)
        for line, d in zip(self.engagement, out["engagement"]):
            d["capped"] = line.capped
        for p, d in zip(self.parts, out["parts"]):
            d["bit"] = p.bit
        out["caps_that_bit"] = self.caps_that_bit
        return out


def _iso(t: np.datetime64) -> str | None:
    if np.isnat(t):
        return None
    return str(np.datetime_as_string(t, unit="s")).replace("T", " ")


def _decay_text(config: ScoringConfig, rule: EngagementRule) -> str:
    d = config.rule_decay(rule)
    if d.kind == "exponential":
        return f"exponential, half-life {d.half_life_days:g} d"
    if d.kind == "linear":
        return f"linear, lifespan {d.lifespan_days:g} d"
    if d.kind == "window":
        return f"window, last {d.days:g} d"
    return "no decay"


def _range_text(lo: float, hi: float) -> str:
    if lo == -np.inf:
        return "any" if hi == np.inf else f"< {hi:g}"
    return f">= {lo:g}" if hi == np.inf else f"[{lo:g}, {hi:g})"


def _fit_line(line: RuleBreakdown, features: Features, row: int) -> FitLine:
    rule, choice = line.rule, int(line.choice[0])
    if isinstance(rule, CategoricalFit):
        if choice < 0:
            return FitLine(line.label, None, "missing", float(line.points[0]))
        value = str(features.categorical[rule.column].categories[choice])
        listed = {normalise_value(k): k for k in rule.points}
        return FitLine(line.label, value, listed.get(normalise_value(value), "other"), float(line.points[0]))
    value = float(features.numeric[rule.column][row])
    k = len(rule.bins)
    if choice == k + 1:
        return FitLine(line.label, None, "missing", float(line.points[0]))
    if choice == k:
        return FitLine(line.label, value, "other", float(line.points[0]))
    lows, highs = rule.edges()
    return FitLine(line.label, value, _range_text(lows[choice], highs[choice]), float(line.points[0]))


def find_row(features: Features, lead_id: str | int) -> int:
    """The position of a lead in the features, by id as typed (a number or text); ExplainError when unknown."""
    ids = features.lead_id
    text = str(lead_id).strip()
    if ids.dtype.kind in "iu":
        try:
            wanted = int(text)
        except ValueError:
            raise ExplainError(f"lead {text!r}: lead ids here are whole numbers") from None
        hits = np.flatnonzero(ids == wanted)
    elif ids.dtype.kind == "f":
        try:
            hits = np.flatnonzero(ids == float(text))
        except ValueError:
            raise ExplainError(f"lead {text!r}: lead ids here are numbers") from None
    else:
        hits = np.flatnonzero(ids.astype(str) == text)
    if not hits.size:
        raise ExplainError(f"lead {text!r}: no scored lead has this id")
    return int(hits[0])


def explain_row(config: ScoringConfig, features: Features, row: int) -> Explanation:
    """Why the lead at ``row`` has its score under ``config``."""
    rows = np.array([row], dtype=np.int64)
    (group,) = breakdown(config, features, rows)
    seg = group.segment
    fit_lines, eng_lines = [], []
    for line in group.rules:
        if line.kind == "fit":
            fit_lines.append(_fit_line(line, features, row))
            continue
        rule = line.rule
        counts = (f"column {rule.column}" if rule.column is not None
                  else f"events {', '.join(rule.events)} ({_decay_text(config, rule)})")
        eng_lines.append(EngagementLine(line.label, counts, float(line.activity[0]), float(rule.points),
                                        None if rule.cap is None else float(rule.cap),
                                        float(line.before_cap[0]), float(line.points[0])))
    caps = config.caps

    def part(name: str, before: np.ndarray, after: np.ndarray) -> PartCap:
        cap = getattr(caps, name)
        return PartCap(name, float(before[0]), float(after[0]), None if cap is None else cap.min,
                       None if cap is None else cap.max)

    total = group.total
    timed = features.point_in_time
    mql, sql = lead_thresholds(config, np.array([seg], dtype=np.int16))
    mql, sql = float(np.asarray(mql).reshape(-1)[0]), float(np.asarray(sql).reshape(-1)[0])
    band = int(band_index(total, config.bands)[0])
    lo, hi = band_bounds(config.bands, *total_bounds(config))[band]
    tier = int(tier_index(total, mql, sql)[0])
    return Explanation(
        model=config.name, lead_id=str(features.lead_id[row]), row=int(row),
        segment=None if seg < 0 else config.segments[seg].name,
        fit=tuple(fit_lines), engagement=tuple(eng_lines),
        parts=(part("fit", group.fit_sum, group.fit), part("engagement", group.engagement_sum, group.engagement),
               part("total", group.total_sum, total)),
        score=float(total[0]), band=band_label(lo, hi), tier=TIERS[tier], mql=mql, sql=sql,
        created_at=_iso(features.created_at[row]) if timed else None,
        scoring_point=_iso(features.scoring_at[row]) if timed else None,
        mature=bool(features.mature[row]), converted=bool(features.converted[row]),
    )


def explain(config: ScoringConfig, features: Features, lead_id: str | int,
            all_features: Features | None = None) -> Explanation:
    """Why a lead (by id) has its score under ``config``.

    ``features`` are the leads shown (perhaps one segment value's); ``all_features``, when
    given, tells a lead outside that filter from an unknown one. (A lead the data holds
    without a creation time is not among the features at all; callers that can query the
    data say so with ``scoring.data.details.lead_status``.)
    """
    try:
        row = find_row(features, lead_id)
    except ExplainError:
        if all_features is not None and all_features is not features:
            try:
                find_row(all_features, lead_id)
            except ExplainError:
                pass
            else:
                raise ExplainError(f"lead {str(lead_id).strip()!r} is outside the segment filter shown; "
                                   "clear the filter to explain it") from None
        raise
    return explain_row(config, features, row)


# --------------------------------------------------------------------------- draft vs approved


@dataclass(frozen=True)
class RuleDifference:
    """One rule's points under the draft and the approved model (None: the model has no such rule)."""

    kind: str
    rule: str
    draft: float | None
    approved: float | None

    @property
    def change(self) -> float:
        """Draft minus approved points (a missing rule counts 0)."""
        return (self.draft or 0.0) - (self.approved or 0.0)

    def to_dict(self) -> dict:
        return {**asdict(self), "change": self.change}


@dataclass(frozen=True)
class Comparison:
    """One lead under the draft beside the approved model, rule by rule."""

    draft: Explanation
    approved: Explanation
    rules: tuple[RuleDifference, ...]

    @property
    def change(self) -> float:
        """Draft score minus approved score."""
        return self.draft.score - self.approved.score

    def to_dict(self) -> dict:
        return {"draft": self.draft.to_dict(), "approved": self.approved.to_dict(),
                "rules": [r.to_dict() for r in self.rules], "change": self.change}


def compare(draft: Explanation, approved: Explanation) -> Comparison:
    """The rule-by-rule difference of one lead's two explanations (the draft's rules first, then the approved-only ones)."""
    def points(e: Explanation) -> dict[tuple[str, str], float]:
        return {**{("fit", f.rule): f.points for f in e.fit},
                **{("engagement", g.rule): g.points for g in e.engagement}}

    d, a = points(draft), points(approved)
    keys = list(d) + [k for k in a if k not in d]
    return Comparison(draft, approved, tuple(RuleDifference(k[0], k[1], d.get(k), a.get(k)) for k in keys))


# --------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class TimelineEvent:
    """One event of the lead and whether the score counted it."""

    type: str
    time: str | None
    days_before_scoring: float | None
    """Days from the event to the scoring point (negative: after it)."""
    status: str
    """``counted``, ``too late`` (at or after the scoring point), ``after conversion``,
    ``after data end`` or ``not scored`` (a type no rule counts)."""


@dataclass(frozen=True)
class Timeline:
    """A lead's events relative to its scoring point, oldest first."""

    lead_id: str
    scoring_point: str | None
    converted_at: str | None
    events: tuple[TimelineEvent, ...]
    complete: bool
    """False when only the counted events (from the kept arrays) are listed, not the others."""

    def counts(self) -> dict[str, int]:
        """Events per status."""
        out: dict[str, int] = {}
        for e in self.events:
            out[e.status] = out.get(e.status, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {**asdict(self), "counts": self.counts()}


def counted_events(features: Features, row: int) -> list[tuple[str, np.datetime64, float]]:
    """The lead's counted events from the kept arrays: (type, time, days before the scoring point).

    Kept events are ordered by (type, lead row, age), so each type's events of one lead are
    found by a binary search of its slice: no query, no pass over all events.
    """
    ev = features.events
    if ev is None:
        return []
    out = []
    for c, kind in enumerate(ev.types):
        lo, hi = int(ev.starts[c]), int(ev.starts[c + 1])
        rows = ev.row[lo:hi]
        needle = rows.dtype.type(row)  # same dtype: a search, not a copy of the slice
        a, b = np.searchsorted(rows, needle, "left"), np.searchsorted(rows, needle, "right")
        for d in age_days(ev.age[lo + a:lo + b]):
            when = features.scoring_at[row] - np.timedelta64(int(round(float(d) * 86_400_000_000)), "us")
            out.append((kind, when, float(d)))
    return out


def timeline(features: Features, row: int, others: list[tuple[str, dt.datetime | None]] | None = None,
             converted_at: dt.datetime | None = None, counted_types: set[str] | None = None) -> Timeline:
    """The lead's events relative to its scoring point.

    Counted events come from the kept arrays (``counted_events``). ``others``, the lead's
    events as a per-lead query returns them (type, time), adds the ones the score did not
    count, each with its reason; ``converted_at`` is the lead's conversion time for that;
    ``counted_types`` the normalised event types the explained model counts (default: all kept).
    Without ``others`` the timeline holds the counted events only (``complete`` False).
    """
    scoring = features.scoring_at[row]
    items: list[tuple] = []
    types = counted_types if counted_types is not None else set(features.events.types if features.events else ())
    for kind, when, days in counted_events(features, row):
        if kind in types:  # kept for the other model only: listed as "not scored" from ``others``
            items.append((when, TimelineEvent(kind, _iso(when), days, "counted")))
    if others is not None:
        end = np.datetime64(features.data_end, "us")
        conv = None if converted_at is None else np.datetime64(converted_at, "us")
        for kind, time in others:
            norm = normalise_value(kind) if kind is not None else ""
            when = np.datetime64("NaT", "us") if time is None else np.datetime64(time, "us")
            if np.isnat(when):
                continue
            days = float((scoring - when) / np.timedelta64(1, "us")) / 86_400_000_000
            if norm not in types:
                status = "not scored"
            elif when > end:
                status = "after data end"
            elif when >= scoring:
                status = "too late"
            elif conv is not None and when >= conv:
                status = "after conversion"
            else:
                continue  # counted: listed from the kept arrays above
            items.append((when, TimelineEvent(str(kind), _iso(when), days, status)))
    items.sort(key=lambda x: (x[0], x[1].type))
    conv_text = None if converted_at is None else _iso(np.datetime64(converted_at, "us"))
    return Timeline(str(features.lead_id[row]), _iso(scoring) if features.point_in_time else None, conv_text,
                    tuple(e for _, e in items), others is not None)
