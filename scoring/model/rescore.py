"""Re-scoring after a slider move: only the leads whose points changed are scored again.

A points move on one rule changes the score of the leads that rule gives points to
(8% of leads for a demo request), yet scoring from scratch costs a pass over every
lead per rule plus a sort of every mature score for AUC and KS. So each scored config
keeps, per feature set, its scores, the counts behind the band and tier tables and the
sorted scores of converted and other mature leads. A config that differs from a kept
one only in some rules' points (or only in thresholds) starts from the closest one:

- the leads a changed rule can move are found without scoring: an engagement rule's
  leads with that activity (found once), a category rule's leads in the categories
  whose points changed, else a lead-by-lead comparison of the rule's points;
- their engagement or fit part is re-added in rule order, so every score is bit for
  bit what ``engine.score`` gives (and what the exported SQL gives);
- their total, band, tier and the band/tier counts move with them; leads whose capped
  total did not change are left alone;
- their old scores are taken out of the sorted arrays and the new ones merged in, so
  AUC and KS need no sort.

The per-lead loops are compiled (``scoring.kernels``). When more than 30% of leads move
it scores from scratch, keeping the part no changed rule belongs to. Kept states are
immutable (the app's sessions share them); arrays of evicted states nobody holds are
recycled for the next move.
"""

from __future__ import annotations

import json
import mmap
import os
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from ..base.memory import mapped_zeros, owns_memory
from .config import CategoricalFit, EngagementRule, ScoringConfig, config_to_dict
from .engine import (
    CACHE_LOCK,
    Scores,
    band_dtype,
    cap_bounds,
    categorical_lookup,
    engagement_inputs,
    engagement_lookups,
    engagement_part_at,
    fit_part,
    fit_points_at,
    lead_thresholds,
    no_segments,
    part_sum,
    rule_key,
    rule_points,
    score,
    tier_index,
)
from .features import Features, rule_signal_key
from .kernels import (
    BLOCK,
    apply_moves,
    engagement_rows,
    gather_rows,
    merge_replace,
    partition_below,
    score_range,
    tier_range,
)
from .kpis import month_status_key, outcome_facts, outcome_status, tier_month_counts
from .metrics import separation_sorted, status_counts
from .sorting import sort_scores

SCORED_CACHE = 3
"""Scored configs kept per feature set (each holds a few arrays of one float per lead)..."""

SCORED_CACHE_BYTES = 512 * 2**20
"""... but no more than this many bytes of them, beyond the latest (the next move starts from
it). At 10M leads a state is about 240 MB: the latest draft is kept, and the approved model
is held by the page's own cache of its view."""

SPARE_PER_SHAPE = 2
"""Recycled arrays kept per shape and type (a move needs two float arrays per lead: part and total)."""

DELTA_MAX_SHARE = 0.3
"""Above this share of leads moving, scoring from scratch is as fast (measured at 1M leads)."""


@dataclass(frozen=True)
class Scored:
    """A config's scores on a feature set, with what the band/tier tables and AUC/KS need."""

    config: ScoringConfig
    scores: Scores
    pos: np.ndarray
    """Sorted total scores of mature converted leads."""
    neg: np.ndarray
    """Sorted total scores of mature leads that did not convert."""
    auc: float
    ks: float
    band_counts: np.ndarray
    """Leads per band x outcome status (0 immature, 1 mature not converted, 2 converted)."""
    tier_counts: np.ndarray
    """Leads per scoring month x outcome status x tier (``kpis.tier_month_counts``)."""
    path: str = "full"
    """How it was computed: 'full', 'delta' (changed leads only) or 'thresholds' (re-tiered)."""


def scored(config: ScoringConfig, features: Features) -> Scored:
    """The config's ``Scored`` on these features, reusing a kept config where it can."""
    key = _rules_key(config)
    with _one_at_a_time(features, key):
        return _scored(config, features, key)


@contextmanager
def _one_at_a_time(features: Features, key: str) -> Iterator[None]:
    """Callers scoring the same rules on the same features wait for each other, so the second finds
    the first's state kept instead of scoring again: the server's start-up hook scores the first view
    before a browser connects (``ui.preload``), and the page, arriving while it runs, waits for it;
    two tabs opening one view score it once."""
    with CACHE_LOCK:
        entry = features.cache.setdefault("scoring_now", {}).setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with CACHE_LOCK:
            entry[1] -= 1
            if not entry[1]:
                features.cache["scoring_now"].pop(key, None)


def _scored(config: ScoringConfig, features: Features, key: str) -> Scored:
    with CACHE_LOCK:
        _reclaim(features)  # arrays of earlier states the page has let go of, before this move takes any
    result = _reuse_or_score(config, features, key)
    with CACHE_LOCK:
        cache: OrderedDict = features.cache.setdefault("scored_cache", OrderedDict())
        replaced = cache.get(key)
        cache[key] = result
        cache.move_to_end(key)
        if replaced is not None and replaced is not result:  # a threshold move: the old tiers can go
            _let_go(features, replaced)
        del replaced
        while len(cache) > SCORED_CACHE or (len(cache) > 1 and _kept_bytes(cache) > SCORED_CACHE_BYTES):
            _, evicted = cache.popitem(last=False)
            _let_go(features, evicted)
            del evicted
    return result


def _let_go(features: Features, state: Scored) -> None:
    """A state no longer kept: its own arrays recycled now, or once the page lets go of it
    (caller holds ``CACHE_LOCK`` and one reference). A threshold move replaces the kept state
    of the same rules, and its tier array was left to the collector: at 10M leads every such
    move then wrote its tiers into fresh memory (31 ms a move; 28.5 ms once they are recycled)."""
    if not _recycle(features, state, holders=2):  # the page still shows it: later
        retired = features.cache.setdefault("retired_states", [])
        retired.append(state)
        del retired[:-RETIRED_MAX]


def _reuse_or_score(config: ScoringConfig, features: Features, key: str) -> Scored:
    """Re-tier a kept config with the same rules, else move the leads from the closest kept one, else score."""
    with CACHE_LOCK:
        cache: OrderedDict = features.cache.setdefault("scored_cache", OrderedDict())
        hit = cache.get(key)
        kept = [s for s in reversed(cache.values())
                if _structure_key(s.config) == _structure_key(config) and _readable(s.config, features)]
    if hit is not None:
        if hit.config.thresholds == config.thresholds and not config.segments:
            return hit
        return _retier(hit, config, features)
    if not config.segments and kept:
        # start from the kept config that differs in the fewest leads' points
        _, _, base, changed, rows, active = min((m[1].size, i, b, *m) for i, b in enumerate(kept)
                                                for m in [_moved(b, config, features)])
        return _delta(base, config, features, changed, rows, active)
    return full(config, features)


def _readable(config: ScoringConfig, features: Features) -> bool:
    """Whether every rule of a kept config reads a feature these features have.

    Kept states are shared by the feature sets derived from one base (``Features.cache``),
    and a set derived for one spec lacks the signals of another (a rule's own decay): a
    kept config's rules must be readable here to find the leads a move changes.
    """
    for rule in config.engagement:
        key = rule_signal_key(config, rule)
        if not (key[4:] in features.numeric if key.startswith("col:") else key in features.signals):
            return False
    return all(r.column in (features.categorical if isinstance(r, CategoricalFit) else features.numeric)
               for r in config.fit)


def _kept_bytes(cache: OrderedDict) -> int:
    """Bytes held by kept states (arrays shared between them counted once)."""
    seen: dict[int, int] = {}
    for s in cache.values():
        for a in (s.pos, s.neg, s.scores.fit, s.scores.engagement, s.scores.total, s.scores.band, s.scores.tier):
            seen[id(a)] = a.nbytes
    return sum(seen.values())


def full(config: ScoringConfig, features: Features, known_parts: dict | None = None) -> Scored:
    """Score every lead from the rules (reusing only ``known_parts``, see ``engine.score``).

    Without segments and with engagement rules, one compiled pass (``kernels.score_range``)
    gives scores and counts; ``engine.score`` and numpy counts otherwise (same numbers).
    """
    status = outcome_status(features)
    k = len(config.bands) + 1
    if config.segments or not config.engagement:
        scores = score(config, features, known_parts)
        pos = sort_scores(scores.total[status == 2])
        neg = sort_scores(scores.total[status == 1])
        band_counts = status_counts(scores.band, features.converted, features.mature, k)
        tier_counts = tier_month_counts(features, scores.tier)
    else:
        fit = (known_parts or {}).get("fit")
        if fit is None:
            fit = _kept_fit(config, features)
        if fit is None:
            fit = fit_part(config.fit, features, config.caps.fit,
                           _SECOND_THREAD.submit if _two_threads(features.n) else None)
        key, span = month_status_key(features)
        n_pos, n_neg = _class_sizes(features)
        n = (features.n,)
        eng, total = _take(features, shape=n), _take(features, shape=n)
        band, tier = _take(features, shape=n, dtype=band_dtype(config.bands)), _take(features, shape=n, dtype=np.int8)
        pos, neg = _take(features, shape=(n_pos,)), _take(features, shape=(n_neg,))
        band_counts, tier_counts = _score_all(
            features, np.ascontiguousarray(fit, dtype=np.float64), *engagement_inputs(config, features),
            *cap_bounds(config.caps.total),
            np.asarray(config.bands, dtype=np.float64), float(config.thresholds.mql), float(config.thresholds.sql),
            status, key, span, eng, total, band, tier, pos, neg)
        pos, neg = _sort_both(features, pos, neg)
        band_counts = band_counts.reshape(k, 3)
        tier_counts = tier_counts.reshape(span, 3, 3)
        scores = Scores(fit=fit, engagement=eng, total=total, band=band, tier=tier,
                        segment=no_segments(features))
    auc, ks = _separation(pos, neg)
    return _frozen(Scored(config, scores, pos, neg, auc, ks, band_counts, tier_counts))


def _kept_fit(config: ScoringConfig, features: Features) -> np.ndarray | None:
    """The fit part of a kept config with the same fit rules and cap, if any: it depends on
    nothing else (a decay change scores again from scratch, but its fit part is the same)."""
    key = _fit_key(config)
    with CACHE_LOCK:
        kept = list(features.cache.get("scored_cache", {}).values())
    return next((s.scores.fit for s in kept if not s.config.segments and _fit_key(s.config) == key), None)


def _fit_key(config: ScoringConfig) -> str:
    return json.dumps([[rule_key(r, config) for r in config.fit], cap_bounds(config.caps.fit)])


PARALLEL_MIN = 1 << 18
"""From this many leads, scoring from scratch runs on two threads: the compiled loop releases
the GIL, and the two halves of the leads are independent (at 10M leads 210-250 -> 145 ms,
at 1M 15-17 -> 14 ms, when the machine's second core is free)."""

_SECOND_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadcal-score")
"""One worker shared by all sessions: a second session scoring at the same time waits for it."""


def _two_threads(size: int) -> bool:
    """Whether work on ``size`` values is split over two threads."""
    return size >= PARALLEL_MIN and (os.cpu_count() or 1) >= 2


def _score_all(features: Features, *args):
    """``kernels.score_range`` over every lead: band and tier counts, with the converted and
    other totals written in lead order. Two halves on two threads from ``PARALLEL_MIN`` leads."""
    n = features.n
    n_pos, n_neg = _class_sizes(features)
    mid = (n // 2) // BLOCK * BLOCK
    if not _two_threads(n) or mid == 0:
        band_counts, tier_counts, p, q = score_range(0, n, 0, 0, *args)
        if (p, q) != (n_pos, n_neg):
            raise ValueError("pos / neg do not match the outcome status")
        return band_counts, tier_counts
    p_mid, q_mid = _class_sizes_before(features, mid)
    second = _SECOND_THREAD.submit(score_range, mid, n, p_mid, q_mid, *args)
    first = score_range(0, mid, 0, 0, *args)
    last = second.result()
    if (first[2], first[3], last[2], last[3]) != (p_mid, q_mid, n_pos, n_neg):
        raise ValueError("pos / neg do not match the outcome status")
    return first[0] + last[0], first[1] + last[1]


def _sort_both(features: Features, pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pos`` and ``neg`` sorted. From ``PARALLEL_MIN`` scores, ``neg`` (most mature leads) is
    split at an estimate of its median into a recycled array, values below it first
    (``kernels.partition_below``); the two parts sort on two threads (``sorting.sort_scores``
    releases the GIL; ``neg``, spare once partitioned, is the radix sort's scratch) and are then
    the whole sorted, with no merge (at 10M leads: 102 ms on one thread; sorting halves and
    merging them 79-94 ms; this 48 ms, with numpy's vectorised sort)."""
    if not _two_threads(neg.size):
        return sort_scores(pos), sort_scores(neg)
    pivot = _pivot(neg[::PIVOT_SAMPLE])
    out = _take(features, neg)
    sorting_pos = _SECOND_THREAD.submit(sort_scores, pos)  # beside the partition (10M: 5 of its 18 ms)
    m = partition_below(neg, pivot, out)
    sorting_pos.result()
    second = _SECOND_THREAD.submit(sort_scores, out[m:], neg[m:])  # ``neg`` is spare now: the radix
    sort_scores(out[:m], neg[:m])  # sort's scratch
    second.result()
    with CACHE_LOCK:
        _keep_spare(features, neg)
    return pos, out


PIVOT_SAMPLE = 256
"""``_sort_both`` splits at the median of every 256th score (at 10M leads 28k scores, 0.6 ms; every
64th took 3.6-6 ms, a cache line read per score): 50.3% of the demo's 7.3M other mature scores
below it, near enough the true median for the two sorts to take about as long."""


def _pivot(sample: np.ndarray) -> float:
    """Where to split scores like ``sample`` in two parts of about the same size, values below
    first. The median; when many scores equal it (leads at a cap), just above it if that puts
    the tied ones on the side that balances the parts better."""
    if sample.size == 0:
        return 0.0
    half = sample.size / 2
    median = np.partition(sample, sample.size // 2)[sample.size // 2]  # linear: a sort took 4-8 ms at 10M
    below = np.count_nonzero(sample < median)
    upto = np.count_nonzero(sample <= median)
    return float(median if abs(below - half) <= abs(upto - half) else np.nextafter(median, np.inf))


def _separation(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """AUC and KS, on two threads from ``PARALLEL_MIN`` other mature leads (10M: 19 -> 14 ms)."""
    return separation_sorted(pos, neg, _SECOND_THREAD.submit if _two_threads(neg.size) else None)


def _class_sizes_before(features: Features, mid: int) -> tuple[int, int]:
    """Mature converted and not-converted leads before position ``mid`` (where the second half's
    totals start in the sorted arrays' buffers), counted once per feature set."""
    cached = features.cache.get("class_sizes_before")
    if cached is None or cached[0] != mid:
        status = outcome_status(features)[:mid]
        cached = (mid, int(np.count_nonzero(status == 2)), int(np.count_nonzero(status == 1)))
        features.cache["class_sizes_before"] = cached
    return cached[1], cached[2]


def _class_sizes(features: Features) -> tuple[int, int]:
    """Mature converted and mature not-converted leads (the sizes of the sorted arrays)."""
    facts = outcome_facts(features)
    return facts.conversions, facts.mature_leads - facts.conversions


def _retier(base: Scored, config: ScoringConfig, features: Features) -> Scored:
    """Only the thresholds moved: new tiers and tier counts, everything else kept."""
    mql, sql = lead_thresholds(config, base.scores.segment)
    if config.segments:  # thresholds per lead
        tier = tier_index(base.scores.total, mql, sql)
        tier_counts = tier_month_counts(features, tier)
    else:
        tier = _take(features, base.scores.tier)
        tier_counts = _tiers(features, base.scores.total, float(mql), float(sql), tier)
    return _frozen(replace(base, config=config, scores=replace(base.scores, tier=tier),
                           tier_counts=tier_counts, path="thresholds"))


def _tiers(features: Features, total: np.ndarray, mql: float, sql: float, tier: np.ndarray) -> np.ndarray:
    """Every lead's tier written to ``tier``, and the counts per month x status x tier
    (``kernels.tier_range``), as two halves on two threads from ``PARALLEL_MIN`` leads."""
    key, span = month_status_key(features)
    n = features.n
    if not _two_threads(n):
        counts = tier_range(0, n, total, mql, sql, key, span, tier)
    else:
        second = _SECOND_THREAD.submit(tier_range, n // 2, n, total, mql, sql, key, span, tier)
        counts = tier_range(0, n // 2, total, mql, sql, key, span, tier) + second.result()
    return counts.reshape(span, 3, 3)


def _moved(base: Scored, config: ScoringConfig, features: Features) -> tuple[dict, np.ndarray, str | None]:
    """The positions of the rules that differ from a kept config, the leads they move, and the
    engagement feature whose active leads these are when only one engagement rule moved."""
    old_cfg = base.config
    changed = {part: [i for i, (a, b) in enumerate(zip(getattr(old_cfg, part), getattr(config, part)))
                      if rule_key(a, old_cfg) != rule_key(b, config)]
               for part in ("fit", "engagement")}
    moved = [_moved_rows(getattr(old_cfg, part)[i], old_cfg, getattr(config, part)[i], config, features)
             for part, positions in changed.items() for i in positions]
    if len(moved) == 1:
        active = None
        if changed["engagement"] and not changed["fit"]:
            rule = config.engagement[changed["engagement"][0]]
            if isinstance(rule, EngagementRule) and rule_signal_key(config, rule) == rule_signal_key(
                    old_cfg, old_cfg.engagement[changed["engagement"][0]]):
                active = rule_signal_key(config, rule)
        return changed, moved[0], active
    if not moved:
        return changed, np.empty(0, dtype=np.intp), None
    mask = np.zeros(features.n, dtype=bool)  # the union by a mask (np.unique would sort or hash)
    for part_rows in moved:
        mask[part_rows] = True
    return changed, np.flatnonzero(mask), None


def _delta(base: Scored, config: ScoringConfig, features: Features, changed: dict, rows: np.ndarray,
           active: str | None = None) -> Scored:
    """Re-score only the leads whose points changed (all leads when too many did)."""
    old = base.scores
    if rows.size > DELTA_MAX_SHARE * features.n:  # from scratch, but a part no rule of it moved is kept
        return full(config, features, {part: getattr(old, part) for part in ("fit", "engagement")
                                       if not changed[part]})
    mql, sql = lead_thresholds(config, old.segment)
    same_thresholds = config.thresholds == base.config.thresholds
    # The per-lead float arrays a move writes (the totals and the changed part, 80 MB each at 10M
    # leads) are copied on the second thread while this one works out the moved leads' new points
    # and copies the small bands and tiers (with ``_apply_moves``: a 10M sparse move 144 -> 108 ms).
    wide = [old.total] + [getattr(old, part) for part in ("fit", "engagement") if changed[part]]
    copies = _SECOND_THREAD.submit(_copies, features, wide) if _two_threads(features.n) else None
    moved = {part: (_engagement_moved(config, features, rows, active) if part == "engagement" else
                    part_sum([fit_points_at(r, features, rows) for r in config.fit], rows.size, cap))
             for part, cap in (("fit", config.caps.fit), ("engagement", config.caps.engagement)) if changed[part]}
    band = _copy(features, old.band)
    tier = _copy(features, old.tier) if same_thresholds else _take(features, old.tier)  # else all tiers anew
    total, *copied = copies.result() if copies is not None else _copies(features, wide)
    parts = {part: getattr(old, part) for part in ("fit", "engagement")}
    for part, array in zip(moved, copied):
        array[rows] = moved[part]
        parts[part] = array
    band_counts, tier_counts = base.band_counts.ravel().copy(), base.tier_counts.ravel().copy()
    key, span = month_status_key(features)
    old_pos, new_pos, old_neg, new_neg = _apply_moves(
        features, np.ascontiguousarray(rows, dtype=np.int64), band_counts, tier_counts,
        parts["fit"], parts["engagement"], total, band, tier, outcome_status(features), key,
        *cap_bounds(config.caps.total),
        np.asarray(config.bands, dtype=np.float64), float(mql), float(sql), same_thresholds)
    k = len(config.bands) + 1
    band_counts = band_counts.reshape(k, 3)
    if same_thresholds:
        tier_counts = tier_counts.reshape(span, 3, 3)
    else:  # every lead's tier again (tier already holds the moved leads' under the old thresholds)
        tier_counts = _tiers(features, total, float(mql), float(sql), tier)
    pos = replace_sorted(base.pos, old_pos, new_pos, _take(features, base.pos))
    neg = replace_sorted(base.neg, old_neg, new_neg, _take(features, base.neg),
                         _SECOND_THREAD.submit if _two_threads(base.neg.size) else None)
    auc, ks = _separation(pos, neg)
    scores = Scores(fit=parts["fit"], engagement=parts["engagement"], total=total, band=band, tier=tier,
                    segment=old.segment)
    return _frozen(Scored(config, scores, pos, neg, auc, ks, band_counts, tier_counts, path="delta"))


MOVES_SPLIT_MIN = 1 << 15
"""Moved leads from which ``_apply_moves`` splits them over two threads (fewer take well under a millisecond)."""


def _apply_moves(features: Features, rows: np.ndarray, band_counts: np.ndarray, tier_counts: np.ndarray,
                 *args) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``kernels.apply_moves`` (``args``: its arguments between the rows and the counts). From
    ``PARALLEL_MIN`` leads and ``MOVES_SPLIT_MIN`` moved ones, each half of the moved leads goes on
    its own thread: they write different leads, the second half's count changes are added
    afterwards, and the old and new totals are taken as sets (``replace_sorted`` sorts them).
    A 10M sparse points move 123 -> 115 ms."""
    if not _two_threads(features.n) or rows.size < MOVES_SPLIT_MIN:
        return apply_moves(rows, *args, band_counts, tier_counts)
    half = rows.size // 2
    more_bands, more_tiers = np.zeros_like(band_counts), np.zeros_like(tier_counts)
    second = _SECOND_THREAD.submit(apply_moves, rows[half:], *args, more_bands, more_tiers)
    first = apply_moves(rows[:half], *args, band_counts, tier_counts)
    last = second.result()
    band_counts += more_bands
    tier_counts += more_tiers
    return tuple(np.concatenate([a, b]) for a, b in zip(first, last))  # type: ignore[return-value]


def _copies(features: Features, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Writable copies (into recycled arrays where there are some) of arrays a delta changes in place."""
    return [_copy(features, a) for a in arrays]


ROW_MAJOR_BYTES = 128 * 2**20
"""Activities of the leads one engagement rule touches, kept row-major per rule up to this size."""


def _engagement_moved(config: ScoringConfig, features: Features, rows: np.ndarray, active: str | None) -> np.ndarray:
    """The engagement part of the moved leads. When they are one rule's active leads, their
    activities are kept side by side (one lead's values in one cache line), not read from ten
    arrays a cache miss apart."""
    if active is None:
        return engagement_part_at(config, features, rows)
    _, rule_values, points, caps, low, high = engagement_inputs(config, features)
    keys = (active,) + tuple(rule_signal_key(config, r) for r in config.engagement)
    with CACHE_LOCK:
        cache: OrderedDict = features.cache.setdefault("row_major", OrderedDict())
        matrix = cache.get(keys)
        if matrix is not None:
            cache.move_to_end(keys)
    if matrix is None:
        if rows.size * len(rule_values) * 8 > ROW_MAJOR_BYTES:
            return engagement_part_at(config, features, rows)
        matrix = _gather(features, np.ascontiguousarray(rows, dtype=np.int64), *engagement_lookups(config, features),
                         rule_values)
        matrix.setflags(write=False)
        with CACHE_LOCK:
            cache[keys] = matrix
            while len(cache) > 1 and sum(_held_bytes(m) for m in cache.values()) > ROW_MAJOR_BYTES:
                cache.popitem(last=False)
    return engagement_rows(matrix, points, caps, low, high)


def _gather(features: Features, rows: np.ndarray, bits: tuple, before: tuple, rule_values: tuple) -> np.ndarray:
    """``kernels.gather_rows`` into a new matrix; from ``MOVES_SPLIT_MIN`` leads each half of them on its
    own thread (the first move on a rule at 10M leads gathers 800k leads' activities)."""
    out = _gather_buffer(features, (rows.size, len(bits)))
    if not _two_threads(features.n) or rows.size < MOVES_SPLIT_MIN:
        return gather_rows(rows, bits, before, rule_values, out)
    half = rows.size // 2
    second = _SECOND_THREAD.submit(gather_rows, rows[half:], bits, before, rule_values, out[half:])
    gather_rows(rows[:half], bits, before, rule_values, out[:half])
    second.result()
    return out


def _gather_buffer(features: Features, shape: tuple[int, int]) -> np.ndarray:
    """Memory for a gathered matrix: the front of the one ``prepare_gather`` mapped in, when it is
    there and large enough (once: the matrix is then kept), else a new array."""
    with CACHE_LOCK:
        spare = features.cache.get("gather_spare")
        if spare is not None and spare.shape[0] >= shape[0] and spare.shape[1] == shape[1]:
            del features.cache["gather_spare"]
            return spare[:shape[0]]
    return np.empty(shape)


def _held_bytes(matrix: np.ndarray) -> int:
    """Memory a kept matrix holds: all of the array or mapping it is the front of (``_gather_buffer``;
    a slice's base is the sliced array, whose base is the mapping)."""
    owner = matrix
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    return len(owner) if isinstance(owner, mmap.mmap) else getattr(owner, "nbytes", matrix.nbytes)


def prepare_gather(config: ScoringConfig, features: Features) -> int:
    """Map in, ahead of the first points move on an engagement rule, the memory that move gathers
    its leads' activities into (``_engagement_moved``): as large as the largest matrix a rule of
    ``config`` makes that is kept (the rules moving few enough leads for a delta); its size in
    bytes, 0 when no rule makes one large enough to matter. In the app at 10M leads the first move
    on a rule for 8% of leads spent most of its gathering faulting in a new 65 MB matrix. Meant for
    the background thread after the first view, as ``prepare_moves``."""
    k = len(config.engagement)
    sizes = [features.activity(rule_signal_key(config, r)).rows.size for r in config.engagement]
    fits = [m for m in sizes if m <= DELTA_MAX_SHARE * features.n and m * k * 8 <= ROW_MAJOR_BYTES]
    if not fits or max(fits) < MOVES_SPLIT_MIN:  # small matrices are quick to make where they are needed
        return 0
    spare = mapped_zeros((max(fits), k))
    with CACHE_LOCK:
        features.cache.setdefault("gather_spare", spare)
    return spare.nbytes


def _moved_rows(old_rule, old_cfg: ScoringConfig, new_rule, config: ScoringConfig,
                features: Features) -> np.ndarray:
    """Leads whose points can differ between two versions of a rule (sorted row numbers).

    An engagement rule on the same activity moves only leads with activity (``0 * points``
    is 0); a category rule only leads in categories whose points changed; otherwise
    compare the two rules' points lead by lead.
    """
    if isinstance(old_rule, EngagementRule) and isinstance(new_rule, EngagementRule):
        key = rule_signal_key(old_cfg, old_rule)
        if key == rule_signal_key(config, new_rule):
            return features.activity(key).rows
    if (isinstance(old_rule, CategoricalFit) and isinstance(new_rule, CategoricalFit)
            and old_rule.column == new_rule.column):
        cat = features.categorical[old_rule.column]
        changed = categorical_lookup(old_rule, cat) != categorical_lookup(new_rule, cat)
        return np.flatnonzero(changed[cat.codes + 1])
    return np.flatnonzero(rule_points(old_rule, old_cfg, features) != rule_points(new_rule, config, features))


def replace_sorted(values: np.ndarray, old: np.ndarray, new: np.ndarray,
                   out: np.ndarray | None = None, submit=None) -> np.ndarray:
    """``values`` (sorted) with one occurrence of each of ``old`` taken out and ``new`` merged in.

    Equal to ``np.sort`` of the changed multiset, in one pass over ``values`` (``kernels``);
    into ``out`` when given (same size as ``values``: as many values come in as go out).
    With ``submit`` (an executor's), the values below and from the middle value on are merged
    on two threads: every old and new value below it belongs to the first part, so the two
    parts side by side are the whole (at 10M leads the merge took 32 of a points move's 140 ms).
    """
    if old.size == 0 and new.size == 0:
        return values
    if out is None:
        out = np.empty(values.size - old.size + new.size, dtype=values.dtype)
    old, new = sort_scores(old.astype(np.float64)), sort_scores(new.astype(np.float64))
    i = int(np.searchsorted(values, values[values.size // 2], side="left")) if values.size else 0
    if submit is None or i == 0 or np.isnan(values[i]):  # one thread, or nothing below the middle value
        return merge_replace(values, old, new, out)
    pivot = values[i]
    j, k = int(np.searchsorted(old, pivot, side="left")), int(np.searchsorted(new, pivot, side="left"))
    split = i - j + k
    second = submit(merge_replace, values[i:], old[j:], new[k:], out[split:])
    merge_replace(values[:i], old[:j], new[:k], out[:split])
    second.result()
    return out


def _take(features: Features, like: np.ndarray | None = None, shape: tuple | None = None,
          dtype=np.float64) -> np.ndarray:
    """A writable array shaped like ``like`` (or ``shape``/``dtype``): a recycled one (see
    ``_recycle``) or a new one with its memory mapped in (``base.memory.mapped_zeros``: the
    first view after a start writes its arrays on two threads)."""
    shape, dtype = (like.shape, like.dtype) if like is not None else (shape, np.dtype(dtype))
    with CACHE_LOCK:
        free = features.cache.setdefault("spare_arrays", {}).get((shape, dtype.str))
        spare = free.pop() if free else None
    if spare is None:
        return mapped_zeros(shape, dtype)
    spare.setflags(write=True)
    return spare


def _copy(features: Features, values: np.ndarray) -> np.ndarray:
    """A writable copy, into a recycled array when there is one."""
    out = _take(features, values)
    np.copyto(out, values)
    return out


def _recycle(features: Features, state: Scored, holders: int) -> bool:
    """Keep arrays of an evicted state for the next move (``SPARE_PER_SHAPE``) if nobody but the
    caller's ``holders`` references holds the state; True then, False when it is still in use.

    A new state per move needs new arrays of one value per lead; fresh memory costs page
    faults (at 1M leads a third of a points move). Only arrays nothing else refers to are
    kept: a page's view, another kept state sharing an array, or a view into it all show
    up in the reference counts, and then that array is not recycled.
    """
    if sys.getrefcount(state) > holders + 2 or sys.getrefcount(state.scores) > 2:  # + argument, getrefcount
        return False
    for name, holder in (("engagement", state.scores), ("total", state.scores), ("band", state.scores),
                         ("tier", state.scores), ("fit", state.scores), ("pos", state), ("neg", state)):
        if sys.getrefcount(getattr(holder, name)) > 2:  # the holder, getrefcount
            continue
        _keep_spare(features, getattr(holder, name))
    return True


RETIRED_MAX = 2
"""Evicted states kept until the page lets go of them, so their arrays can be recycled.

A state is evicted while the next move is computed, and the page still shows it then (the
previous view): measured at 10M leads, no move after the first two found a spare array, and
each dense points move took 188 ms instead of 135. Retired states are reclaimed at the next
move; at most this many wait (each about 240 MB at 10M leads: what the spares would hold)."""


def _reclaim(features: Features) -> None:
    """Recycle the arrays of retired states nothing else holds any more (caller holds ``CACHE_LOCK``)."""
    retired = features.cache.get("retired_states")
    for i in range(len(retired or ()) - 1, -1, -1):
        if _recycle(features, retired[i], holders=1):  # the list
            del retired[i]


def _keep_spare(features: Features, array: np.ndarray, limit: int = SPARE_PER_SHAPE) -> None:
    """Keep an array nothing else refers to for the next move (caller holds ``CACHE_LOCK``)."""
    free = features.cache.setdefault("spare_arrays", {}).setdefault((array.shape, array.dtype.str), [])
    if owns_memory(array) and array.flags.c_contiguous and len(free) < limit:  # no other array on its memory
        free.append(array)


WARM_MOVES = 2
"""Slider moves whose new arrays are made ready (memory mapped in) before the first move."""


def prepare_moves(features: Features, scores: Scores, pos: np.ndarray, neg: np.ndarray) -> int:
    """Spare arrays for the first ``WARM_MOVES`` points moves after a load, with their memory
    already mapped in, shaped as ``scores`` and the sorted class scores; the number made.

    A move writes its new scores into fresh arrays until kept states start to be evicted and
    recycled (``_recycle``), and fresh memory costs a page fault per 4 KB page when first
    written: at 10M leads the first points move spent 0.43 s copying into new arrays and the
    next 0.18 s merging into them, where later moves spend 26 and 32 ms. Huge pages are off
    (``base.runtime.tune_numpy_memory``). Meant for a background thread after the first view
    (``calibrate.prepare_moves_soon``): the arrays are mapped without the interpreter lock,
    and a move that comes first takes what is ready. The memory is what the kept states use
    after a few moves anyway.
    """
    # ... and one more like ``neg``: a move scored from scratch splits it into a second one (``_sort_both``)
    written = [scores.engagement, scores.total, scores.band, scores.tier, pos, neg] * WARM_MOVES + [neg]
    wanted = Counter((a.shape, a.dtype.str) for a in written)  # arrays of one shape and type the moves take
    made = 0
    for like in written:
        key = (like.shape, like.dtype.str)
        with CACHE_LOCK:
            if len(features.cache.setdefault("spare_arrays", {}).get(key, [])) >= wanted[key]:
                continue
        spare = mapped_zeros(like.shape, like.dtype)  # its pages are mapped now, not on a slider move
        with CACHE_LOCK:
            free = features.cache["spare_arrays"].setdefault(key, [])
            before = len(free)
            _keep_spare(features, spare, limit=wanted[key])
            made += len(free) > before
    return made


def _frozen(s: Scored) -> Scored:
    """Kept state is shared by the app's sessions: make its arrays read-only."""
    for a in (s.pos, s.neg, s.band_counts, s.tier_counts, s.scores.fit, s.scores.engagement,
              s.scores.total, s.scores.band, s.scores.tier, s.scores.segment):
        a.setflags(write=False)
    return s


def _rules_key(config: ScoringConfig) -> str:
    """Everything that moves scores, bands, AUC and KS: the config minus its thresholds."""
    data = config_to_dict(config)
    data.pop("thresholds", None)
    for seg in data.get("segments", []):
        seg.pop("thresholds", None)
    return json.dumps(data, sort_keys=True, default=str)


def _structure_key(config: ScoringConfig) -> str:
    """Everything but rules and thresholds, and the number of rules: configs a delta can bridge."""
    data = config_to_dict(config)
    for part in ("thresholds", "fit", "engagement"):
        data.pop(part, None)
    data["__rules"] = [len(config.fit), len(config.engagement)]
    return json.dumps(data, sort_keys=True, default=str)
