"""Let the data speak: suggested points, decay and thresholds from outcomes, and calibration.

The meeting starts from a draft and argues; this module says what last year's outcomes
would suggest, always on a *later hold-out period* the suggestion never saw, so the
meeting can trust it no more than it deserves:

- **points**: a regularised logistic regression (scikit-learn) on exactly the features
  the engine scores (one-hot of each categorical value incl. missing, the numeric bins,
  each engagement rule's decayed activity capped where its rule caps it), turned into
  whole points on the config's scale by points-to-double-the-odds scaling;
- **decay**: each decay option refitted and compared by hold-out AUC and Brier score;
- **thresholds**: SQL from a target SQL conversion rate, MQL from the monthly sales
  capacity (or, without one, where a lead becomes likelier than average to convert),
  with the trade-off curve (leads passed per month, share of conversions captured,
  conversion rate);
- **calibration**: score -> observed conversion (reliability by band, Wilson intervals)
  and a fitted score -> probability curve with its Brier score, so "a score of 80 means
  about X% convert" is a number, not a guess.

Only mature leads enter a fit or a rate. Everything is vectorised numpy on the cached
feature arrays; the decay comparison re-weighs the events the extraction kept
(``derive_features``), so it reads DuckDB no more than the draft did.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..base.numbers import nice
from ..model.config import (
    CategoricalFit,
    EngagementRule,
    ScoringConfig,
    config_from_dict,
    config_to_dict,
    normalise_value,
)
from ..model.engine import numeric_bin_index, score, segment_index
from ..model.features import Features, FeatureSpec, derive_features, feature_spec, rule_signal_key, union_spec
from ..model.kpis import DEFAULT_SQL_TARGET
from ..model.metrics import SMALL_BAND, auc, band_bounds, band_label, wilson_interval
from .attributes import bin_label
from .leakage import Leak

HOLDOUT_SHARE = 0.25
"""Share of the mature leads kept back (the latest ones, when the data has usable times)."""
MIN_SPLIT_CONVERSIONS = 20
"""Each side of the split needs this many conversions (and non-conversions) to be judged."""
MIN_LEADS = SMALL_BAND
"""Categorical values with fewer training leads than this share one pooled 'other' column."""
REGULARISATION_C = 1.0
"""Inverse L2 strength of the logistic regression (scikit-learn's C)."""
SCORE_RANGE_QUANTILES = (0.005, 0.995)
"""The suggested scale maps this central range of training log-odds onto the total cap."""
MAX_TRAIN = 300_000
"""Training leads used at most per fit (a seeded sample beyond), so a million leads stay quick."""
DECAY_MAX_TRAIN = 100_000
"""Training leads per refit when comparing decays (eleven fits; the ranking needs no more)."""
DECAY_OPTIONS: tuple[dict, ...] = (
    {"kind": "none"},
    {"kind": "exponential", "half_life_days": 7},
    {"kind": "exponential", "half_life_days": 14},
    {"kind": "exponential", "half_life_days": 30},
    {"kind": "exponential", "half_life_days": 60},
    {"kind": "linear", "lifespan_days": 30},
    {"kind": "linear", "lifespan_days": 60},
    {"kind": "linear", "lifespan_days": 90},
    {"kind": "window", "days": 7},
    {"kind": "window", "days": 14},
    {"kind": "window", "days": 30},
)
"""Decays compared by default."""
DECAY_TIE = 0.002
"""Hold-out AUCs closer than this are a tie: the current decay stays, else the lower Brier score wins."""
MQL_CAPTURE = 0.9
"""Without a sales capacity, MQL keeps at least this share of the conversions above it."""


# --------------------------------------------------------------------------- split


@dataclass
class Split:
    """Which mature leads train a suggestion and which judge it."""

    train: np.ndarray
    """Boolean mask over all leads."""
    holdout: np.ndarray
    """Boolean mask over all leads, disjoint from ``train``."""
    method: str
    """'time' (hold-out = the latest leads) or 'random' (seeded, stratified by outcome)."""
    description: str
    """One sentence for the screen and the CLI."""
    cut: dt.datetime | None = None
    """First creation time of the hold-out period (time split only)."""

    def to_dict(self) -> dict:
        """JSON-able summary (no masks)."""
        return {"method": self.method, "description": self.description,
                "cut": None if self.cut is None else self.cut.isoformat(sep=" "),
                "train_leads": int(self.train.sum()), "holdout_leads": int(self.holdout.sum())}


def _has_time(features: Features) -> bool:
    if not getattr(features, "point_in_time", True):
        return False
    return features.n > 0 and not np.isnat(features.created_at).all()


def holdout_split(features: Features, holdout_share: float = HOLDOUT_SHARE, seed: int = 0,
                  scope: np.ndarray | None = None,
                  min_conversions: int = MIN_SPLIT_CONVERSIONS) -> Split:
    """Train on the earlier mature leads, hold out the latest ``holdout_share`` of them.

    A later period is the honest test (next quarter's leads are what the model will
    meet). Where the data has no usable time (no creation times, or too few distinct
    ones to cut, or a period without enough conversions) the hold-out is a seeded
    random sample stratified by outcome instead, and the description says so.
    """
    if not 0.05 <= holdout_share <= 0.5:
        raise ValueError(f"the hold-out share must be between 0.05 and 0.5, got {holdout_share:g}")
    pool = features.mature.copy() if scope is None else features.mature & scope
    y = features.converted
    idx = np.flatnonzero(pool)
    if idx.size == 0:
        raise ValueError("there are no mature leads (outcome window passed) to learn from")
    reason = "the data has no creation times"
    if _has_time(features):
        t = features.created_at[idx].astype("datetime64[us]").astype(np.int64)
        order = np.argsort(t, kind="stable")
        cut_value = t[order[min(int(round(idx.size * (1 - holdout_share))), idx.size - 1)]]
        hold = t >= cut_value
        n_hold = int(hold.sum())
        ok_share = 0.5 * holdout_share <= n_hold / idx.size <= min(0.6, 2 * holdout_share)
        if ok_share and _enough(y[idx[~hold]], min_conversions) and _enough(y[idx[hold]], min_conversions):
            train, holdout = np.zeros(features.n, bool), np.zeros(features.n, bool)
            train[idx[~hold]] = True
            holdout[idx[hold]] = True
            cut = np.datetime64(int(cut_value), "us").astype(dt.datetime)
            first = features.created_at[idx].min().astype("datetime64[s]").astype(dt.datetime)
            last = features.created_at[idx].max().astype("datetime64[s]").astype(dt.datetime)
            return Split(train, holdout, "time",
                         f"Trained on {int(train.sum()):,} mature leads created {first:%Y-%m-%d} to "
                         f"{cut:%Y-%m-%d}; judged on the {int(holdout.sum()):,} created after, up to "
                         f"{last:%Y-%m-%d} (a later period the fit never saw).", cut)
        reason = ("the creation times cannot be cut into an earlier and a later period with "
                  f"{min_conversions} conversions each")
    rng = np.random.default_rng(seed)
    holdout = np.zeros(features.n, bool)
    for cls in (False, True):
        members = idx[y[idx] == cls]
        take = int(round(members.size * holdout_share))
        holdout[rng.permutation(members)[:take]] = True
    train = pool & ~holdout
    if not (_enough(y[train], min_conversions) and _enough(y[holdout], min_conversions)):
        raise ValueError(f"too few mature conversions to learn from and judge: need {min_conversions} "
                         f"converted and {min_conversions} not converted leads on each side")
    return Split(train, holdout, "random",
                 f"No usable time ({reason}): a random {holdout_share:.0%} of the mature leads, the same "
                 f"share of converted and other leads (seed {seed}), is held out; trained on "
                 f"{int(train.sum()):,}, judged on {int(holdout.sum()):,}.")


def _enough(y: np.ndarray, n: int) -> bool:
    k = int(y.sum())
    return k >= n and y.size - k >= n


# --------------------------------------------------------------------------- design matrix


@dataclass
class Column:
    """One column of the design matrix: a fit rule (its values' weight of evidence) or an engagement rule."""

    rule: int
    """Index in config.fit for fit columns, len(fit) + index in config.engagement otherwise."""
    kind: str
    """'woe' (a fit rule, WoE-encoded) or 'activity' (an engagement rule)."""
    label: str
    groups: list["Group"] = field(default_factory=list)
    """For a fit rule: its value groups with their training WoE."""


@dataclass
class Group:
    """A value group of a fit rule as the regression sees it: one weight of evidence for its leads."""

    kind: str
    """'value' (categorical), 'missing', 'other' (pooled rare values), 'bin', 'outside'."""
    label: str
    key: object
    """Normalised value (categorical), bin index (numeric), None otherwise."""
    woe: float
    """ln(share of training converters / share of other training leads) in it; 0 for no training leads."""
    train_leads: int


@dataclass
class Design:
    """The encoded features of a config's rules, as the engine reads them."""

    X: np.ndarray
    columns: list[Column]
    saturation: dict[int, float | None]
    """Engagement rule -> activity at which its cap binds (None: uncapped)."""


def _saturation(rule: EngagementRule) -> float | None:
    if rule.cap is None or rule.points == 0:
        return None
    return float(rule.cap) / abs(float(rule.points))


def _woe_column(group: np.ndarray, kinds: list[tuple[str, str, object]], y: np.ndarray, train: np.ndarray,
                rule: int, label: str) -> tuple[np.ndarray, Column]:
    """A fit rule's column: each lead's group replaced by the group's weight of evidence on the training leads."""
    from .leakage import woe_iv

    k = len(kinds)
    conv = np.bincount(group[train & y], minlength=k)
    other = np.bincount(group[train & ~y], minlength=k)
    woe, _, _ = woe_iv(conv, other)
    woe = np.nan_to_num(woe, nan=0.0)
    groups = [Group(kind, name, key, float(woe[i]), int(conv[i] + other[i])) for i, (kind, name, key) in enumerate(kinds)]
    return woe[group], Column(rule, "woe", label, groups)


def design_matrix(config: ScoringConfig, features: Features, train: np.ndarray,
                  min_leads: int = MIN_LEADS) -> Design:
    """One weight-of-evidence column per fit rule, capped activity per engagement rule: what the engine scores.

    Each fit rule's values (categorical values as the engine matches them, numeric bins)
    are encoded by their weight of evidence on the training leads (the Attributes page's
    WoE, half a lead counted in an empty class), so the regression fits one coefficient per
    attribute and the points keep the order and sign of the WoE. Categorical values with
    fewer than ``min_leads`` training leads share one 'other' group (the config's ``other``
    points); missing is its own group when it is common enough, else pooled too. Numeric
    rules get one group per bin, 'outside the bins' and 'missing'. An engagement rule's
    activity is capped where the rule's cap binds (cap / points events), so the
    regression sees the saturation the engine applies.
    """
    y = features.converted
    cols: list[np.ndarray] = []
    meta: list[Column] = []
    for r, rule in enumerate(config.fit):
        if isinstance(rule, CategoricalFit):
            cat = features.categorical[rule.column]
            keys = [normalise_value(v) for v in cat.categories]
            uniq = sorted(set(keys))
            position = {key: i for i, key in enumerate(uniq)}
            lut = np.array([0] + [1 + position[key] for key in keys], dtype=np.int64)
            raw = lut[cat.codes + 1]  # 0 missing, 1 + index of the normalised value
            counts = np.bincount(raw[train], minlength=len(uniq) + 1)
            by_code = np.bincount(cat.codes[train & (cat.codes >= 0)], minlength=len(cat.categories))
            best: dict[str, int] = {}
            for i, key in enumerate(keys):
                if key not in best or by_code[i] > by_code[best[key]]:
                    best[key] = i
            named = {normalise_value(k): k for k in rule.points}
            common = [j for j in range(1, len(uniq) + 1) if counts[j] >= min_leads]
            kinds: list[tuple[str, str, object]] = []
            remap = np.full(len(uniq) + 1, -1, dtype=np.int64)
            for j in common:
                key = uniq[j - 1]
                remap[j] = len(kinds)
                kinds.append(("value", named.get(key, str(cat.categories[best[key]])), key))
            if counts[0] >= min_leads:
                remap[0] = len(kinds)
                kinds.append(("missing", "(missing)", None))
            if (remap < 0).any():
                remap[remap < 0] = len(kinds)
                kinds.append(("other", "(other values)", None))
            column, info = _woe_column(remap[raw], kinds, y, train, r, rule.column)
        else:
            k = len(rule.bins)
            raw = numeric_bin_index(rule, features.numeric[rule.column])
            kinds = [("bin", bin_label(b.min, b.max), j) for j, b in enumerate(rule.bins)]
            kinds += [("outside", "(outside the bins)", k), ("missing", "(missing)", k + 1)]
            column, info = _woe_column(raw, kinds, y, train, r, rule.column)
        cols.append(column)
        meta.append(info)
    saturation: dict[int, float | None] = {}
    for e, rule in enumerate(config.engagement):
        activity = features.feature(rule_signal_key(config, rule))
        sat = _saturation(rule)
        saturation[e] = sat
        cols.append(activity if sat is None else np.minimum(activity, sat))
        meta.append(Column(len(config.fit) + e, "activity", rule.label))
    # float32 halves the memory of a million-lead design; WoE and activities need no more
    X = np.column_stack([c.astype(np.float32) for c in cols]) if cols else np.zeros((features.n, 0), np.float32)
    return Design(X, meta, saturation)


def linear_predictor(X: np.ndarray, model, chunk: int = 250_000) -> np.ndarray:
    """``X @ coef + intercept`` in float64, a block of rows at a time (no full float64 copy of X)."""
    beta, beta0 = model.coef_[0], float(model.intercept_[0])
    out = np.empty(len(X))
    for start in range(0, len(X), chunk):
        out[start:start + chunk] = X[start:start + chunk].astype(np.float64) @ beta + beta0
    return out


def fit_logistic(X: np.ndarray, y: np.ndarray, C: float = REGULARISATION_C,
                 max_train: int | None = MAX_TRAIN, seed: int = 0):
    """An L2-regularised logistic regression (scikit-learn), on a seeded sample beyond ``max_train``.

    Newton-Cholesky suits many leads and few columns; BLAS runs on one thread because a
    few dozen columns gain nothing from more, and a busy machine loses a lot to them.
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    if max_train is not None and len(y) > max_train:
        pick = np.sort(np.random.default_rng(seed).choice(len(y), max_train, replace=False))
        X, y = X[pick], y[pick]
    X = np.asarray(X, dtype=np.float64)
    model = LogisticRegression(C=C, solver="newton-cholesky", max_iter=200, tol=1e-8)
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(X, y)
    return model


# --------------------------------------------------------------------------- suggested points


@dataclass(frozen=True)
class TrainHoldout:
    """A figure on the training period and on the hold-out (None: that side cannot be judged)."""

    train: float | None
    holdout: float | None


@dataclass(frozen=True)
class Coefficient:
    """One design column of the fit: the rule, its value (or 'per event'), and the points it became."""

    rule: str
    value: str
    coefficient: float
    points: int
    train_leads: int
    woe: float | None = None
    """The value's weight of evidence (fit rules only)."""

    def to_dict(self) -> dict:
        out: dict = {"rule": self.rule, "value": self.value}
        if self.woe is not None:
            out["woe"] = self.woe
        return {**out, "coefficient": self.coefficient, "points": self.points, "train_leads": self.train_leads}


@dataclass(frozen=True)
class AucRow:
    """Train and hold-out AUC of one named config's scores (``compare_auc``)."""

    model: str
    train_auc: float | None
    holdout_auc: float | None
    train_leads: int
    holdout_leads: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Suggestion:
    """Suggested points as a valid config, and how well they do on data they never saw."""

    config: ScoringConfig
    split: Split
    pdo: float
    """Points that double the odds of converting."""
    coefficients: list[Coefficient]
    """Per design column: rule, value, coefficient, points, training leads."""
    auc: TrainHoldout
    """AUC of the suggested config's scores (whole points, caps)."""
    model_auc: TrainHoldout
    """AUC of the unrounded regression (before rounding to whole points)."""
    notes: list[str] = field(default_factory=list)
    left_out: list[Leak] = field(default_factory=list)
    """Columns left out as possible leakage (``scoring.analysis.leakage``): column, reason, message."""
    included: list[str] = field(default_factory=list)
    """Flagged columns put back on purpose (``include``)."""
    binned: list[str] = field(default_factory=list)
    """Activity columns whose per-unit points would round away, suggested as ranges instead."""


def _scope(config: ScoringConfig, features: Features) -> np.ndarray:
    """Leads scored by the model's own rules (segments keep theirs)."""
    if not config.segments:
        return np.ones(features.n, bool)
    return segment_index(config, features) == -1


def _total_range(config: ScoringConfig) -> tuple[float, float]:
    cap = config.caps.total
    lo = cap.min if cap and cap.min is not None else 0.0
    hi = cap.max if cap and cap.max is not None else lo + 100.0
    if cap and cap.min is None and cap.max is not None:
        lo = hi - 100.0
    return float(lo), float(hi)


UNIT_LOSS = 0.25
"""An activity column's per-unit points 'round away' when whole points change them by more than this share..."""
UNIT_SIGNAL = 1.0
"""...while a typical active lead (95th percentile) would get at least this many points from them."""
ACTIVITY_RANGES = 5
"""Such a column is suggested as (up to) this many quantile ranges of its values, plus one for none."""


def _without(config: ScoringConfig, columns: set[str]) -> ScoringConfig:
    """The config without the rules that read ``columns`` (fit columns and activity columns)."""
    if not columns:
        return config
    data = config_to_dict(config)
    data["fit"] = [r for r in data.get("fit", []) if r["column"] not in columns]
    data["engagement"] = [r for r in data.get("engagement", []) if r.get("column") not in columns]
    return config_from_dict(data, "suggestion")


def _rounds_away(config: ScoringConfig, features: Features, design: Design, beta: np.ndarray, b: float,
                 train: np.ndarray) -> list[str]:
    """Activity columns whose per-unit points would lose their signal as whole points (0.002 a second -> 0)."""
    n_fit = len(config.fit)
    out = []
    for e, rule in enumerate(config.engagement):
        if rule.column is None:
            continue
        j = next(j for j, c in enumerate(design.columns) if c.rule == n_fit + e)
        per_unit = b * float(beta[j])
        active = design.X[train, j]
        active = active[active > 0]
        if per_unit == 0 or not active.size:
            continue
        typical = float(np.quantile(active, 0.95))
        if abs(round(per_unit) - per_unit) > UNIT_LOSS * abs(per_unit) and abs(per_unit) * typical >= UNIT_SIGNAL:
            out.append(rule.column)
    return out


def _ranges(values: np.ndarray) -> list[dict]:
    """Bins of an activity: none (below the smallest positive value), then quantile ranges of the rest."""
    from .leakage import quantile_edges

    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    positive = v[v > 0]
    cuts: list[float] = []
    for edge in [float(positive.min())] + quantile_edges(positive, ACTIVITY_RANGES).tolist():
        edge = nice(edge)
        if edge > 0 and (not cuts or edge > cuts[-1]):
            cuts.append(edge)
    bins = [{"max": cuts[0], "points": 0}]
    bins += [{"min": lo, "max": hi, "points": 0} for lo, hi in zip(cuts, cuts[1:])]
    bins.append({"min": cuts[-1], "points": 0})
    return bins


def _binned(config: ScoringConfig, features: Features, columns: list[str], train: np.ndarray) -> ScoringConfig:
    """The config with those activity columns as numeric ranges (bins) instead of points per unit."""
    data = config_to_dict(config)
    data["engagement"] = [r for r in data.get("engagement", []) if r.get("column") not in columns]
    for column in columns:
        data.setdefault("fit", []).append({"type": "numeric", "column": column,
                                           "bins": _ranges(features.numeric[column][train]), "other": 0,
                                           "missing": 0})
    return config_from_dict(data, "suggestion")


def suggest_points(config: ScoringConfig, features: Features, split: Split | None = None, *,
                   holdout_share: float = HOLDOUT_SHARE, seed: int = 0, C: float = REGULARISATION_C,
                   min_leads: int = MIN_LEADS, max_train: int | None = MAX_TRAIN,
                   include: list[str] | tuple[str, ...] = (), leakage_iv: float | None = None) -> Suggestion:
    """Fit points on the training period and return them as a config on the draft's scale.

    - Possible leakage (``scoring.analysis.leakage``: a column filled only for converted or closed
      leads, or with IV above the line) is left out unless named in ``include``: its rule
      stays in the config at 0 points, and a note says so.
    - An activity column whose points per unit would round away as whole points (0.002 a
      second) becomes a numeric rule with quantile ranges (whole points per range).
    - The regression sees each fit attribute as its values' weight of evidence on the
      training leads (``design_matrix``): one coefficient per attribute, so a value's
      points are ``B * coefficient * WoE``: positive when it converts better than average,
      negative when worse, in the Attributes page's order. An attribute whose coefficient
      comes out negative next to the others gets 0 points (said in a note).
    - Scaling (points-to-double-odds): ``score = B * (log-odds - intercept)`` with
      ``B = PDO / ln 2``; PDO is the whole number of points that maps the central 99% of
      the training leads onto the width of the draft's total cap; the cap (and the bands)
      move by a multiple of 5 so that range fits in it.
    - Part caps are dropped (the regression fitted uncapped parts); decay and segments stay.
    - Thresholds pass the same share of the training leads as the draft's, or, when the
      draft's pass nobody or everybody, come from the thresholds tool; always inside the
      total cap, MQL below SQL, each passing at least one lead.
    """
    from .leakage import LEAKAGE_IV, config_leaks

    scope = _scope(config, features)
    split = split or holdout_split(features, holdout_share, seed, scope)
    train = split.train & scope
    y = features.converted
    leaks = config_leaks(config, features, LEAKAGE_IV if leakage_iv is None else leakage_iv, mask=train)
    include = list(include)
    unknown = [c for c in include if c not in {r.column for r in config.fit}
               | {r.column for r in config.engagement if r.column}]
    if unknown:
        raise ValueError(f"--include {', '.join(unknown)}: not a column the config scores")
    left_out = {c: leak for c, leak in leaks.items() if c not in include}
    work = _without(config, set(left_out))
    if not work.fit and not work.engagement:
        raise ValueError("the config has no fit or engagement rules to suggest points for"
                         + (" (every rule reads a column left out as possible leakage)" if left_out else ""))
    lo, hi = _total_range(config)
    design, model, reversed_ = _fit(work, features, train, y, C, min_leads, max_train, seed)
    b = _scale(design, model, train, hi - lo)[1]
    binned = _rounds_away(work, features, design, model.coef_[0], b, train)
    if binned:
        work = _binned(work, features, binned, train)
        design, model, reversed_ = _fit(work, features, train, y, C, min_leads, max_train, seed)
    beta, beta0 = model.coef_[0], float(model.intercept_[0])
    logit, b = _scale(design, model, train, hi - lo)
    pdo = float(round(b * math.log(2)))
    n_fit = len(work.fit)
    q_lo = float(np.quantile(logit[train], SCORE_RANGE_QUANTILES[0]))
    shift = 5 * round((b * (q_lo - beta0) - lo) / 5)
    notes = [split.description]
    data = config_to_dict(work)
    rule_dicts = {"fit": data.get("fit", []), "engagement": data.get("engagement", [])}
    coefficients = []
    fit_rules = []
    for r, rule in enumerate(work.fit):
        j, col = next((j, c) for j, c in enumerate(design.columns) if c.rule == r)
        slope = max(float(beta[j]), 0.0)  # a reversed attribute was refitted without it: 0 points
        pts = [round(b * slope * g.woe) + 0 for g in col.groups]  # + 0: no -0.0
        by_kind = {g.kind: p for g, p in zip(col.groups, pts) if g.kind in ("missing", "other", "outside")}
        other = by_kind.get("other", by_kind.get("outside", 0))
        rd = dict(rule_dicts["fit"][r])
        if isinstance(rule, CategoricalFit):
            rd["points"] = {g.label: float(p) for g, p in zip(col.groups, pts) if g.kind == "value"}
            rd["other"] = float(other)
            rd["missing"] = float(by_kind.get("missing", other))
        else:
            at = {g.key: p for g, p in zip(col.groups, pts) if g.kind == "bin"}
            rd["bins"] = [{**({"min": b_.min} if b_.min is not None else {}),
                           **({"max": b_.max} if b_.max is not None else {}), "points": float(at.get(i, 0))}
                          for i, b_ in enumerate(rule.bins)]
            rd["other"] = float(by_kind.get("outside", 0))
            rd["missing"] = float(by_kind.get("missing", 0))
        fit_rules.append(rd)
        for g, p in zip(col.groups, pts):
            if not g.train_leads:
                continue  # a group no training lead is in (e.g. no rare values): nothing was fitted on it
            coefficients.append(Coefficient(rule=f"fit '{rule.column}'", value=g.label, woe=g.woe,
                                            coefficient=float(beta[j]), points=int(p), train_leads=g.train_leads))
    eng_rules = []
    for e, rule in enumerate(work.engagement):
        j = next(j for j, c in enumerate(design.columns) if c.rule == n_fit + e)
        p = round(b * beta[j]) + 0
        rd = dict(rule_dicts["engagement"][e])
        rd["points"] = float(p)
        sat = design.saturation[e]
        if sat is not None and p != 0:
            rd["cap"] = float(max(1, round(abs(p) * sat)))
        eng_rules.append(rd)
        coefficients.append(Coefficient(rule=f"engagement '{rule.label}'",
                                        value="per event" if rule.column is None else "per unit",
                                        coefficient=float(beta[j]), points=int(p),
                                        train_leads=int(np.count_nonzero(design.X[train, j]))))
    # rules left out as possible leakage stay in the config at 0 points, so the meeting sees them
    for rd in config_to_dict(config).get("fit", []):
        if rd["column"] in left_out:
            rd = dict(rd, other=0.0, missing=0.0)
            if rd["type"] == "categorical":
                rd["points"] = {k: 0.0 for k in rd.get("points", {})}
            else:
                rd["bins"] = [dict(x, points=0.0) for x in rd["bins"]]
            fit_rules.append(rd)
    for rd in config_to_dict(config).get("engagement", []):
        if rd.get("column") in left_out:
            eng_rules.append(dict(rd, points=0.0))
    data["fit"] = fit_rules
    data["engagement"] = eng_rules
    caps = dict(data.get("caps") or {})
    dropped = [part for part in ("fit", "engagement") if caps.pop(part, None) is not None]
    if dropped:
        notes.append(f"The {' and '.join(dropped)} cap(s) are dropped: the regression fitted the parts uncapped, "
                     "and a cap would clip what it learned.")
    total_cap = caps.get("total")
    if total_cap is not None:
        caps["total"] = {k: v + shift for k, v in total_cap.items() if v is not None}
    data["caps"] = caps
    data["bands"] = [float(x + shift) for x in config.bands]
    if shift:
        notes.append(f"Each value's points follow its weight of evidence: positive for values that convert better than "
                     f"average, negative for worse, 0 for average (and no activity); so the total cap and the bands "
                     f"move by {shift:+g} to keep the central 99% of the training leads inside the cap.")
    data["description"] = (f"Suggested by leadcal from outcomes ({pdo:.3g} points double the odds); "
                           f"from '{config.name}'")
    data["thresholds"] = {"mql": config.thresholds.mql + shift, "sql": config.thresholds.sql + shift}
    draft = config_from_dict(data, "suggestion")
    scores = score(draft, features)
    mql, sql, note = suggested_thresholds(config, draft, features, scores.total, train)
    data["thresholds"] = {"mql": mql, "sql": sql}
    suggested = config_from_dict(data, "suggestion")
    notes.append(note)
    left = [leaks[c] for c in left_out]
    if left_out:
        notes.append("Left out as possible leakage (0 points; put one back with --include COLUMN or the Attributes "
                     "page's toggle): " + "; ".join(x.message for x in left) + ".")
    if include:
        notes.append("Included on purpose although flagged as possible leakage: " + ", ".join(
            c for c in include if c in leaks) + ".")
    if binned:
        notes.append("Scored as ranges (whole points per range) instead of points per unit, which would round away "
                     f"as whole points: {', '.join(binned)}.")
    if reversed_:
        notes.append("0 points for " + ", ".join(reversed_) + ": with the other attributes in the model it would "
                     "point against its own weight of evidence (its effect is carried by correlated attributes).")
    sub = features.converted
    result_auc = TrainHoldout(_auc(scores.total, sub, train), _auc(scores.total, sub, split.holdout & scope))
    model_auc = TrainHoldout(_auc(logit, sub, train), _auc(logit, sub, split.holdout & scope))
    notes.append(f"{pdo:.3g} points double the odds of converting; whole points, fitted on the training period "
                 f"(L2-regularised logistic regression, C={C:g}). Hold-out AUC before rounding "
                 f"{_fmt(model_auc.holdout)}, after {_fmt(result_auc.holdout)}.")
    return Suggestion(suggested, split, pdo, coefficients, result_auc, model_auc, notes, left,
                      [c for c in include if c in leaks], binned)


def _fit(config: ScoringConfig, features: Features, train: np.ndarray, y: np.ndarray, C: float, min_leads: int,
         max_train: int | None, seed: int):
    """The design and the regression; a fit attribute whose coefficient comes out negative (it would point
    against its own WoE, a collinearity artefact) is taken out and the rest refitted. Returns its names too."""
    design = design_matrix(config, features, train, min_leads)
    reversed_: list[str] = []
    keep = np.ones(design.X.shape[1], bool)
    for _ in range(len(config.fit) + 1):
        X = np.where(keep, design.X, np.float32(0))
        model = fit_logistic(X[train], y[train], C, max_train, seed)
        bad = [j for j, c in enumerate(design.columns) if c.kind == "woe" and keep[j] and model.coef_[0][j] < 0]
        if not bad:
            break
        j = min(bad, key=lambda j: model.coef_[0][j])  # the most reversed first; others may recover
        keep[j] = False
        reversed_.append(design.columns[j].label)
    design.X = np.where(keep, design.X, np.float32(0))
    return design, model, reversed_


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _scale(design: Design, model, train: np.ndarray, width: float) -> tuple[np.ndarray, float]:
    """The regression's log-odds per lead and B (points per unit of log-odds): the central 99% of the
    training leads span ``width`` points, with PDO (= B ln 2) a whole number of at least one point."""
    logit = linear_predictor(design.X, model)
    q_lo, q_hi = np.quantile(logit[train], SCORE_RANGE_QUANTILES)
    spread = max(float(q_hi - q_lo), 1e-6)
    pdo = float(max(1, round(width / spread * math.log(2))))
    return logit, pdo / math.log(2)


def suggested_thresholds(config: ScoringConfig, suggested: ScoringConfig, features: Features, total: np.ndarray,
                         mask: np.ndarray) -> tuple[float, float, str]:
    """MQL and SQL on the suggested scale: the draft's volumes when they are usable, always sound.

    The draft's thresholds are kept in volume (``same_volume_thresholds``) when they pass
    some but not all leads; otherwise (a zero-point starter passes nobody) the thresholds
    tool places them (SQL by the target conversion rate, MQL by the conversions it keeps).
    Either way they end inside the total cap, MQL below SQL, each passing at least one
    training lead.
    """
    draft_total = score(config, features).total[mask]
    shares = [float((draft_total >= t).mean()) if draft_total.size else 0.0
              for t in (config.thresholds.mql, config.thresholds.sql)]
    if 0 < shares[1] and shares[0] < 1:
        mql, sql, note = same_volume_thresholds(config, suggested, features, total, mask)
    else:
        mql, sql = float(suggested.thresholds.mql), float(suggested.thresholds.sql)
        note = (f"The draft's thresholds ({config.thresholds.mql:g}, {config.thresholds.sql:g}) pass "
                f"{'no' if shares[1] == 0 else 'every'} training lead, so they say nothing about volume: MQL "
                f"{mql:g} and SQL {sql:g} keep their place on the scale (moved with the cap)")
    note = note.rstrip(".")
    passed = total[mask]
    cap = suggested.caps.total
    low = cap.min if cap and cap.min is not None else -math.inf
    high = cap.max if cap and cap.max is not None else math.inf
    top = math.floor(float(passed.max())) if passed.size else high
    wanted = (mql, sql)
    sql = min(sql, top, high)          # at least one lead passes SQL, inside the cap
    mql = max(min(mql, sql - 1), low)  # below SQL, inside the cap
    if (mql, sql) != wanted:
        note += (f"; moved to MQL {mql:g} and SQL {sql:g} so both lie inside the total cap, MQL below SQL, and "
                 "at least one lead passes each")
    if not low <= mql < sql <= high:
        raise ValueError(f"the suggested scores ({float(passed.min()):g} to {float(passed.max()):g}) leave no room "
                         f"for MQL below SQL inside the total cap ({low:g} to {high:g})")
    return float(mql), float(sql), note + "."


def same_volume_thresholds(config: ScoringConfig, suggested: ScoringConfig, features: Features,
                           total: np.ndarray, mask: np.ndarray) -> tuple[float, float, str]:
    """MQL and SQL on the suggested scale that pass the same share of leads as the draft's.

    New points change who passes, not how many: the volumes the meeting agreed stay,
    so the comparison with the draft is about the ranking alone. (The thresholds tool
    suggests thresholds from a target rate or capacity separately.)
    """
    draft_total = score(config, features).total[mask]
    curve = threshold_curve(total, features, mask)
    out = []
    for line in (config.thresholds.mql, config.thresholds.sql):
        share = float((draft_total >= line).mean()) if draft_total.size else 0.0
        row = min(curve, key=lambda r: (abs((r.share or 0.0) - share), r.threshold))
        out.append((row.threshold, share))
    (mql, mql_share), (sql, sql_share) = out
    if sql <= mql:
        sql = mql + 1
    return float(mql), float(sql), (
        f"Thresholds keep the draft's volumes: MQL {mql:g} passes about {mql_share:.1%} of the training leads, "
        f"SQL {sql:g} about {sql_share:.1%}, as the draft's {config.thresholds.mql:g} and "
        f"{config.thresholds.sql:g} do.")


def _auc(values: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float | None:
    a = auc(values[mask], y[mask]) if mask.any() else math.nan
    return None if math.isnan(a) else float(a)


def compare_auc(configs: dict[str, ScoringConfig], features: Features, split: Split) -> list[AucRow]:
    """Train and hold-out AUC of each named config's scores on the same split."""
    rows = []
    for name, config in configs.items():
        total = score(config, features).total
        rows.append(AucRow(name, _auc(total, features.converted, split.train),
                           _auc(total, features.converted, split.holdout),
                           int(split.train.sum()), int(split.holdout.sum())))
    return rows


# --------------------------------------------------------------------------- decay


def decay_label(decay: dict) -> str:
    """'exponential, half-life 14 d' and the like."""
    kind = decay["kind"]
    if kind == "exponential":
        return f"exponential, half-life {decay['half_life_days']:g} d"
    if kind == "linear":
        return f"linear, lifespan {decay['lifespan_days']:g} d"
    if kind == "window":
        return f"window, last {decay['days']:g} d"
    return "none"


def with_decay(config: ScoringConfig, decay: dict) -> ScoringConfig:
    """The config with ``decay`` as its default and no per-rule decay overrides."""
    data = config_to_dict(config)
    data["decay"] = dict(decay)
    for rule in data.get("engagement", []):
        rule.pop("decay", None)
    for seg in data.get("segments", []):
        for rule in seg.get("engagement") or []:
            rule.pop("decay", None)
    return config_from_dict(data, "decay option")


def with_thresholds(config: ScoringConfig, mql: float, sql: float) -> ScoringConfig:
    """The config with new MQL and SQL thresholds (validated: mql below sql)."""
    data = config_to_dict(config)
    data["thresholds"] = {"mql": float(mql), "sql": float(sql)}
    return config_from_dict(data, "suggested thresholds")


def decay_spec(config: ScoringConfig, options: tuple[dict, ...] | list[dict] = DECAY_OPTIONS) -> FeatureSpec:
    """One feature spec holding the signals of every decay option (for callers that want them all at once)."""
    spec = feature_spec(config)
    for option in options:
        merged = union_spec(spec, feature_spec(with_decay(config, option)))
        assert merged is not None  # same mapping and evaluation by construction
        spec = merged
    return spec


def features_with_signals(features: Features, config: ScoringConfig) -> Features:
    """Features holding the config's decayed sums: ``features`` when it has them all, else
    derived from its kept events (numpy, no DuckDB; shares the lead arrays)."""
    spec = feature_spec(config)
    if all(s.key in features.signals for s in spec.signals):
        return features
    derived = derive_features(features, spec)
    if derived is None and features.events is None and features.spec is not None and features.spec.signals:
        raise ValueError("these features hold the decayed sums they were computed with, not the events, so "
                         "another decay cannot be weighed (a feature set from the warehouse: export the feature "
                         "SQL with that decay to compare it)")
    if derived is None:
        raise ValueError("the features hold neither this decay's activity sums nor the events to compute them "
                         "(extract them for decay_spec(config))")
    return derived


@dataclass
class DecayRow:
    """One decay option, its points refitted, judged on the hold-out."""

    decay: dict
    """The decay as the config writes it ({'kind': ..., its parameter})."""
    label: str
    holdout_auc: float | None
    train_auc: float | None
    holdout_brier: float | None
    draft_points_holdout_auc: float | None
    """The draft's own points under this decay (no refit)."""
    current: bool
    """The draft's decay."""
    suggested: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DecayComparison:
    """Every decay option compared, and the one suggested with the reason in words."""

    rows: list[DecayRow]
    suggested: dict | None
    """The suggested decay as the config writes it; None when no option could be judged."""
    reason: str | None
    split: Split

    def to_dict(self) -> dict:
        return {"rows": [r.to_dict() for r in self.rows], "suggested": self.suggested, "reason": self.reason,
                "split": self.split.to_dict()}


def compare_decays(config: ScoringConfig, features: Features, split: Split,
                   options: tuple[dict, ...] | list[dict] = DECAY_OPTIONS, *, C: float = REGULARISATION_C,
                   min_leads: int = MIN_LEADS, seed: int = 0, max_train: int | None = DECAY_MAX_TRAIN
                   ) -> DecayComparison:
    """Refit the points under each decay; compare hold-out AUC and Brier score; suggest one.

    ``features`` are the draft's (one extraction): each option's sums are derived from
    the events they kept, one option at a time (or taken from ``features`` when it holds
    them, see ``decay_spec``). The refit per decay is what makes the comparison fair: a
    decay that keeps more events changes what a point per event is worth. Also shown: the draft's own points under each decay
    (no refit). The best hold-out AUC wins; within ``DECAY_TIE`` the lower Brier score.
    """
    scope = _scope(config, features)
    train, hold = split.train & scope, split.holdout & scope
    y = features.converted
    current = config.decay.model_dump(mode="json")
    rows = []
    for option in options:
        cfg = with_decay(config, option)
        option_features = features_with_signals(features, cfg)
        design = design_matrix(cfg, option_features, train, min_leads)
        model = fit_logistic(design.X[train], y[train], C, max_train, seed)
        p = 1 / (1 + np.exp(-linear_predictor(design.X, model)))
        draft_total = score(cfg, option_features).total
        rows.append(DecayRow(
            decay=dict(option),
            label=decay_label(option),
            holdout_auc=_auc(p, y, hold),
            train_auc=_auc(p, y, train),
            holdout_brier=brier(p[hold], y[hold]) if hold.any() else None,
            draft_points_holdout_auc=_auc(draft_total, y, hold),
            current=_same_decay(option, current),
        ))
    ranked = [r for r in rows if r.holdout_auc is not None]
    best, reason = None, None
    if ranked:
        top = max(r.holdout_auc for r in ranked)
        tied = [r for r in ranked if r.holdout_auc >= top - DECAY_TIE]
        keep = next((r for r in tied if r.current), None)
        best = keep or min(tied, key=lambda r: (r.holdout_brier if r.holdout_brier is not None else math.inf))
        best.suggested = True
        if keep is not None:
            reason = (f"Keep {best.label}: no option beats it on the hold-out by more than {DECAY_TIE:g} AUC "
                      f"(best {top:.3f}, this {best.holdout_auc:.3f}).")
        else:
            reason = (f"{best.label}: hold-out AUC {best.holdout_auc:.3f} after refitting the points"
                      + (f", within {DECAY_TIE:g} of the best and the lowest Brier score of those"
                         if len(tied) > 1 else ", the best") + ".")
    return DecayComparison(rows, None if best is None else best.decay, reason, split)


def _same_decay(a: dict, b: dict) -> bool:
    return a.get("kind") == b.get("kind") and all(
        float(a[k]) == float(b.get(k, math.nan)) for k in a if k != "kind")


# --------------------------------------------------------------------------- thresholds


def _full_months(features: Features, mask: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Leads in full calendar months (first and last month dropped when there are 3+), and their count."""
    if not _has_time(features) or not mask.any():
        return None
    months = features.scoring_month
    m = months[mask]
    first, last = int(m.min()), int(m.max())
    span = last - first + 1
    if span >= 3:
        keep = mask & (months > first) & (months < last)
        return keep, span - 2
    return mask.copy(), span


@dataclass(frozen=True)
class CurvePoint:
    """At one candidate threshold: the mature leads at or above it, per month, conversions, capture and rate."""

    threshold: float
    leads: int
    share: float | None
    per_month: float | None
    """None without usable creation times."""
    conversions: int
    capture: float | None
    rate: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def threshold_curve(total: np.ndarray, features: Features, mask: np.ndarray | None = None,
                    thresholds: np.ndarray | None = None) -> list[CurvePoint]:
    """Per candidate threshold: leads passed per month, share passed, capture and conversion rate.

    ``mask`` picks the leads (e.g. the training period); rates and capture use its mature
    leads, volume per month all its leads in full calendar months (as the KPI row does).
    Vectorised: one sort, then ``searchsorted`` for every threshold.
    """
    mask = np.ones(features.n, bool) if mask is None else mask
    mature = mask & features.mature
    y = features.converted & mature
    if thresholds is None:
        lo, hi = (math.floor(total[mask].min()), math.ceil(total[mask].max())) if mask.any() else (0, 0)
        thresholds = np.arange(lo, hi + 1, dtype=np.float64)
    s_m = np.sort(total[mature])
    s_y = np.sort(total[y])
    n_m, n_y = s_m.size, s_y.size
    at_or_above = n_m - np.searchsorted(s_m, thresholds, side="left")
    conv_above = n_y - np.searchsorted(s_y, thresholds, side="left")
    months = _full_months(features, mask)
    if months is not None:
        keep, n_months = months
        s_all = np.sort(total[keep])
        per_month = (s_all.size - np.searchsorted(s_all, thresholds, side="left")) / max(n_months, 1)
    else:
        per_month = np.full(len(thresholds), np.nan)
    rows = []
    for i, t in enumerate(thresholds):
        rows.append(CurvePoint(
            threshold=float(t),
            leads=int(at_or_above[i]),
            share=float(at_or_above[i] / n_m) if n_m else None,
            per_month=None if math.isnan(per_month[i]) else float(per_month[i]),
            conversions=int(conv_above[i]),
            capture=float(conv_above[i] / n_y) if n_y else None,
            rate=float(conv_above[i] / at_or_above[i]) if at_or_above[i] else None,
        ))
    return rows


@dataclass(frozen=True)
class ThresholdSuggestion:
    """Suggested MQL and SQL thresholds, why (in words), and the trade-off curve they were read from."""

    mql: float
    sql: float
    notes: list[str]
    curve: list[CurvePoint]
    at_mql: CurvePoint | None
    at_sql: CurvePoint | None
    sql_target: tuple[float, float]
    capacity_per_month: float | None
    mql_capture: float

    def to_dict(self) -> dict:
        return {"mql": self.mql, "sql": self.sql, "notes": list(self.notes),
                "curve": [c.to_dict() for c in self.curve],
                "at_mql": None if self.at_mql is None else self.at_mql.to_dict(),
                "at_sql": None if self.at_sql is None else self.at_sql.to_dict(),
                "sql_target": list(self.sql_target), "capacity_per_month": self.capacity_per_month,
                "mql_capture": self.mql_capture}


def suggest_thresholds(config: ScoringConfig, features: Features, total: np.ndarray | None = None, *,
                       mask: np.ndarray | None = None,
                       sql_target: tuple[float, float] = DEFAULT_SQL_TARGET,
                       capacity_per_month: float | None = None, mql_capture: float = MQL_CAPTURE,
                       min_leads: int = MIN_LEADS) -> ThresholdSuggestion:
    """MQL and SQL thresholds from the outcomes, with the reasons and the trade-off curve.

    - SQL: the whole-point threshold at or above which leads convert closest to the
      middle of the target range (on target with room either side, not on its edge);
      at least ``min_leads`` mature leads must pass.
    - MQL: with a monthly sales capacity, the lowest threshold passing no more leads a
      month than sales can take (the Calibrate page's capacity check). Without one, the
      highest threshold that still keeps ``mql_capture`` of the conversions at or above
      it: marketing passes on nearly every lead that will buy.
    - MQL stays below SQL. When the rules cross, the capacity wins over the rate target
      (SQL goes one point above MQL); otherwise MQL goes one point below SQL. Both with a note.
    """
    total = score(config, features).total if total is None else total
    mask = np.ones(features.n, bool) if mask is None else mask
    curve = threshold_curve(total, features, mask)
    notes = []
    lo_t, hi_t = sql_target
    mid = (lo_t + hi_t) / 2
    eligible = [r for r in curve if r.leads >= min_leads and r.rate is not None]
    if not eligible:
        raise ValueError("too few mature leads to suggest thresholds")
    sql_row = min(eligible, key=lambda r: (abs(r.rate - mid), r.threshold))
    if lo_t <= sql_row.rate <= hi_t:
        notes.append(f"SQL {sql_row.threshold:g}: leads at or above it convert at {sql_row.rate:.1%}, "
                     f"in the middle of the target {lo_t:.0%}–{hi_t:.0%}.")
    else:
        notes.append(f"No threshold puts SQL conversion within {lo_t:.0%}–{hi_t:.0%}; SQL {sql_row.threshold:g} "
                     f"comes closest ({sql_row.rate:.1%}).")
    sql = sql_row.threshold
    mql_row = None
    by_capacity = False
    if capacity_per_month is not None and capacity_per_month > 0:
        if curve[0].per_month is None:
            notes.append("The data has no usable creation times, so leads per month (and the capacity) cannot "
                         "be used; MQL follows the capture rule instead.")
        else:
            fits = [r for r in curve if r.per_month is not None and r.per_month <= capacity_per_month]
            if fits:
                mql_row, by_capacity = fits[0], True
                notes.append(f"MQL {mql_row.threshold:g}: the lowest score passing no more than the sales "
                             f"capacity of {capacity_per_month:,.0f} leads a month ({mql_row.per_month:,.0f}).")
    if mql_row is None:
        keeps = [r for r in curve if r.capture is not None and r.capture >= mql_capture]
        mql_row = keeps[-1] if keeps else curve[0]
        notes.append(f"MQL {mql_row.threshold:g}: the highest score that keeps {mql_row.capture or 0:.0%} "
                     f"(at least {mql_capture:.0%}) of the conversions at or above it.")
    mql = mql_row.threshold
    at = {r.threshold: r for r in curve}
    if mql >= sql and by_capacity:
        sql = mql + 1
        rate = at[sql].rate if sql in at else None
        notes.append(f"SQL raised to {sql:g}, one point above MQL, so the leads passed stay within the sales "
                     f"capacity" + (f" (SQL conversion {rate:.1%}, above the target)." if rate is not None else "."))
    elif mql >= sql:
        mql = sql - 1
        notes.append(f"MQL moved to {mql:g}, one point below SQL, so the tiers stay in order: the SQL target is "
                     "reached so low on this data that nearly every lead worth passing is sales-ready (consider "
                     "a higher target, or set the sales capacity).")
    return ThresholdSuggestion(mql, sql, notes, curve, at.get(mql), at.get(sql), tuple(sql_target),
                               capacity_per_month, mql_capture)


# --------------------------------------------------------------------------- calibration


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Brier score: mean squared gap between predicted probability and outcome (0 is perfect)."""
    p = np.asarray(p, dtype=np.float64)
    return float(np.mean((p - np.asarray(y, dtype=np.float64)) ** 2)) if p.size else math.nan


def fit_platt(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float] | None:
    """Maximum-likelihood ``p = sigmoid(a + b * x)`` by Newton's method; None without both classes.

    The score is scaled internally (mean 0, sd 1) for a stable fit; the returned
    coefficients are on the score's own scale.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0 or y.min() == y.max():
        return None
    mu, sd = float(x.mean()), float(x.std()) or 1.0
    z = (x - mu) / sd
    w = np.array([math.log(y.mean() / (1 - y.mean())), 0.0])
    A = np.column_stack([np.ones_like(z), z])
    for _ in range(iterations):
        with np.errstate(over="ignore"):  # a separating score saturates the sigmoid: 0 or 1 is right
            p = 1 / (1 + np.exp(-(A @ w)))
        grad = A.T @ (y - p)
        h = (A * (p * (1 - p))[:, None]).T @ A
        step = np.linalg.solve(h + 1e-12 * np.eye(2), grad)
        w = w + step
        if np.max(np.abs(step)) < 1e-10:
            break
    a0, b0 = float(w[0]), float(w[1])
    return a0 - b0 * mu / sd, b0 / sd


@dataclass(frozen=True)
class ScoreProbability:
    """The fitted curve p = sigmoid(a + b * score)."""

    a: float
    b: float

    def prob(self, score_value):
        """Probability of converting at a score (or an array of scores)."""
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-(self.a + self.b * np.asarray(score_value, dtype=np.float64))))

    def score_at(self, p: float) -> float | None:
        """The score at which the fitted probability is ``p`` (None when the curve does not rise)."""
        if self.b <= 0 or not 0 < p < 1:
            return None
        return (math.log(p / (1 - p)) - self.a) / self.b


def score_probability(total: np.ndarray, converted: np.ndarray, mask: np.ndarray) -> ScoreProbability | None:
    """The fitted score -> conversion probability curve on the masked mature leads."""
    fit = fit_platt(total[mask], converted[mask])
    return None if fit is None else ScoreProbability(*fit)


@dataclass(frozen=True)
class ReliabilityBand:
    """One score band on the hold-out: observed conversion (Wilson 95%) beside the fitted curve's prediction."""

    band: str
    low: float | None
    high: float | None
    leads: int
    conversions: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    predicted: float | None
    mean_score: float | None
    small: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ProbabilityAt:
    """'A score of 80 means about 35% convert'."""

    score: float
    probability: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Curve:
    """A fitted curve sampled for a chart."""

    score: list[float]
    probability: list[float]


@dataclass(frozen=True)
class Reliability:
    """Score -> observed conversion per band, the fitted curve and its Brier score (``reliability``)."""

    bands: list[ReliabilityBand]
    split: Split
    fitted: ScoreProbability | None = None
    """None when the training leads hold one class only."""
    brier_train: float | None = None
    brier_holdout: float | None = None
    brier_reference: float | None = None
    """Brier score of always predicting the training base rate."""
    brier_skill: float | None = None
    probability_at: list[ProbabilityAt] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"bands": [b.to_dict() for b in self.bands], "split": self.split.to_dict(),
                "fitted": None if self.fitted is None else {"a": self.fitted.a, "b": self.fitted.b},
                "brier_train": self.brier_train, "brier_holdout": self.brier_holdout,
                "brier_reference": self.brier_reference, "brier_skill": self.brier_skill,
                "probability_at": [p.to_dict() for p in self.probability_at]}


def reliability(config: ScoringConfig, features: Features, split: Split, total: np.ndarray | None = None,
                points: list[float] | None = None) -> Reliability:
    """Score -> observed conversion per band (Wilson 95%), the fitted curve and its Brier score.

    The score -> probability curve is fitted on the training leads; the bands, the
    Brier score and its skill against always predicting the training base rate are
    judged on the hold-out leads. ``probability_at`` answers "a score of 80 means about
    X% convert" at the band cut points and the thresholds (or at ``points``).
    """
    total = score(config, features).total if total is None else total
    y = features.converted
    train, hold = split.train, split.holdout
    cal = score_probability(total, y, train)
    cuts = list(config.bands)
    band = np.searchsorted(np.asarray(cuts, dtype=np.float64), total, side="right")
    k = len(cuts) + 1
    leads = np.bincount(band[hold], minlength=k)
    conv = np.bincount(band[hold & y], minlength=k)
    low, high = wilson_interval(conv, leads)
    if cal is not None:
        p = cal.prob(total)
        pred = np.bincount(band[hold], weights=p[hold], minlength=k)
        mean_score = np.bincount(band[hold], weights=total[hold], minlength=k)
    cap = config.caps.total
    bounds = band_bounds(cuts, cap.min if cap else None, cap.max if cap else None)
    rows = []
    for i, (lo, hi) in enumerate(bounds):
        rows.append(ReliabilityBand(
            band=band_label(lo, hi), low=lo, high=hi, leads=int(leads[i]), conversions=int(conv[i]),
            rate=float(conv[i] / leads[i]) if leads[i] else None,
            ci_low=None if not leads[i] else float(low[i]), ci_high=None if not leads[i] else float(high[i]),
            predicted=float(pred[i] / leads[i]) if cal is not None and leads[i] else None,
            mean_score=float(mean_score[i] / leads[i]) if cal is not None and leads[i] else None,
            small=bool(leads[i] < SMALL_BAND),
        ))
    if cal is None:
        return Reliability(rows, split)
    base = float(y[train].mean()) if train.any() else math.nan
    p = cal.prob(total)
    brier_holdout = brier_reference = brier_skill = None
    if hold.any():
        brier_holdout = brier(p[hold], y[hold])
        brier_reference = brier(np.full(int(hold.sum()), base), y[hold])
        if brier_reference > 0:
            brier_skill = 1 - brier_holdout / brier_reference
    marks = points if points is not None else sorted(
        set(cuts) | {float(config.thresholds.mql), float(config.thresholds.sql)})
    return Reliability(rows, split, cal, brier(p[train], y[train]), brier_holdout, brier_reference, brier_skill,
                       [ProbabilityAt(float(s), float(cal.prob(s))) for s in marks])


def curve_points(reliability_result: Reliability, lo: float, hi: float, n: int = 101) -> Curve:
    """The fitted score -> probability curve sampled for a chart."""
    if reliability_result.fitted is None:
        return Curve([], [])
    s = np.linspace(lo, hi, n)
    return Curve(s.tolist(), reliability_result.fitted.prob(s).tolist())


def reliability_line(reliability_result: Reliability, config: ScoringConfig) -> Curve:
    """The fitted curve over the score range: the total cap, else the bands' mean scores."""
    shown = [b.mean_score for b in reliability_result.bands if b.leads > 0]
    cap = config.caps.total
    lo = cap.min if cap and cap.min is not None else (min(shown) if shown else 0.0)
    hi = cap.max if cap and cap.max is not None else (max(shown) if shown else 1.0)
    return curve_points(reliability_result, float(lo), float(hi))


def probability_sentence(reliability_result: Reliability) -> str:
    """'a score of 80 means about 35% convert; ...' for the meeting."""
    return "; ".join(f"a score of {p.score:g} means about {p.probability:.0%} convert"
                     for p in reliability_result.probability_at)
