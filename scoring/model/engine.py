"""Config + features -> fit, engagement and total scores, bands and tiers.

Pure numpy on the cached feature arrays: changing points, caps or thresholds never
queries DuckDB and never loops over leads in Python (loops here run over rules and
category values, which are few).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from ..base.memory import mapped_zeros
from .config import CategoricalFit, EngagementRule, NumericFit, ScoringConfig, Segment, normalise_value
from .features import Categorical, Features, rule_signal_key
from .kernels import add_binned, add_lookup, engagement_at

TIERS = ("below_mql", "mql", "sql")
"""Tier names, in order of the codes in ``Scores.tier``."""


@dataclass
class Scores:
    """Per-lead scores, aligned with the features they came from."""

    fit: np.ndarray
    engagement: np.ndarray
    total: np.ndarray
    band: np.ndarray
    """Index into the bands: 0 is below the first cut point."""
    tier: np.ndarray
    """0 below MQL, 1 MQL, 2 SQL (see ``TIERS``)."""
    segment: np.ndarray
    """-1 for the model's own rules, else the index of the config segment used."""


def _category_keys(cat: Categorical) -> list[str]:
    return [normalise_value(v) for v in cat.categories]


def categorical_lookup(rule: CategoricalFit, cat: Categorical) -> np.ndarray:
    """Points per code, shifted by one so that index 0 is 'missing'."""
    points = {normalise_value(k): v for k, v in rule.points.items()}
    lut = np.full(len(cat.categories) + 1, float(rule.other))
    lut[0] = float(rule.missing)
    for i, key in enumerate(_category_keys(cat)):
        if key in points:
            lut[i + 1] = points[key]
    return lut


def numeric_bin_index(rule: NumericFit, values: np.ndarray) -> np.ndarray:
    """Bin of each value: 0..k-1 for the rule's k bins, k outside every bin, k+1 missing."""
    lows, highs = (np.asarray(a, dtype=np.float64) for a in rule.edges())
    k = len(lows)
    idx = np.searchsorted(lows, values, side="right") - 1
    safe = np.clip(idx, 0, k - 1)
    inside = (idx >= 0) & (values < highs[safe])
    out = np.where(inside, safe, k)
    out[np.isnan(values)] = k + 1
    return out


def fit_points(rule: CategoricalFit | NumericFit, features: Features) -> np.ndarray:
    """Points one fit rule gives each lead."""
    if isinstance(rule, CategoricalFit):
        cat = features.categorical[rule.column]
        return categorical_lookup(rule, cat)[cat.codes + 1]
    lut = np.array([b.points for b in rule.bins] + [rule.other, rule.missing], dtype=np.float64)
    return lut[numeric_bin_index(rule, features.numeric[rule.column])]


def engagement_points(rule: EngagementRule, config: ScoringConfig, features: Features) -> np.ndarray:
    """Points one engagement rule gives each lead: points x decayed activity, capped."""
    activity = features.feature(rule_signal_key(config, rule))
    return cap_points(activity * float(rule.points), rule.cap)


def cap_points(out: np.ndarray, cap: float | None) -> np.ndarray:
    """``out`` limited to +-cap, in place (``np.maximum``/``minimum``: ``np.clip`` is 3x slower)."""
    if cap is not None:
        np.maximum(out, -cap, out=out)
        np.minimum(out, cap, out=out)
    return out


def clip_part(values: np.ndarray, cap, in_place: bool = False) -> np.ndarray:
    """A score part within its cap (unchanged when there is none)."""
    if cap is None or (cap.min is None and cap.max is None):
        return values
    out = values if in_place else values.copy()
    if cap.min is not None:
        np.maximum(out, cap.min, out=out)
    if cap.max is not None:
        np.minimum(out, cap.max, out=out)
    return out


def cap_bounds(cap) -> tuple[float, float]:
    """A part's cap as the compiled loops take it: (low, high), -inf/inf where open."""
    low = -np.inf if cap is None or cap.min is None else float(cap.min)
    high = np.inf if cap is None or cap.max is None else float(cap.max)
    return low, high


def no_segments(features: Features) -> np.ndarray:
    """The segment of every lead when the config has none (-1), one read-only array per feature set."""
    with CACHE_LOCK:
        seg = features.cache.get("no_segments")
        if seg is None:
            seg = np.full(features.n, -1, dtype=np.int16)
            seg.setflags(write=False)
            features.cache["no_segments"] = seg
    return seg


def segment_index(config: ScoringConfig, features: Features) -> np.ndarray:
    """Which segment's rules apply to each lead: the first matching filter, else -1."""
    seg = np.full(features.n, -1, dtype=np.int16)
    for i, segment in enumerate(config.segments):
        seg[(seg == -1) & segment_mask(segment, features)] = i
    return seg


def segment_mask(segment: Segment, features: Features) -> np.ndarray:
    """Leads matching a segment's filter."""
    flt = segment.filter
    if flt.values is not None:
        cat = features.categorical[flt.column]
        wanted = {normalise_value(v) for v in flt.values}
        lut = np.array([False] + [k in wanted for k in _category_keys(cat)])
        return lut[cat.codes + 1]
    values = features.numeric[flt.column]
    mask = ~np.isnan(values)
    if flt.min is not None:
        mask &= values >= flt.min
    if flt.max is not None:
        mask &= values < flt.max
    return mask


RULE_CACHE_BYTES = 64 * 2**20
"""Per feature set, the points of recently used rules are kept up to this size, so scoring
again after one rule moved recomputes that rule and re-adds the others: 8 rules at 1M
leads. At 10M one rule's points (76 MB) are more than this, and none are kept: memory is
the limit there, and a slider move re-adds only the leads that moved (``scoring.model.rescore``)."""


CACHE_LOCK = threading.Lock()
"""Features are shared by the app's sessions (threads): cache bookkeeping takes this lock."""


def _remembered(features: Features, key: str, compute) -> np.ndarray:
    with CACHE_LOCK:
        cache: OrderedDict = features.cache.setdefault("rule_cache", OrderedDict())
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
    points = compute()
    points.setflags(write=False)
    with CACHE_LOCK:
        cache[key] = points
        while cache and sum(a.nbytes for a in cache.values()) > RULE_CACHE_BYTES:
            cache.popitem(last=False)
    return points


def rule_key(rule: CategoricalFit | NumericFit | EngagementRule, config: ScoringConfig) -> str:
    """What a rule's points per lead depend on (on given features)."""
    if isinstance(rule, EngagementRule):
        return f"eng:{rule_signal_key(config, rule)}:{rule.points!r}:{rule.cap!r}"
    return "fit:" + rule.model_dump_json()


def rule_points(rule: CategoricalFit | NumericFit | EngagementRule, config: ScoringConfig,
                features: Features) -> np.ndarray:
    """Points one rule gives each lead, remembered per feature set (read-only array)."""
    if isinstance(rule, EngagementRule):
        return _remembered(features, rule_key(rule, config), lambda: engagement_points(rule, config, features))
    return _remembered(features, rule_key(rule, config), lambda: fit_points(rule, features))


def fit_points_at(rule: CategoricalFit | NumericFit, features: Features, rows: np.ndarray) -> np.ndarray:
    """The same points as ``fit_points`` for some leads only, bit for bit."""
    if isinstance(rule, CategoricalFit):
        cat = features.categorical[rule.column]
        return categorical_lookup(rule, cat)[cat.codes[rows] + 1]
    lut = np.array([b.points for b in rule.bins] + [rule.other, rule.missing], dtype=np.float64)
    return lut[numeric_bin_index(rule, features.numeric[rule.column][rows])]


def engagement_inputs(config: ScoringConfig, features: Features) -> tuple:
    """The engagement rules as the compiled loops take them: each rule's active rows and
    activity values (sparse, ``Features.activity``), points, caps (inf for none), part cap."""
    rules = config.engagement
    activities = [features.activity(rule_signal_key(config, r)) for r in rules]
    rows = tuple(a.rows for a in activities)
    values = tuple(a.values for a in activities)
    points = np.array([float(r.points) for r in rules], dtype=np.float64)
    caps = np.array([np.inf if r.cap is None else float(r.cap) for r in rules], dtype=np.float64)
    return rows, values, points, caps, *cap_bounds(config.caps.engagement)


def engagement_part_at(config: ScoringConfig, features: Features, rows: np.ndarray) -> np.ndarray:
    """The engagement part of some leads (sorted positions), as ``part_sum`` of ``engagement_points``
    gives it, in one compiled pass (``kernels.engagement_at``)."""
    if not config.engagement:
        return part_sum([], rows.size, config.caps.engagement)
    _, values, points, caps, low, high = engagement_inputs(config, features)
    bits, before = engagement_lookups(config, features)
    return engagement_at(np.ascontiguousarray(rows, dtype=np.int64), bits, before, values, points, caps, low, high)


def engagement_lookups(config: ScoringConfig, features: Features) -> tuple[tuple, tuple]:
    """Each engagement rule's ``Activity.lookup`` (bitmaps, ranks), as ``kernels.engagement_at`` and
    ``kernels.gather_rows`` take them; built on first use (at 10M leads 4 ms a rule), then kept."""
    lookups = [features.activity(rule_signal_key(config, r)).lookup() for r in config.engagement]
    return tuple(x.bits for x in lookups), tuple(x.before for x in lookups)


def fit_part(rules: Iterable[CategoricalFit | NumericFit], features: Features, cap,
             submit: Callable[..., Future] | None = None) -> np.ndarray:
    """The fit part: ``part_sum`` of every fit rule's ``fit_points`` bit for bit (the points added
    in rule order from zero, then capped), each rule added in one compiled pass without an
    array of its own: at 10M leads the arrays per rule and per bin took 1.4 s of the first
    view after a restart, now 0.2 s. Rules' own points are still kept when a move compares them
    (``rule_points``).

    With ``submit`` (a second thread's ``submit``), the second half of the leads is added there
    while this thread adds the first: each lead's sum is the same sequence of additions, so
    the result is the same bit for bit (the compiled loops release the GIL). Its memory is
    mapped in first: two threads faulting in one fresh array took 180 ms at 10M leads.
    """
    out = mapped_zeros(features.n)
    steps: list[tuple[Callable, np.ndarray, tuple]] = []  # (loop, per-lead input, its tables)
    for rule in rules:
        if isinstance(rule, CategoricalFit):
            cat = features.categorical[rule.column]
            steps.append((add_lookup, cat.codes, (categorical_lookup(rule, cat),)))
        else:
            lows, highs = (np.asarray(a, dtype=np.float64) for a in rule.edges())
            lut = np.array([b.points for b in rule.bins] + [rule.other, rule.missing], dtype=np.float64)
            values = np.ascontiguousarray(features.numeric[rule.column], dtype=np.float64)
            steps.append((add_binned, values, (lows, highs, lut)))

    def add(lo: int, hi: int) -> None:
        part = out[lo:hi]
        for loop, per_lead, tables in steps:
            loop(part, per_lead[lo:hi], *tables)
        clip_part(part, cap, in_place=True)

    if submit is None or features.n < 2:
        add(0, features.n)
    else:
        mid = features.n // 2
        second = submit(add, mid, features.n)
        add(0, mid)
        second.result()
    return out


def part_sum(points: Iterable[np.ndarray], size: int, cap) -> np.ndarray:
    """Rule points added in rule order from zero, then capped: the order the exported SQL uses.

    ``points`` may be a generator: then one rule's array at a time is alive (at 10M leads
    each is 76 MB).
    """
    out = np.zeros(size)
    for p in points:
        out += p
    return clip_part(out, cap, in_place=True)


def _parts(fit_rules, engagement_rules, config: ScoringConfig, features: Features, known: dict | None = None):
    known = known or {}
    fit = known.get("fit")
    if fit is None:
        fit = fit_part(fit_rules, features, config.caps.fit)
    eng = known.get("engagement")
    if eng is None:
        eng = part_sum((rule_points(r, config, features) for r in engagement_rules), features.n,
                       config.caps.engagement)
    return fit, eng


def band_dtype(cuts: list[float]) -> np.dtype:
    """The narrowest integer type for band numbers (int8 up to 126 cut points)."""
    return np.dtype(np.int8 if len(cuts) < 127 else np.int16)


def band_index(total: np.ndarray, cuts: list[float]) -> np.ndarray:
    """Band of each score: 0 below the first cut point, i for [cuts[i-1], cuts[i]).

    One comparison per cut point: a few cheap passes beat a binary search per lead.
    """
    band = np.zeros(total.shape, dtype=band_dtype(cuts))
    for cut in cuts:
        band += total >= cut
    return band


def tier_index(total: np.ndarray, mql: np.ndarray | float, sql: np.ndarray | float) -> np.ndarray:
    """0 below MQL, 1 at or above MQL, 2 at or above SQL."""
    return ((total >= mql).astype(np.int8) + (total >= sql).astype(np.int8)).astype(np.int8)


def lead_thresholds(config: ScoringConfig, segment: np.ndarray) -> tuple:
    """MQL and SQL thresholds per lead (plain numbers when the config has no segments)."""
    if not config.segments:
        return config.thresholds.mql, config.thresholds.sql
    own = [config.thresholds] + [s.thresholds or config.thresholds for s in config.segments]
    mql = np.array([t.mql for t in own], dtype=np.float64)
    sql = np.array([t.sql for t in own], dtype=np.float64)
    return mql[segment + 1], sql[segment + 1]


def score(config: ScoringConfig, features: Features, known_parts: dict | None = None) -> Scores:
    """Score every lead with the config's rules (its segment's, where one matches).

    ``known_parts`` may give the 'fit' or 'engagement' part already computed under the same
    rules and cap (a slider move on an engagement rule leaves the fit part as it was).
    """
    seg = segment_index(config, features) if config.segments else no_segments(features)
    if not config.segments:
        fit, eng = _parts(config.fit, config.engagement, config, features, known_parts)
    else:
        fit, eng = np.zeros(features.n), np.zeros(features.n)
        groups = [(-1, None)] + list(enumerate(config.segments))
        for i, segment in groups:
            mask = seg == i
            if not mask.any():
                continue
            sub = features.subset(mask)
            fit_rules = config.fit if segment is None or segment.fit is None else segment.fit
            eng_rules = config.engagement if segment is None or segment.engagement is None else segment.engagement
            f, e = _parts(fit_rules, eng_rules, config, sub)
            fit[mask], eng[mask] = f, e
    mql, sql = lead_thresholds(config, seg)
    total = clip_part(fit + eng, config.caps.total, in_place=True)
    return Scores(
        fit=fit,
        engagement=eng,
        total=total,
        band=band_index(total, config.bands),
        tier=tier_index(total, mql, sql),
        segment=seg,
    )
