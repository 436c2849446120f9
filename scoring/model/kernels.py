"""Compiled single-pass loops (numba) for what numpy can only do in several passes.

A slider move changes the scores of some leads; AUC and KS need every mature score in
order. numpy has no merge: keeping a sorted array up to date costs a binary search per
changed value, a boolean mask, a concatenation and a sort of the runs, and AUC/KS a
binary search per converted lead, each a full pass over memory (at 10M leads these were
most of a points move). Here each is one pass, with the same IEEE arithmetic as numpy
(no fastmath), so results are bit for bit those of the numpy formulation they replace
(checked in tests/test_kernels.py against that formulation, scikit-learn and scipy).

Compiled on first use and cached next to this file (``cache=True``); the app warms them
up when features are loaded.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from .event_order import order_events, whole_seconds
from .first_seen import first_seen
from .row_lookup import build_lookup, position
from .sorting import radix_is_faster


@njit(cache=True, nogil=True)
def merge_replace(values: np.ndarray, old: np.ndarray, new: np.ndarray, out: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Sorted ``values`` without one occurrence of each of sorted ``old``, with sorted ``new`` merged in,
    written to ``out`` (of size ``len(values) - len(old) + len(new)``)."""
    n, k, m = values.size, old.size, new.size
    if out.size != n - k + m:
        raise ValueError("the output has the wrong size")
    if k > n:
        raise ValueError("a value to take out is not in the sorted array")
    j = 0  # next old value to take out
    l = 0  # next new value to merge in
    o = 0
    for i in range(n):
        v = values[i]
        if j < k and old[j] == v:
            j += 1
            continue
        while l < m and new[l] < v:
            out[o] = new[l]
            o += 1
            l += 1
        if o + (m - l) >= out.size:  # more kept than expected: an old value was not there
            raise ValueError("a value to take out is not in the sorted array")
        out[o] = v
        o += 1
    if j != k:
        raise ValueError("a value to take out is not in the sorted array")
    while l < m:
        out[o] = new[l]
        o += 1
        l += 1
    return out


@njit(cache=True, nogil=True)
def _gallop(a: np.ndarray, x: float, start: int, ties_before: bool) -> int:  # pragma: no cover
    """Smallest i >= start with a[i] >= x (or a[i] > x when ``ties_before``) in sorted ``a``:
    galloping forward from ``start``, then bisecting."""
    n = a.size
    lo = start
    if lo >= n or not (a[lo] < x or (ties_before and a[lo] == x)):
        return lo
    step, hi = 1, lo + 1  # a[lo] is before the answer
    while hi < n and (a[hi] < x or (ties_before and a[hi] == x)):
        lo = hi
        step *= 2
        hi = lo + step
    hi = min(hi, n)
    lo += 1
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x or (ties_before and a[mid] == x):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def auc_ks(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:  # pragma: no cover
    """AUC (ties counted half) and KS of sorted converted (``pos``) and other (``neg``) scores."""
    below, ties, ks = auc_ks_part(pos, neg, 0, pos.size)
    return (below + 0.5 * ties) / (pos.size * neg.size), ks


@njit(cache=True, nogil=True)
def auc_ks_part(pos: np.ndarray, neg: np.ndarray, start: int, stop: int) -> tuple[int, int, float]:  # pragma: no cover
    """What the converted scores ``pos[start:stop]`` add to AUC and KS (``auc_ks``): the other
    leads below each of them, tied with each, and the largest CDF gap at them.

    For each distinct converted score, the other leads below it and tied with it are found
    by galloping forward in ``neg`` (converted leads are the few: this reads a fraction of
    the others). Between two converted scores the converted CDF is flat and the other one
    rises, so the largest CDF gap is at one of the two ends: just below a converted score
    and at it; both are evaluated. Parts that start and stop between groups of tied scores
    add up to the whole (two threads can take one each: ``metrics.separation_sorted``).
    """
    n_pos, n_neg = pos.size, neg.size
    if start < 0 or stop > n_pos or start > stop:
        raise ValueError("the part is outside the converted scores")
    if (0 < start < n_pos and pos[start - 1] == pos[start]) or (0 < stop < n_pos and pos[stop - 1] == pos[stop]):
        raise ValueError("a part starts or stops inside a group of tied scores")
    i = start
    j = 0  # galloping from the start finds the first part's position in log time
    below = 0  # sum over converted leads of other leads strictly below
    ties = 0  # ... and tied with them
    ks = 0.0
    while i < stop:
        v = pos[i]
        i0 = i
        i += 1  # at least one: a NaN equals nothing, not even itself
        while i < n_pos and pos[i] == v:
            i += 1
        jb = _gallop(neg, v, j, False)
        gap = abs(i0 / n_pos - jb / n_neg)  # just below v
        if gap > ks:
            ks = gap
        ju = _gallop(neg, v, jb, True)
        below += (i - i0) * jb
        ties += (i - i0) * (ju - jb)
        gap = abs(i / n_pos - ju / n_neg)  # at v
        if gap > ks:
            ks = gap
        j = ju
    return below, ties, ks


@njit(cache=True, nogil=True)
def _check_sorted(rows: np.ndarray) -> None:  # pragma: no cover
    for k in range(1, rows.size):
        if rows[k] < rows[k - 1]:
            raise ValueError("lead positions must be sorted")


@njit(cache=True, nogil=True)
def _check_leads(query: np.ndarray, bits: tuple) -> None:  # pragma: no cover
    """Sorted positions (their activities are then read in memory order) inside every lookup."""
    _check_sorted(query)
    for r in range(len(bits)):
        if query.size and (query[0] < 0 or query[query.size - 1] >= 64 * bits[r].size):
            raise ValueError("a lead position is outside the activity's leads")


@njit(cache=True, nogil=True)
def engagement_at(query: np.ndarray, bits: tuple, before: tuple, values: tuple, points: np.ndarray,
                  caps: np.ndarray, low: float, high: float) -> np.ndarray:  # pragma: no cover
    """The engagement part of some leads (sorted positions ``query``): each rule's capped points
    added in rule order from 0, then the part's cap.

    The same operations in the same order as ``engine.engagement_points`` + ``engine.part_sum``
    (multiply, limit to +-cap, add); a rule adds nothing where its activity is 0 (its points
    are 0 there, and adding 0 changes no sum). Each rule's ``values`` (``Activity.values``) are
    found through its ``RowLookup`` (``bits``, ``before``).
    ``caps`` is inf for no cap; ``low``/``high`` are the part's cap (-inf/inf when open).
    """
    _check_leads(query, bits)
    out = np.zeros(query.size)
    for r in range(len(bits)):  # rule by rule: the tuple is indexed once per rule, not per lead
        b, c, act = bits[r], before[r], values[r]
        for k in range(query.size):
            j = position(b, c, query[k])
            if j >= 0:
                out[k] += _capped(act[j], points[r], caps[r])
    for k in range(query.size):
        out[k] = min(max(out[k], low), high)
    return out


@njit(cache=True, nogil=True)
def gather_rows(query: np.ndarray, bits: tuple, before: tuple, values: tuple,
                out: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Every rule's activity for some leads (sorted positions ``query``), one lead per row of
    ``out`` (0 where a rule's activity is 0): the row-major input of ``engagement_rows``.
    Rules as in ``engagement_at``."""
    _check_leads(query, bits)
    for r in range(len(bits)):
        b, c, act = bits[r], before[r], values[r]
        for k in range(query.size):
            j = position(b, c, query[k])
            out[k, r] = act[j] if j >= 0 else 0.0
    return out


@njit(cache=True, nogil=True, inline="always")
def _capped(a: float, points: float, cap: float) -> float:  # pragma: no cover
    """One rule's points for an activity: ``engine.engagement_points`` for one lead (the product
    limited to +-cap by max then min, as ``engine.cap_points`` does)."""
    c = a * points
    if cap != np.inf:
        c = max(c, -cap)
        c = min(c, cap)
    return c


@njit(cache=True, nogil=True, inline="always")
def _band(t: float, cuts: np.ndarray) -> int:  # pragma: no cover
    """Cut points at or below a score (``engine.band_index``)."""
    b = 0
    for c in cuts:
        if t >= c:
            b += 1
    return b


@njit(cache=True, nogil=True, inline="always")
def _tier(t: float, mql: float, sql: float) -> int:  # pragma: no cover
    """0 below MQL, 1 at or above MQL, 2 at or above SQL (``engine.tier_index``)."""
    return (1 if t >= mql else 0) + (1 if t >= sql else 0)


BLOCK = 1 << 14
"""Leads scored together by ``score_range``: their engagement part stays in the CPU cache
while every rule adds to it and the totals, bands and counts are taken."""


@njit(cache=True, nogil=True)
def score_range(lo: int, hi: int, p: int, q: int, fit: np.ndarray, rows: tuple, values: tuple,
                points: np.ndarray, caps: np.ndarray, eng_low: float, eng_high: float, total_low: float,
                total_high: float, cuts: np.ndarray, mql: float, sql: float, status: np.ndarray,
                month_key: np.ndarray, months: int, eng: np.ndarray, total: np.ndarray, band: np.ndarray,
                tier: np.ndarray, pos: np.ndarray, neg: np.ndarray):  # pragma: no cover
    """Leads ``lo:hi``: their engagement part, total, band and tier, and the counts behind the tables.

    The arithmetic of ``engine.score`` (rules in order from 0, caps by max then min, band =
    cut points at or below, tier = thresholds at or below) on a config without segments.
    Also fills the band x status and month x status x tier counts, and writes the totals
    of mature converted and other leads (unsorted) from ``pos[p]`` and ``neg[q]`` on.

    Block by block (``BLOCK`` leads): each rule adds its points to the block's leads in
    rule order, then the block is totalled, banded, tiered and counted, each step one
    simple loop over the block that the compiler turns into vector instructions where it
    can. One pass over memory instead of one per rule (at 10M leads each pass is 80 MB).
    The two tables come from one count over month x status x tier x band (one increment
    per lead instead of two: 10M leads 48 -> 31 ms). Ranges are independent: two threads
    can score the two halves of the leads (``rescore.full``). Returns the counts and the
    next ``p``, ``q``.
    """
    n_rules = len(rows)
    cursor = np.empty(n_rules, dtype=np.int64)
    for r in range(n_rules):
        cursor[r] = np.searchsorted(rows[r], lo)
    k = cuts.size + 1
    joint = np.zeros(months * 9 * k, dtype=np.int64)  # index (month_key + tier) * k + band
    for start in range(lo, hi, BLOCK):
        stop = min(hi, start + BLOCK)
        m = stop - start
        e_, t_, f_ = eng[start:stop], total[start:stop], fit[start:stop]
        b_, tr_, s_, mk_ = band[start:stop], tier[start:stop], status[start:stop], month_key[start:stop]
        e_[:] = 0.0
        for r in range(n_rules):  # rule by rule, as engine.part_sum adds them (0 where no activity)
            active, act, pts, cap = rows[r], values[r], points[r], caps[r]
            j = cursor[r]
            while j < active.size and active[j] < stop:
                eng[active[j]] += _capped(act[j], pts, cap)
                j += 1
            cursor[r] = j
        for i in range(m):
            e = min(max(e_[i], eng_low), eng_high)
            e_[i] = e
            t_[i] = min(max(f_[i] + e, total_low), total_high)
        b_[:] = 0
        for c in cuts:  # cut points at or below (engine.band_index)
            for i in range(m):
                b_[i] += t_[i] >= c
        for i in range(m):
            tr_[i] = _tier(t_[i], mql, sql)
        for i in range(m):
            joint[(mk_[i] + tr_[i]) * k + b_[i]] += 1
            s = s_[i]
            if s == 2:
                if p >= pos.size:
                    raise ValueError("more converted leads than pos holds")
                pos[p] = t_[i]
                p += 1
            elif s == 1:
                if q >= neg.size:
                    raise ValueError("more other mature leads than neg holds")
                neg[q] = t_[i]
                q += 1
    band_counts = np.zeros(k * 3, dtype=np.int64)
    tier_counts = np.zeros(months * 9, dtype=np.int64)
    for cell in range(months * 9):
        s = (cell // 3) % 3
        for b in range(k):
            c = joint[cell * k + b]
            tier_counts[cell] += c
            band_counts[b * 3 + s] += c
    return band_counts, tier_counts, p, q


@njit(cache=True, nogil=True)
def tier_range(lo: int, hi: int, total: np.ndarray, mql: float, sql: float, month_key: np.ndarray,
               months: int, tier: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Leads ``lo:hi``: their tier (``engine.tier_index``) written to ``tier``, and their count per
    month x outcome status x tier (``kpis.tier_month_counts``), in one pass. A threshold move
    is only this: at 10M leads numpy's comparisons, sum and bincount took 125 ms, this 34 ms
    (17 ms as two halves on two threads, ``rescore._tiers``)."""
    counts = np.zeros(months * 9, dtype=np.int64)
    for i in range(lo, hi):
        t = _tier(total[i], mql, sql)
        tier[i] = t
        counts[month_key[i] + t] += 1
    return counts


@njit(cache=True, nogil=True)
def tier_moves(before: np.ndarray, after: np.ndarray, status: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Leads per (tier before, tier after, outcome status), cell ``(before * 3 + after) * 3 + status``:
    every group of movers across the MQL and SQL lines follows (``kpis.movers``). One pass over
    three int8 arrays; numpy's index arithmetic and bincount took 128 ms at 10M leads."""
    counts = np.zeros(27, dtype=np.int64)
    for i in range(status.size):
        b, a, s = before[i], after[i], status[i]
        if b < 0 or b > 2 or a < 0 or a > 2 or s < 0 or s > 2:
            raise ValueError("a tier or outcome status outside 0-2")
        counts[(b * 3 + a) * 3 + s] += 1
    return counts


@njit(cache=True, nogil=True)
def grid_cells(fit: np.ndarray, eng: np.ndarray, fit_low: float, fit_high: float, eng_low: float,
               eng_high: float, status: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Leads per (fit level, engagement level, outcome status) for the fit x engagement grid
    (``kpis.fit_engagement_grid``): level 0 at or above the high cut, 1 at or above the low
    one, else 2 (NaN: 2). One pass; numpy's comparisons and bincount took 128 ms at 10M."""
    counts = np.zeros(27, dtype=np.int64)
    for i in range(status.size):
        f = 2 - (fit[i] >= fit_low) - (fit[i] >= fit_high)
        e = 2 - (eng[i] >= eng_low) - (eng[i] >= eng_high)
        s = status[i]
        if s < 0 or s > 2:
            raise ValueError("an outcome status outside 0-2")
        counts[(f * 3 + e) * 3 + s] += 1
    return counts


@njit(cache=True, nogil=True)
def add_at(out: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:  # pragma: no cover
    """``out[rows[k]] += weights[k]`` in order of ``k``: ``np.bincount(rows, weights)`` added into
    ``out``, without bincount's int64 copy of ``rows`` and its own output array."""
    if rows.size != weights.size:
        raise ValueError("rows and weights differ in size")
    for k in range(rows.size):
        r = rows[k]
        if r < 0 or r >= out.size:
            raise ValueError("a row is outside the output")
        out[r] += weights[k]
    return out


@njit(cache=True, nogil=True)
def run_count(rows: np.ndarray) -> int:  # pragma: no cover
    """The number of runs of equal values in ``rows`` (sorted: the leads with at least one)."""
    runs = 0
    for k in range(rows.size):
        if k == 0 or rows[k] != rows[k - 1]:
            runs += 1
    return runs


@njit(cache=True, nogil=True)
def _keep_run(out_rows: np.ndarray, out_values: np.ndarray, k: int, row: int, total: float) -> int:  # pragma: no cover
    """A finished run's sum into ``out_*[k]`` as ``Activity.from_dense`` keeps a value: NaN and 0
    dropped, +-inf as the largest float; the next ``k``."""
    if row < 0 or total != total or total == 0.0:
        return k
    if total == np.inf:
        total = np.finfo(np.float64).max
    elif total == -np.inf:
        total = -np.finfo(np.float64).max
    out_rows[k] = row
    out_values[k] = total
    return k + 1


@njit(cache=True, nogil=True)
def run_sums(rows: np.ndarray, weights: np.ndarray, n: int, out_rows: np.ndarray, out_values: np.ndarray,
             k: int, row: int, total: float, last: bool):  # pragma: no cover
    """The sum of ``weights`` per run of equal ``rows`` (sorted: one event type's kept events), one
    chunk at a time, into ``out_rows`` / ``out_values`` from ``k`` on: the sparse form of
    ``add_at`` into zeros (each run added in order from 0.0: the same bits) with no array of
    one value per lead. ``row`` / ``total``: the run the previous chunk left open (``row`` -1:
    none); ``last``: close it at the end. Returns the next ``k`` and the run left open."""
    if rows.size != weights.size:
        raise ValueError("rows and weights differ in size")
    for j in range(rows.size):
        r = rows[j]
        if r < 0 or r >= n:
            raise ValueError("a row is outside the leads")
        if r != row:
            if r < row:
                raise ValueError("rows are not sorted")
            k = _keep_run(out_rows, out_values, k, row, total)
            row = r
            total = 0.0
        total += weights[j]
    if last:
        k = _keep_run(out_rows, out_values, k, row, total)
        row, total = -1, 0.0
    return k, row, total


@njit(cache=True, nogil=True)
def add_lookup(out: np.ndarray, codes: np.ndarray, lut: np.ndarray) -> np.ndarray:  # pragma: no cover
    """``out += lut[codes + 1]`` (a category rule's points added into the fit part), without
    numpy's index and gathered arrays of one value per lead."""
    if codes.size != out.size:
        raise ValueError("codes and output differ in size")
    for i in range(out.size):
        c = codes[i] + 1
        if c < 0 or c >= lut.size:
            raise ValueError("a code is outside the lookup table")
        out[i] += lut[c]
    return out


@njit(cache=True, nogil=True)
def add_binned(out: np.ndarray, values: np.ndarray, lows: np.ndarray, highs: np.ndarray,
               lut: np.ndarray) -> np.ndarray:  # pragma: no cover
    """``out += lut[bin]`` for a numeric rule's bins as ``engine.numeric_bin_index`` finds them
    (``searchsorted(lows, v, "right") - 1``, inside when below that bin's high; k outside every
    bin, k+1 missing), with no array of bins in between."""
    if values.size != out.size:
        raise ValueError("values and output differ in size")
    k = lows.size
    if lut.size != k + 2 or highs.size != k:
        raise ValueError("bins and lookup table differ in size")
    for i in range(out.size):
        v = values[i]
        if v != v:  # NaN: missing
            b = k + 1
        else:
            lo, hi = 0, k  # the number of lows <= v (binary search, as searchsorted "right")
            while lo < hi:
                mid = (lo + hi) >> 1
                if lows[mid] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            idx = lo - 1
            b = idx if idx >= 0 and v < highs[idx] else k
        out[i] += lut[b]
    return out


@njit(cache=True, nogil=True)
def partition_below(a: np.ndarray, pivot: float, out: np.ndarray) -> int:  # pragma: no cover
    """``a``'s values below ``pivot`` to the front of ``out``, the others (NaN too) to the back;
    returns how many are below. Sorting the two parts then sorts the whole with no merge
    (``rescore._sort_both`` sorts them on two threads).

    Branch-free: each value is written at both ends and the end it belongs to moves on,
    so a random order costs no mispredicted branch (at 7M values: 10 ms, where a merge
    of two sorted halves took 46 ms).
    """
    n = a.size
    if out.size != n:
        raise ValueError("the output has the wrong size")
    lo = 0
    hi = n - 1
    for i in range(n):
        x = a[i]
        out[lo] = x
        out[hi] = x
        below = x < pivot
        lo += below
        hi -= 1 - below
    return lo


_WARM: set[int] = set()


def warm_up(n_rules: int) -> None:
    """Compile (or load from the disk cache) what a points move runs, for a config with ``n_rules``
    engagement rules, so the first slider move does not wait for the compiler (about a second).
    Once per rule count and process: later calls return at once."""
    if n_rules in _WARM:
        return
    _WARM.add(n_rules)
    v = np.array([0.0, 1.0])
    frozen = _read_only(v.copy())  # kept states' arrays are read-only: numba compiles those apart
    merge_replace(v, v[:1], v[1:], np.empty(2))
    auc_ks(v[:1], v[1:])
    for pos, neg in ((v, v), (frozen, v), (v, frozen), (frozen, frozen)):
        auc_ks_part(pos[:1], neg[1:], 0, 1)
    partition_below(v, 0.5, np.empty(2))
    tier = _read_only(np.zeros(2, dtype=np.int8))
    for total in (v, frozen):
        tier_range(0, 2, total, 0.5, 1.0, np.zeros(2, dtype=np.int32), 1, np.empty(2, dtype=np.int8))
    tier_moves(tier, tier, tier)
    grid_cells(frozen, frozen, 0.5, 1.0, 0.5, 1.0, tier)
    out = np.zeros(2)
    for dtype in (np.int16, np.int32):  # category codes, writable and read-only (memory-mapped from disk)
        codes = np.zeros(2, dtype=dtype)
        add_lookup(out, codes, v)
        add_lookup(out, _read_only(codes), v)
    lut = np.zeros(3)
    for values in (v, frozen):
        add_binned(out, values, v[:1], v[1:], lut)
    for rows in (np.zeros(1, dtype=np.int32), _read_only(np.zeros(1, dtype=np.int32))):  # decayed sums of
        run_count(rows)  # kept events read from DuckDB (writable) or memory-mapped from the disk cache
        run_sums(rows, v[:1], 1, np.empty(1, dtype=np.int32), np.empty(1), 0, -1, 0.0, True)
    for age in (np.zeros(1, dtype=np.int32), np.zeros(1)):  # a first load's events, as Arrow hands them over
        batch = (_read_only(np.zeros(1, dtype=np.int32)), _read_only(np.zeros(1, dtype=np.int8)), age)
        order_events([batch], np.ones(1, dtype=np.int64), 1)
    whole_seconds(_read_only(np.zeros(1, dtype=np.int64)), np.empty(1, dtype=np.int32))
    first_seen(np.zeros(1, dtype=np.int32), 1, np.empty(1, dtype=np.int32))  # its categories by first appearance
    radix_is_faster()  # the first view's sorts: the radix sort loaded, and timed against numpy's
    # a move starts from a kept state, whose arrays are read-only: its sorted scores, and the
    # part of the score the move does not change (the fit part on an engagement move, and back)
    merge_replace(frozen, v[:1], v[1:], np.empty(2))
    status = _read_only(np.zeros(2, dtype=np.int8))  # ``kpis.outcome_status``: read-only, cached
    month_key, cuts = np.zeros(2, dtype=np.int32), np.zeros(1)
    for fit in (v, frozen):
        for eng in (v, frozen):  # totals equal to fit + eng: nothing moves, nothing is written
            apply_moves(np.zeros(1, dtype=np.int64), fit, eng, v.copy(), np.zeros(2, dtype=np.int8),
                        np.zeros(2, dtype=np.int8), status, month_key, -np.inf, np.inf, cuts, 0.5, 1.0, True,
                        np.zeros(6, dtype=np.int64), np.zeros(9, dtype=np.int64))
    if n_rules:
        rows = tuple(_read_only(np.zeros(1, dtype=np.int32)) for _ in range(n_rules))
        values = tuple(_read_only(np.ones(1)) for _ in range(n_rules))
        query = np.zeros(1, dtype=np.int64)
        lookups = [build_lookup(r, 1) for r in rows]  # ``Activity.lookup``: read-only, as kept
        bits, before = tuple(x.bits for x in lookups), tuple(x.before for x in lookups)
        engagement_at(query, bits, before, values, np.zeros(n_rules), np.full(n_rules, np.inf), -np.inf, np.inf)
        matrix = gather_rows(query, bits, before, values, np.empty((1, n_rules)))
        engagement_rows(matrix, np.zeros(n_rules), np.full(n_rules, np.inf), -np.inf, np.inf)
        engagement_rows(_read_only(matrix), np.zeros(n_rules), np.full(n_rules, np.inf), -np.inf, np.inf)
        # scoring from scratch: on a new fit part (first view) and on a kept one (a dense points move);
        # no active leads and no mature ones, so only the two leads' own arrays are written
        empty_rows = tuple(_read_only(np.zeros(0, dtype=np.int32)) for _ in range(n_rules))
        empty_values = tuple(_read_only(np.zeros(0)) for _ in range(n_rules))
        for fit in (v, frozen):
            score_range(0, 2, 0, 0, fit, empty_rows, empty_values, np.zeros(n_rules), np.full(n_rules, np.inf),
                        -np.inf, np.inf, -np.inf, np.inf, cuts, 0.5, 1.0, status, month_key, 1, np.empty(2),
                        np.empty(2), np.empty(2, dtype=np.int8), np.empty(2, dtype=np.int8), np.empty(0),
                        np.empty(0))


def warm_up_in_background() -> threading.Thread | None:
    """Once per process: ``warm_up(0)`` on a thread, started before the data is read, so loading
    numba and the compiled loops from the disk cache (0.8 s at the first scoring after a start,
    most of it numba importing its numpy support) overlaps the reading; None after the first call."""
    global _BACKGROUND
    with _BACKGROUND_LOCK:
        if _BACKGROUND is not None:
            return None
        _BACKGROUND = threading.Thread(target=warm_up, args=(0,), name="leadcal-warm-up", daemon=True)
    _BACKGROUND.start()
    return _BACKGROUND


_BACKGROUND: threading.Thread | None = None
_BACKGROUND_LOCK = threading.Lock()


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)  # as ``Activity`` arrays are: numba compiles per array type
    return a


@njit(cache=True, nogil=True)
def apply_moves(rows: np.ndarray, fit: np.ndarray, eng: np.ndarray, total: np.ndarray, band: np.ndarray,
                tier: np.ndarray, status: np.ndarray, month_key: np.ndarray, total_low: float, total_high: float,
                cuts: np.ndarray, mql: float, sql: float, retier: bool, band_counts: np.ndarray,
                tier_counts: np.ndarray):  # pragma: no cover
    """Move some leads to their new total, band and tier, in place, and their counts with them.

    ``fit`` and ``eng`` already hold the new parts; ``total``, ``band``, ``tier`` and the
    counts are updated where the total changed (``tier`` only when ``retier``: with new
    thresholds the caller re-tiers every lead). Returns the old and the new totals of the
    mature converted and other leads that moved, for the sorted arrays.
    """
    old_pos = np.empty(rows.size)
    new_pos = np.empty(rows.size)
    old_neg = np.empty(rows.size)
    new_neg = np.empty(rows.size)
    p = 0
    q = 0
    for k in range(rows.size):
        i = rows[k]
        t = min(max(fit[i] + eng[i], total_low), total_high)
        before = total[i]
        if t == before:
            continue
        total[i] = t
        b = _band(t, cuts)
        s = status[i]
        band_counts[band[i] * 3 + s] -= 1
        band_counts[b * 3 + s] += 1
        band[i] = b
        if retier:
            tr = _tier(t, mql, sql)
            tier_counts[month_key[i] + tier[i]] -= 1
            tier_counts[month_key[i] + tr] += 1
            tier[i] = tr
        if s == 2:
            old_pos[p] = before
            new_pos[p] = t
            p += 1
        elif s == 1:
            old_neg[q] = before
            new_neg[q] = t
            q += 1
    return old_pos[:p], new_pos[:p], old_neg[:q], new_neg[:q]


@njit(cache=True, nogil=True)
def engagement_rows(matrix: np.ndarray, points: np.ndarray, caps: np.ndarray,
                    low: float, high: float) -> np.ndarray:  # pragma: no cover
    """``engagement_at`` on activities already gathered row-major (``gather_rows``: one lead's values
    side by side); a 0 activity adds ``+-0.0``, which changes no sum."""
    out = np.empty(matrix.shape[0])
    for k in range(matrix.shape[0]):
        total = 0.0
        for r in range(matrix.shape[1]):
            total += _capped(matrix[k, r], points[r], caps[r])
        out[k] = min(max(total, low), high)
    return out


@njit(cache=True, nogil=True)
def group_rows(codes: np.ndarray, starts: np.ndarray, out: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The rows with a code (>= 0) placed in ``out`` grouped by code, code ``c``'s from ``starts[c]``, each
    group in row order: a counting sort, where numpy's stable argsort of 10M account codes took 1.8-2.3 s."""
    cursor = starts[:-1].copy()
    for i in range(codes.size):
        c = codes[i]
        if c >= 0:
            out[cursor[c]] = i
            cursor[c] += 1
    return out


NAT = np.iinfo(np.int64).min
"""numpy's NaT as an int64 (datetime64 viewed as integers): no moment, so no comparison with it holds."""


@njit(cache=True, nogil=True)
def account_leads(codes: np.ndarray, lut: np.ndarray, lead_scoring: np.ndarray, account_scoring: np.ndarray,
                  won: np.ndarray, account_end: np.ndarray, account_of: np.ndarray, counted: np.ndarray,
                  hit: np.ndarray) -> None:  # pragma: no cover
    """Per lead (times as int64 microseconds, ``NAT`` for none): its account (``lut`` of its code, -1
    without one), whether it counts (scored at or before its account's scoring point) and whether it won
    before its account's outcome window ended. One pass, where numpy's gathers and comparisons wrote
    seven arrays of one value per lead (at 10M leads their memory alone took a second to fault in)."""
    for i in range(codes.size):
        c = codes[i]
        if c < 0:
            account_of[i] = -1
            counted[i] = False
            hit[i] = False
            continue
        a = lut[c]
        account_of[i] = a
        s, limit = lead_scoring[i], account_scoring[a]
        counted[i] = s != NAT and limit != NAT and s <= limit
        w, end = won[i], account_end[a]
        hit[i] = w != NAT and end != NAT and w < end


@njit(cache=True, nogil=True)
def group_scores(values: np.ndarray, starts: np.ndarray, method: int, k: int, cap: float,
                 out: np.ndarray) -> np.ndarray:  # pragma: no cover
    """One score per group ``values[starts[g]:starts[g + 1]]`` (an account's counted leads), into ``out``.

    ``method`` 0: the largest; 1: the sum, at most ``cap``; 2: the mean of the ``k`` largest (of all
    when fewer). An empty group gets NaN. One pass per group, a buffer of ``k`` for the top-k.
    """
    best = np.empty(max(k, 1))
    for g in range(out.size):
        lo, hi = starts[g], starts[g + 1]
        if hi == lo:
            out[g] = np.nan
            continue
        if method == 0:
            m = values[lo]
            for i in range(lo + 1, hi):
                if values[i] > m:
                    m = values[i]
            out[g] = m
        elif method == 1:
            s = 0.0
            for i in range(lo, hi):
                s += values[i]
            out[g] = s if s < cap else cap
        else:
            m = 0  # best[:m] kept in decreasing order
            for i in range(lo, hi):
                v = values[i]
                if m < k:
                    j = m
                    m += 1
                elif v > best[m - 1]:
                    j = m - 1
                else:
                    continue
                while j > 0 and best[j - 1] < v:
                    best[j] = best[j - 1]
                    j -= 1
                best[j] = v
            s = 0.0
            for j in range(m):
                s += best[j]
            out[g] = s / m
    return out
