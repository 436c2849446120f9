"""Post-outcome columns: the one definition of "possible leakage" that import, the Attributes
page and ``suggest`` all use.

A backtest lies when a column is filled in after the outcome is known (a sales status, a
lost reason, a field that exists only for won deals): it predicts too well to be true.
Three signs, checked on the leads whose outcome is known (and, for the second, on the
open ones), each with its reason in words:

1. **filled only for converted leads**: at least half of the converted leads have a
   value, and at most ``ONLY_SHARE`` (2%) of the others do;
2. **filled only for closed leads**: with a won / lost / open outcome, at least half of
   the closed (won or lost) leads have a value and at most 2% of the open ones do;
3. **information value above the leakage line** (``LEAKAGE_IV``, 1.0): a value (or a
   numeric bin) that converts at nearly 100% or 0%; values with fewer than 30 known leads
   are pooled for this, so chance in a small value is not taken for leakage.

Each sign needs at least ``MIN_GROUP`` leads in the groups it compares.

A flagged column is never proposed as a fit rule by the import and is left out of a
suggestion by default; it is flagged on the Attributes page. Nothing is removed without
saying so, and a flagged column can be put back deliberately (``--include COL``).

Numeric columns are grouped in quantile bins (``numeric_groups``) for the IV, so a
per-second activity is judged by its spread, not as "any activity or none".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEAKAGE_IV = 1.0
"""IV above which an attribute is flagged as possible leakage (credit scoring uses 0.5; see README)."""
ONLY_SHARE = 0.02
"""A column filled for at most this share of the other (or open) leads is "filled only" for the first group."""
MIN_FILLED = 0.5
"""...when at least this share of the first group has a value."""
MIN_GROUP = 10
"""Groups smaller than this are not judged (a share of three leads says nothing)."""
MIN_VALUE_LEADS = 30
"""For the IV sign, values with fewer known leads than this are pooled: a value held by three leads
that all converted is chance, not leakage."""
QUANTILE_BINS = 10
"""Numeric columns are judged in (up to) this many quantile bins, plus one for missing."""
SMOOTHING = 0.5
"""Leads counted in a class that is empty in a group (Haldane-Anscombe style), so WoE is finite."""


@dataclass(frozen=True)
class Leak:
    """Why a column looks filled after the outcome."""

    column: str
    reason: str
    """'converted only', 'closed only' or 'iv'."""
    message: str
    """One sentence for the screen, the CLI and JSON."""
    iv: float | None = None

    def to_dict(self) -> dict:
        """JSON-able form."""
        return {"column": self.column, "reason": self.reason, "message": self.message, "iv": self.iv}


def woe_iv(conversions: np.ndarray, non_conversions: np.ndarray,
           smoothing: float = SMOOTHING) -> tuple[np.ndarray, np.ndarray, float]:
    """WoE per group, each group's IV term, and the IV, from class counts per group.

    ``WoE = ln((c_i / C) / (n_i / N))`` with an empty class cell counted as ``smoothing``
    leads (the totals C, N stay the real ones). Groups without leads get NaN WoE and a
    zero IV term. With one class only (no converters or none lost) everything is NaN.
    """
    c = np.asarray(conversions, dtype=np.float64)
    n = np.asarray(non_conversions, dtype=np.float64)
    total_c, total_n = c.sum(), n.sum()
    if total_c <= 0 or total_n <= 0:
        nan = np.full(c.shape, np.nan)
        return nan, nan.copy(), math.nan
    has = (c + n) > 0
    p_c = np.where(c > 0, c, smoothing) / total_c
    p_n = np.where(n > 0, n, smoothing) / total_n
    woe = np.where(has, np.log(p_c / p_n), np.nan)
    part = np.where(has, (p_c - p_n) * np.nan_to_num(woe), 0.0)
    return woe, part, float(part.sum())


def quantile_edges(values: np.ndarray, bins: int = QUANTILE_BINS) -> np.ndarray:
    """Inner cut points of (up to) ``bins`` quantile bins of the filled values, distinct and increasing.

    A value shared by many leads (the zeros of an activity) keeps one bin: the cut points
    are the distinct quantiles, so a tie is never split.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return np.empty(0)
    qs = np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1], method="higher")
    edges = np.unique(qs)
    return edges[edges > v.min()]


def numeric_groups(values: np.ndarray, edges: np.ndarray | None = None,
                   bins: int = QUANTILE_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Group per lead (0..k-1 the bins ``[edge_i-1, edge_i)``, k missing) and the edges used."""
    v = np.asarray(values, dtype=np.float64)
    edges = quantile_edges(v, bins) if edges is None else np.asarray(edges, dtype=np.float64)
    groups = np.searchsorted(edges, v, side="right")
    groups[np.isnan(v)] = edges.size + 1
    return groups.astype(np.int64), edges


def information_value(groups: np.ndarray, converted: np.ndarray, known: np.ndarray,
                      min_leads: int = 0) -> float | None:
    """IV of a grouping over the leads whose outcome is known; None with one class only.

    ``min_leads``: groups with fewer known leads are pooled into one (so chance in tiny
    groups does not look like leakage).
    """
    g = np.asarray(groups)[known]
    y = np.asarray(converted, dtype=bool)[known]
    k = int(g.max()) + 1 if g.size else 1
    conv = np.bincount(g[y], minlength=k)
    other = np.bincount(g[~y], minlength=k)
    if min_leads:
        small = (conv + other) < min_leads
        if small.any():
            conv = np.append(conv[~small], conv[small].sum())
            other = np.append(other[~small], other[small].sum())
    _, _, iv = woe_iv(conv, other)
    return None if math.isnan(iv) else iv


def check(column: str, filled: np.ndarray | None, groups: np.ndarray, converted: np.ndarray, known: np.ndarray,
          is_open: np.ndarray | None = None, leakage_iv: float = LEAKAGE_IV) -> Leak | None:
    """The leakage sign a column shows, or None.

    ``filled``: the lead has a value (None for an engagement rule counting events, which
    are cut at the scoring point: only the IV sign applies); ``groups``: its value group
    (categories, or ``numeric_groups``); ``known``: its outcome is known (mature);
    ``is_open``: still open (three-state outcomes; None when open and lost cannot be told
    apart).
    """
    known = np.asarray(known, dtype=bool)
    y = np.asarray(converted, dtype=bool) & known
    conv, other = y, known & ~y
    if conv.sum() < MIN_GROUP or other.sum() < MIN_GROUP:
        return None  # too few of one class to judge anything
    if filled is not None:
        filled = np.asarray(filled, dtype=bool)
        share_conv, share_other = filled[conv].mean(), filled[other].mean()
        if share_conv >= MIN_FILLED and share_other <= ONLY_SHARE:
            return Leak(column, "converted only",
                        f"{column}: filled for {share_conv:.0%} of converted leads and {share_other:.1%} of the "
                        "others: it exists only once a lead has converted (post-outcome)")
        if is_open is not None:
            is_open = np.asarray(is_open, dtype=bool)
            if is_open.sum() >= MIN_GROUP:
                share_lost, share_rest = filled[other].mean(), filled[conv | is_open].mean()
                if share_lost >= MIN_FILLED and share_rest <= ONLY_SHARE:
                    return Leak(column, "lost only",
                                f"{column}: filled for {share_lost:.0%} of lost leads and {share_rest:.1%} of won "
                                "or open ones: it is filled when a lead is lost (post-outcome)")
                closed = known & ~is_open
                share_closed, share_open = filled[closed].mean(), filled[is_open].mean()
                if share_closed >= MIN_FILLED and share_open <= ONLY_SHARE:
                    return Leak(column, "closed only",
                                f"{column}: filled for {share_closed:.0%} of closed (won or lost) leads and "
                                f"{share_open:.1%} of open ones: it is filled when the outcome is known "
                                "(post-outcome)")
    iv = information_value(groups, converted, known, MIN_VALUE_LEADS)
    if iv is not None and iv > leakage_iv:
        return Leak(column, "iv", f"{column}: IV {iv:.2f} is above {leakage_iv:g}: it predicts too well to be "
                    "true; check it is known before the scoring point", iv)
    return None


def feature_groups(features, column: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(filled, groups) of a leads column held by ``features`` (categorical codes or numeric bins)."""
    if column in features.categorical:
        codes = features.categorical[column].codes.astype(np.int64)
        return codes >= 0, np.where(codes >= 0, codes + 1, 0)
    if column in features.numeric:
        values = features.numeric[column]
        groups, _ = numeric_groups(values)
        return ~np.isnan(values), groups
    return None


def check_features(features, columns, leakage_iv: float = LEAKAGE_IV,
                   mask: np.ndarray | None = None) -> dict[str, Leak]:
    """The leakage sign of each leads column ``features`` holds, over the leads in ``mask``."""
    known = features.mature if mask is None else features.mature & mask
    is_open = getattr(features, "open", None)
    if is_open is not None and mask is not None:
        is_open = is_open & mask
    out: dict[str, Leak] = {}
    for column in columns:
        found = feature_groups(features, column)
        if found is None:
            continue
        leak = check(column, found[0], found[1], features.converted, known, is_open, leakage_iv)
        if leak is not None:
            out[column] = leak
    return out


def config_leaks(config, features, leakage_iv: float = LEAKAGE_IV, mask: np.ndarray | None = None) -> dict[str, Leak]:
    """Leakage signs of the columns a config's rules read (fit columns and activity columns)."""
    columns = [r.column for r in config.fit] + [r.column for r in config.engagement if r.column is not None]
    return check_features(features, list(dict.fromkeys(columns)), leakage_iv, mask)


__all__ = ["LEAKAGE_IV", "Leak", "check", "check_features", "config_leaks", "feature_groups", "information_value",
           "numeric_groups", "quantile_edges", "woe_iv"]
