"""Where the time goes on one size, and prototypes of the fixes (scratch; changes nothing in scoring/).

    python -m benchmarks.profile_rescore --leads 1000000 [--section all|rescore|load|decay|page]

Prints: a cProfile of ``model_view`` after a points change; step timings inside
``engine.score``, ``report.calibration`` and ``kpis.kpis``; prototypes of a faster
re-scoring pass (exact, same results, measured against the current code); a breakdown
of the first load; a prototype of a decay change without DuckDB; and the Calibrate page
rerun split by what it calls (AppTest with temporary timing wrappers in this process).
Every prototype checks that it gives the same numbers as leadcal before it is timed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.run import DEFAULT_CONFIG, demo_db, rule_index, variant

REPEATS = 7


def timeit(fn, repeats: int = REPEATS) -> float:
    """Median milliseconds of ``fn()``."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def show(label: str, ms: float) -> None:
    print(f"  {label:<64} {ms:9.2f} ms")


# --------------------------------------------------------------------------- re-scoring: where


def profile_model_view(config, features) -> None:
    from scoring.calibrate import model_view

    model_view(config, features)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(5):
        model_view(config, features)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
    print("cProfile of 5 x model_view (points change), by own time:")
    print("\n".join(line for line in buf.getvalue().splitlines() if line.strip())[:4000])


def steps(config, features) -> dict:
    """Step timings of the three pieces of model_view."""
    from scoring import engine, metrics
    from scoring.features import rule_signal_key

    n = features.n
    out = {}
    print("engine.score, step by step (no segments in the default config):")
    for rule in config.fit:
        ms = timeit(lambda r=rule: engine.fit_points(r, features))
        out[f"fit:{rule.column}"] = ms
        show(f"fit_points {rule.type} {rule.column}", ms)
    eng_total = 0.0
    for rule in config.engagement:
        ms = timeit(lambda r=rule: engine.engagement_points(r, config, features))
        eng_total += ms
    show(f"engagement_points x {len(config.engagement)} (mult + clip each)", eng_total)
    show("  one feature lookup (rule_signal_key + dict)", timeit(
        lambda: features.feature(rule_signal_key(config, config.engagement[0]))))
    fit = np.zeros(n)
    show("np.zeros + '+=' of one rule (x14 in _parts)", timeit(lambda: np.zeros(n) + fit))
    total = engine.score(config, features).total
    show("_clip (np.clip, new array) of one part", timeit(lambda: np.clip(total, 0, 100)))
    show("band_index: searchsorted of 1 float64 per lead into the cut points",
         timeit(lambda: engine.band_index(total, config.bands)))
    show("tier_index: 2 comparisons + 3 astype", timeit(
        lambda: engine.tier_index(total, config.thresholds.mql, config.thresholds.sql)))
    show("np.full(n, -1, int16) segment array", timeit(lambda: np.full(n, -1, np.int16)))
    show("TOTAL engine.score", timeit(lambda: engine.score(config, features)))

    print("report.calibration, step by step:")
    scores = engine.score(config, features)
    mature = features.mature
    y = features.converted[mature]
    s = scores.total[mature]
    show("features.converted[mature], scores.total[mature] (2 masked gathers)",
         timeit(lambda: (features.converted[mature], scores.total[mature])))
    show("metrics.separation (np.unique return_inverse = argsort of mature floats)",
         timeit(lambda: metrics.separation(s, y)))
    show("  np.unique(return_inverse, return_counts) alone", timeit(
        lambda: np.unique(s, return_inverse=True, return_counts=True)))
    show("  np.argsort(s) alone (what unique's inverse needs)", timeit(lambda: np.argsort(s)))
    show("  np.sort(s) alone (no permutation: SIMD sort)", timeit(lambda: np.sort(s)))
    show("band_table (3 masked bincounts + Wilson + dict rows)", timeit(lambda: metrics.band_table(
        scores.total, scores.band, features.converted, mature, config.bands, 0, 100)))
    show("tier_table", timeit(lambda: metrics.tier_table(scores.tier, features.converted, mature)))
    show("created_at.min() + created_at.max() (every call)", timeit(
        lambda: (features.created_at.min(), features.created_at.max())))
    show("mature.sum(), (~mature).sum(), y.sum(), y.mean()", timeit(
        lambda: (mature.sum(), (~mature).sum(), y.sum(), y.mean())))
    show("quality.to_dict()", timeit(lambda: features.quality.to_dict()))
    from scoring import report
    show("TOTAL report.calibration", timeit(lambda: report.calibration(config, features, scores)))

    print("kpis.kpis (auc passed in), step by step:")
    from scoring import kpis
    show("TOTAL kpis.kpis", timeit(lambda: kpis.kpis(features, scores, auc_value=0.8)))
    show("  boolean masks (y, is_mql, is_sql) and 6 '&' + sum", timeit(lambda: (
        (features.converted & mature), scores.tier >= 1, scores.tier >= 2)))
    months = features.scoring_month
    show("  monthly_volume_from_months x 2 (min/max + masked bincount)", timeit(lambda: (
        kpis.monthly_volume_from_months(months, scores.tier >= 1),
        kpis.monthly_volume_from_months(months, scores.tier >= 2))))
    return out


# --------------------------------------------------------------------------- re-scoring: prototype


class FastRescorer:
    """Prototype of the proposed re-scoring design (exact: same floats, same order of sums).

    Built once per features, held next to the cached features (as ``st.cache_resource``
    holds the features today):
    - ``status``: int8 per lead, 0 immature, 1 mature not converted, 2 mature converted, so
      the band table and the tier table are one ``bincount(code * 3 + status)`` each;
    - ``pos_idx`` / ``neg_idx``: the mature converted and not converted leads, so AUC/KS
      need no boolean masking per call;
    - month of each scoring point relative to the first (int16), so MQL and SQL volume
      per month is one ``bincount(month * 3 + tier)``;
    - per engagement rule its contribution ``clip(activity * points, +-cap)``, cached by
      (feature, points, cap): a points change recomputes one rule, the sum of the cached
      contributions is redone in rule order (so the floats are the same as today's);
    - the fit part, cached by the fit rules and the fit cap (it does not move with an
      engagement slider); a fit edit recomputes it;
    - bands by one comparison per cut point instead of ``searchsorted`` (a binary
      search per lead is ~20 ns; a vectorised compare-and-add over 9 cuts is less);
    - AUC and KS from two SIMD ``np.sort`` (converted, not converted) and two
      ``searchsorted`` of the converted leads only, instead of ``np.unique(return_inverse)``
      (an argsort of every mature score);
    - the score part (scores, band table, AUC/KS) cached by the config *without*
      thresholds: a threshold change only recomputes tiers, tier table and KPIs.
    """

    def __init__(self, features):
        f = features
        self.f = f
        self.status = np.where(f.mature, np.where(f.converted, 2, 1), 0).astype(np.int8)
        self.pos_idx = np.flatnonzero(f.mature & f.converted)
        self.neg_idx = np.flatnonzero(f.mature & ~f.converted)
        months = f.scoring_month
        self.m0 = int(months.min())
        self.month3 = ((months - self.m0) * 3).astype(np.int32)
        self.span = int(months.max()) - self.m0 + 1
        self.first, self.last = f.created_at.min(), f.created_at.max()
        self.contrib: dict = {}
        self.fit_cache: dict = {}
        self.score_cache: dict = {}

    # --- scores
    def _eng(self, config, rule):
        from scoring.features import rule_signal_key

        key = (rule_signal_key(config, rule), float(rule.points), rule.cap)
        arr = self.contrib.get(key)
        if arr is None:
            arr = self.f.feature(key[0]) * float(rule.points)
            if rule.cap is not None:
                np.clip(arr, -rule.cap, rule.cap, out=arr)
            self.contrib[key] = arr
        return arr

    def _fit(self, config):
        from scoring import engine

        key = json.dumps([r.model_dump_json() for r in config.fit] +
                         [config.caps.fit.model_dump_json() if config.caps.fit else None])
        fit = self.fit_cache.get(key)
        if fit is None:
            fit = np.zeros(self.f.n)
            for rule in config.fit:
                fit += engine.fit_points(rule, self.f)
            cap = config.caps.fit
            if cap is not None and (cap.min is not None or cap.max is not None):
                np.clip(fit, cap.min, cap.max, out=fit)
            self.fit_cache = {key: fit}
        return fit

    def scores(self, config):
        """fit, engagement, total, band: the same floats as engine.score (same order of sums)."""
        fit = self._fit(config)
        rules = config.engagement
        if not rules:
            eng = np.zeros(self.f.n)
        else:
            eng = self._eng(config, rules[0]) + 0.0  # a fresh array; 0.0 + x == x
            for rule in rules[1:]:
                eng += self._eng(config, rule)
        cap = config.caps.engagement
        if cap is not None and (cap.min is not None or cap.max is not None):
            np.clip(eng, cap.min, cap.max, out=eng)
        total = fit + eng
        cap = config.caps.total
        if cap is not None and (cap.min is not None or cap.max is not None):
            np.clip(total, cap.min, cap.max, out=total)
        band = np.zeros(self.f.n, dtype=np.int8)
        for cut in config.bands:
            band += total >= cut
        return fit, eng, total, band

    # --- metrics
    def separation(self, total):
        """AUC (ties half) and KS, exact, from two sorts without permutations."""
        pos = np.sort(total[self.pos_idx])
        neg = np.sort(total[self.neg_idx])
        n_pos, n_neg = len(pos), len(neg)
        if n_pos == 0 or n_neg == 0:
            return float("nan"), float("nan")
        below = np.searchsorted(neg, pos, side="left")   # negatives strictly below each positive
        upto = np.searchsorted(neg, pos, side="right")   # ... at or below
        auc = float((below.sum() + 0.5 * (upto - below).sum()) / (n_pos * n_neg))
        # KS: the cumulative gap only changes sign of slope at positives; between two distinct
        # positive values v_i < v_j it is largest right at v_i and smallest just below v_j
        last = np.flatnonzero(np.r_[pos[1:] != pos[:-1], True])   # last of each run of equal positives
        cum_pos = (last + 1) / n_pos                               # F_pos at each distinct positive
        at = cum_pos - upto[last] / n_neg                          # gap at v_i
        first = np.r_[0, last[:-1] + 1]                            # first of each run
        nxt_below = below[first[1:]]                               # negatives below the next value
        has_gap = nxt_below > upto[last[:-1]]                      # some negative value lies between
        before = cum_pos[:-1][has_gap] - nxt_below[has_gap] / n_neg
        start = [below[0] / n_neg] if below[0] > 0 else []         # below the first positive: F_pos = 0
        ks = float(max(np.max(np.abs(at)), np.max(np.abs(before), initial=0.0), *start))
        return auc, ks

    def model_view(self, config):
        """The numbers model_view gives, via the caches (tiers and KPIs always recomputed)."""
        from scoring import metrics

        key = config.model_copy(update={"thresholds": None}).model_dump_json()
        cached = self.score_cache.get(key)
        if cached is None:
            fit, eng, total, band = self.scores(config)
            auc, ks = self.separation(total)
            k = len(config.bands) + 1
            counts = np.bincount(band * np.int16(3) + self.status, minlength=3 * k).reshape(k, 3)
            cached = (fit, eng, total, band, auc, ks, counts)
            self.score_cache = {key: cached}  # keep the last one only
        fit, eng, total, band, auc, ks, counts = cached
        tier = (total >= config.thresholds.mql).view(np.int8) + (total >= config.thresholds.sql).view(np.int8)
        tcounts = np.bincount(tier * np.int8(3) + self.status, minlength=9).reshape(3, 3)
        per_month = np.bincount(self.month3 + tier, minlength=3 * self.span).reshape(-1, 3)
        mql_months = per_month[:, 1:].sum(axis=1)
        sql_months = per_month[:, 2]
        if self.span >= 3:
            mql_months, sql_months = mql_months[1:-1], sql_months[1:-1]
        ci = metrics.wilson_interval(counts[:, 2], counts[:, 1] + counts[:, 2])
        return {"band_leads": counts[:, 1] + counts[:, 2], "band_conv": counts[:, 2],
                "band_immature": counts[:, 0], "ci": ci, "auc": auc, "ks": ks,
                "tier_leads": tcounts[:, 1] + tcounts[:, 2], "tier_conv": tcounts[:, 2],
                "mql_per_month": float(mql_months.mean()), "sql_per_month": float(sql_months.mean()),
                "total": total, "band": band, "tier": tier}


def prototype_rescore(config, features) -> None:
    from scoring import engine
    from scoring.calibrate import model_view

    i_demo = rule_index(config, "demo_request")
    points = [variant(config, **{f"engagement__{i_demo}__points": p}) for p in (12.0, 20.0)]
    thresholds = [variant(config, thresholds__mql=m) for m in (35.0, 40.0)]
    t = time.perf_counter()
    fast = FastRescorer(features)
    build_ms = 1000 * (time.perf_counter() - t)
    fast.model_view(config)  # fills the per-rule caches of the approved model (as the app would)

    # correctness against leadcal, on both variants
    for cfg in points + thresholds:
        ref = model_view(cfg, features)
        got = fast.model_view(cfg)
        bands = ref.result["bands"]
        assert [b["leads"] for b in bands] == got["band_leads"].tolist()
        assert [b["conversions"] for b in bands] == got["band_conv"].tolist()
        assert [b["immature"] for b in bands] == got["band_immature"].tolist()
        assert np.array_equal(ref.scores.total, got["total"])
        assert np.array_equal(ref.scores.band, got["band"]) and np.array_equal(ref.scores.tier, got["tier"])
        assert abs(ref.result["auc"] - got["auc"]) < 1e-12, (ref.result["auc"], got["auc"])
        assert ref.result["ks"] == got["ks"], (ref.result["ks"], got["ks"])
        tiers = ref.result["tiers"]
        assert [tiers[k]["leads"] for k in ("below_mql", "mql", "sql")] == got["tier_leads"].tolist()
        assert abs(ref.kpis["mql_per_month"] - got["mql_per_month"]) < 1e-9
        assert abs(ref.kpis["sql_per_month"] - got["sql_per_month"]) < 1e-9
    print("prototype gives the same scores, bands, tiers, band/tier counts, AUC, KS, MQL/SQL per month "
          "as leadcal on both points and both threshold variants")
    show("prototype: one-off build (status codes, month codes, min/max)", build_ms)

    def alternate(fn, cfgs):
        state = {"i": 0}

        def run():
            fn(cfgs[state["i"] % 2])
            state["i"] += 1
        return run

    cur_p = timeit(alternate(lambda c: model_view(c, features), points))
    cur_t = timeit(alternate(lambda c: model_view(c, features), thresholds))
    # a points change: the changed rule's contribution is new each time (clear its cache entry)
    def fast_points(c):  # the moved rule's contribution is new each time (12 is dropped from the cache)
        fast.contrib = {k: v for k, v in fast.contrib.items() if k[1] != 12.0}
        fast.model_view(c)
    new_p = timeit(alternate(fast_points, points))
    new_t = timeit(alternate(fast.model_view, thresholds))
    cold = timeit(alternate(lambda c: (setattr(fast, "contrib", {}), setattr(fast, "fit_cache", {}),
                                       setattr(fast, "score_cache", {}), fast.model_view(c)), points))
    print("re-scoring with band table, AUC/KS, tiers and monthly MQL/SQL volume:")
    show("current model_view, points change", cur_p)
    show("prototype, points change (one rule recomputed)", new_p)
    show("prototype, no caches at all (every rule recomputed)", cold)
    show("current model_view, threshold change", cur_t)
    show("prototype, threshold change (scores/band table/AUC reused)", new_t)
    total = model_view(config, features).scores.total
    from scoring import metrics
    mature = features.mature
    show("  metrics.separation (current)", timeit(lambda: metrics.separation(total[mature], features.converted[mature])))
    show("  prototype separation (2 x np.sort + searchsorted)", timeit(lambda: fast.separation(total)))
    band = model_view(config, features).scores.band
    show("  band_table's 3 masked bincounts (current)", timeit(lambda: (
        np.bincount(band[mature], minlength=10), np.bincount(band[features.converted & mature], minlength=10),
        np.bincount(band[~mature], minlength=10))))
    show("  prototype band counts: one bincount(band * 3 + status)", timeit(
        lambda: np.bincount(band.astype(np.intp) * 3 + fast.status, minlength=30)))
    fast.model_view(config)
    show("  prototype scores() with every contribution cached", timeit(lambda: fast.scores(config)))
    show("  current band_index (searchsorted)", timeit(lambda: np.searchsorted(
        np.asarray(config.bands, dtype=np.float64), total, side="right").astype(np.int16)))

    def bands_by_compare():
        b = np.zeros(features.n, dtype=np.int8)
        for cut in config.bands:
            b += total >= cut
    show("  prototype band: 9 x (compare + add) in int8", timeit(bands_by_compare))
    show("  current numeric fit rule (searchsorted + where + isnan)", timeit(
        lambda: engine.fit_points(config.fit[2], features)))
    show("  prototype threshold part: tiers + tier counts + monthly volumes", timeit(
        lambda: fast.model_view(config)))


def separation_by_buckets(total, pos_idx, neg_idx, lo: float, hi: float, bins: int = 1 << 20):
    """AUC (ties half) and KS, exact, with counting instead of sorting most leads.

    Scores are cut into ``bins`` equal buckets of [lo, hi] (the total cap; else the
    scores' min and max). The bucket is monotone in the score, so a converted and a not
    converted lead in different buckets compare by bucket (``bincount`` + ``cumsum``).
    Only leads in buckets holding both classes ("mixed") are compared by value; since
    buckets follow values, one sort of those leads' values serves every mixed bucket.
    KS: inside a one-class bucket the gap moves one way, so its extremes are at bucket
    ends (the cumulative bucket counts); mixed buckets are evaluated at each value.
    """
    scale = (bins - 1) / (hi - lo) if hi > lo else 0.0
    sp, sn = total[pos_idx], total[neg_idx]
    n_pos, n_neg = len(sp), len(sn)
    if n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan")
    qp = ((sp - lo) * scale).astype(np.int64)
    qn = ((sn - lo) * scale).astype(np.int64)
    size = int(max(qp.max(), qn.max())) + 1
    cp = np.bincount(qp, minlength=size)
    cn = np.bincount(qn, minlength=size)
    cum_pos, cum_neg = np.cumsum(cp), np.cumsum(cn)
    twice_u = 2 * int((cp * (cum_neg - cn)).sum())  # pairs with the converted lead in a higher bucket
    ks = float(np.max(np.abs(cum_pos / n_pos - cum_neg / n_neg)))
    mixed = (cp > 0) & (cn > 0)
    if mixed.any():
        mp, mn = mixed[qp], mixed[qn]
        vp, bp = sp[mp], qp[mp]
        vn = np.sort(sn[mn])
        mixed_neg_before = (np.cumsum(np.where(mixed, cn, 0)) - np.where(mixed, cn, 0))  # mixed negs in lower buckets
        below = np.searchsorted(vn, vp, side="left") - mixed_neg_before[bp]
        upto = np.searchsorted(vn, vp, side="right") - mixed_neg_before[bp]
        twice_u += int((2 * below + (upto - below)).sum())
        # KS at every value inside mixed buckets
        vp_sorted = np.sort(vp)
        mixed_pos_before = (np.cumsum(np.where(mixed, cp, 0)) - np.where(mixed, cp, 0))
        vals = np.concatenate([vp_sorted, vn])
        b = ((vals - lo) * scale).astype(np.int64)
        f_pos = (cum_pos[b] - cp[b] + np.searchsorted(vp_sorted, vals, side="right") - mixed_pos_before[b]) / n_pos
        f_neg = (cum_neg[b] - cn[b] + np.searchsorted(vn, vals, side="right") - mixed_neg_before[b]) / n_neg
        ks = max(ks, float(np.max(np.abs(f_pos - f_neg))))
    return float(twice_u / 2 / (n_pos * n_neg)), ks


def prototype_bucket_separation(config, features) -> None:
    from scoring import metrics
    from scoring.calibrate import model_view

    mature = features.mature
    pos_idx = np.flatnonzero(mature & features.converted)
    neg_idx = np.flatnonzero(mature & ~features.converted)
    print("AUC/KS by counting (exact), against metrics.separation:")
    for label, cfg in (("default config", config),
                       ("no total cap, scaled to min..max", variant(config, caps={}))):
        total = model_view(cfg, features).scores.total
        cap = cfg.caps.total
        lo = cap.min if cap and cap.min is not None else float(total.min())
        hi = cap.max if cap and cap.max is not None else float(total.max())
        ref = metrics.separation(total[mature], features.converted[mature])
        got = separation_by_buckets(total, pos_idx, neg_idx, lo, hi)
        assert abs(ref[0] - got[0]) < 1e-12 and ref[1] == got[1], (ref, got)
        q = ((total - lo) * ((1 << 20) - 1) / (hi - lo)).astype(np.int64)
        both = (np.bincount(q[pos_idx], minlength=q.max() + 1) > 0) & (np.bincount(q[neg_idx], minlength=q.max() + 1) > 0)
        print(f"  {label}: {both[q[mature]].mean():.0%} of mature leads sit in buckets holding both classes")
        show(f"{label}: metrics.separation", timeit(lambda t=total: metrics.separation(
            t[mature], features.converted[mature]), 3))
        show(f"{label}: bincount buckets (2^20) + exact mixed buckets", timeit(
            lambda t=total, a=lo, b=hi: separation_by_buckets(t, pos_idx, neg_idx, a, b), 3))


def prototype_affected_rows(config, features) -> None:
    """A points change only moves the leads whose activity for that rule is not 0.

    activity x points is 0 for every other lead whatever the points, so their scores stay
    bit for bit. Recomputing the in-order engagement sum on the affected rows only (from
    the cached per-rule contributions) gives exactly today's floats there; the band counts
    are then updated by subtracting the affected leads' old bands and adding their new ones.
    """
    from scoring.calibrate import model_view
    from scoring.features import rule_signal_key

    fast = FastRescorer(features)
    base = fast.model_view(config)
    eng_raw = np.zeros(features.n)  # the engagement sum before its cap, as cached state
    for rule in config.engagement:
        eng_raw += fast._eng(config, rule)
    fit = fast._fit(config)
    total, band = base["total"], base["band"]
    k = len(config.bands) + 1
    counts = np.bincount(band * np.int16(3) + fast.status, minlength=3 * k)
    cap_e, cap_t = config.caps.engagement, config.caps.total
    cuts = config.bands
    print("points change on the affected rows only (scores + band counts; AUC/KS not included):")
    for event in ("demo_request", "pricing_page_view", "email_open"):
        j = rule_index(config, event)
        rule = config.engagement[j]
        act = features.feature(rule_signal_key(config, rule))
        idx = np.flatnonzero(act)  # cached per feature in the real design
        others = [fast._eng(config, r) for r in config.engagement]
        new_points = float(rule.points) * 0.6
        new_cfg = variant(config, **{f"engagement__{j}__points": new_points})

        def change(act=act, idx=idx, new_points=new_points, rule=rule, others=others, j=j):
            c_new = act[idx] * new_points
            if rule.cap is not None:
                np.clip(c_new, -rule.cap, rule.cap, out=c_new)
            e = np.zeros(len(idx))
            for r_i, c in enumerate(others):
                e += c_new if r_i == j else c[idx]
            t = fit[idx] + np.clip(e, cap_e.min, cap_e.max)
            np.clip(t, cap_t.min, cap_t.max, out=t)
            b = np.zeros(len(idx), dtype=np.int8)
            for cut in cuts:
                b += t >= cut
            st = fast.status[idx]
            new_counts = (counts - np.bincount(band[idx] * np.int16(3) + st, minlength=3 * k)
                          + np.bincount(b * np.int16(3) + st, minlength=3 * k))
            return t, b, new_counts

        t, b, new_counts = change()
        ref = model_view(new_cfg, features)
        assert np.array_equal(ref.scores.total[idx], t) and np.array_equal(ref.scores.band[idx], b)
        rest = np.ones(features.n, bool)
        rest[idx] = False
        assert np.array_equal(ref.scores.total[rest], total[rest])
        assert [r["leads"] for r in ref.result["bands"]] == (new_counts.reshape(k, 3)[:, 1:].sum(1)).tolist()
        show(f"{event} ({len(idx) / features.n:.0%} of leads affected)", timeit(change))
    print("  (same totals and band counts as model_view, checked; the rest of the leads unchanged)")


# --------------------------------------------------------------------------- first load


def profile_load(db: Path, config) -> None:

    from scoring import features as fmod
    from scoring.quality import check_quality
    from scoring.source import open_source

    print("first load, step by step:")
    t = time.perf_counter()
    with open_source(db) as source:
        t_open = time.perf_counter() - t
        spec = fmod.feature_spec(config)
        import datetime as dt
        now = dt.datetime.now()
        t = time.perf_counter()
        fmod.check_columns(source, fmod.feature_needs(spec))
        t_check = time.perf_counter() - t
        t = time.perf_counter()
        end = fmod.data_end(source, spec.mapping, now)
        t_end = time.perf_counter() - t
        sql, params = fmod.build_query(spec)
        params["data_end"] = end
        used = {k: v for k, v in params.items() if "$" + k in sql}
        t = time.perf_counter()
        table = source.con.sql(sql, params=used).to_arrow_table()
        t_query = time.perf_counter() - t
        t = time.perf_counter()
        for name in table.column_names:
            if name.startswith(("s", "num_")):
                table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        t_conv = time.perf_counter() - t
        t = time.perf_counter()
        for c in spec.categorical:
            fmod._encode(table.column("cat_" + c))
        t_enc = time.perf_counter() - t
        t = time.perf_counter()
        check_quality(source, spec.mapping, now=now, data_end=end)
        t_quality = time.perf_counter() - t
        # the feature query without the event join (leads + outcome only), to split the query time
        no_ev = fmod.FeatureSpec(spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days,
                                 spec.categorical, spec.numeric, ())
        sql2, params2 = fmod.build_query(no_ev)
        params2["data_end"] = end
        t = time.perf_counter()
        source.con.sql(sql2, params={k: v for k, v in params2.items() if "$" + k in sql2}).to_arrow_table()
        t_leads = time.perf_counter() - t
    for label, v in (("open_source (connect, catalogue)", t_open), ("check_columns", t_check),
                     ("data_end query", t_end), ("feature query -> Arrow (all)", t_query),
                     ("  of which without events (leads, dedupe, outcome, sort)", t_leads),
                     ("  so the event join + 10 decayed sums", t_query - t_leads),
                     ("Arrow -> numpy float64 copies", t_conv), ("dictionary encoding", t_enc),
                     ("check_quality (its own queries)", t_quality)):
        show(label, 1000 * v)
    print(f"  feature query columns: {table.num_columns}, rows {table.num_rows:,}, "
          f"Arrow size {table.nbytes / 2**20:.0f} MB")


# --------------------------------------------------------------------------- decay change prototype


EVENTS_SQL = """
WITH l AS (
  SELECT lead_id AS id, created_at + to_microseconds($sp_us) AS scoring
  FROM (SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY created_at NULLS LAST) AS rn
        FROM leads WHERE lead_id IS NOT NULL) WHERE rn = 1 AND created_at IS NOT NULL),
o AS (SELECT lead_id AS id, min(converted_at) AS conv FROM outcomes WHERE converted_at <= $data_end GROUP BY 1)
SELECT l.id, lower(trim(e.event_type)) AS t,
       epoch_us(l.scoring) - epoch_us(e.occurred_at) AS age_us
FROM events e JOIN l ON e.lead_id = l.id LEFT JOIN o ON o.id = l.id
WHERE e.occurred_at < least(l.scoring, coalesce(o.conv, l.scoring)) AND e.occurred_at <= $data_end
"""


def prototype_decay(db: Path, config, features) -> None:
    """Keep the point-in-time events (lead index, type code, age) once; a decay change is numpy."""
    import duckdb

    from scoring.features import DAY_US, extract_features
    from scoring.source import open_source

    t = time.perf_counter()
    with duckdb.connect(str(db), read_only=True) as con:
        ev = con.sql(EVENTS_SQL, params={"sp_us": int(config.evaluation.scoring_point_days * DAY_US),
                                         "data_end": features.data_end}).to_arrow_table()
    ids = ev.column("id").to_numpy()
    order = np.argsort(features.lead_id)  # features are sorted by creation time; map id -> row
    row = order[np.searchsorted(features.lead_id, ids, sorter=order)].astype(np.int32)
    import pyarrow.compute as pc
    enc = pc.dictionary_encode(ev.column("t")).combine_chunks()
    types = np.asarray(enc.dictionary.to_pylist())
    code = enc.indices.to_numpy().astype(np.int8)
    age_days = ev.column("age_us").to_numpy() / float(DAY_US)  # the same double the SQL computes
    build_s = time.perf_counter() - t
    mb = (row.nbytes + code.nbytes + age_days.nbytes) / 2**20
    del ev, ids

    def signals(half_life: float) -> dict:
        w = np.power(0.5, age_days / half_life)
        n, k = features.n, len(types)
        sums = np.bincount(row.astype(np.int64) * k + code, weights=w, minlength=n * k).reshape(n, k)
        return {str(t_): sums[:, j] for j, t_ in enumerate(types)}

    cfg14 = variant(config, decay={"kind": "exponential", "half_life_days": 14.0})
    t = time.perf_counter()
    with open_source(db) as source:
        ref = extract_features(source, cfg14)
    cur_s = time.perf_counter() - t
    got = signals(14.0)
    worst = 0.0
    for key, arr in ref.signals.items():
        t_name = key[3:].split("|")[0]
        worst = max(worst, float(np.max(np.abs(arr - got[t_name]))))
    print("decay change without DuckDB (point-in-time events kept once as lead row, type, age):")
    show("one-off: query the point-in-time events + map ids to rows", 1000 * build_s)
    print(f"  kept: {len(row):,} events, {mb:.0f} MB (int32 row, int8 type, float64 age)")
    show("current: extract_features with another half-life", 1000 * cur_s)
    show("prototype: pow + one bincount over (row, type)", timeit(lambda: signals(21.0), 3))
    print(f"  largest difference to extract_features' decayed sums: {worst:.3g} "
          "(summation order: DuckDB's hash aggregate vs event order)")


# --------------------------------------------------------------------------- page rerun


def profile_page(db: Path, repeats: int = 5) -> None:
    """Rerun of the Calibrate page split by what it calls (timing wrappers, this process only)."""
    import os
    import tempfile
    from collections import defaultdict

    from streamlit.testing.v1 import AppTest

    import scoring.calibrate
    import scoring.charts
    import ui.controls
    import ui.data
    import ui.sidebar

    spent: dict[str, list[float]] = defaultdict(list)

    def wrap(module, name):
        fn = getattr(module, name)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[f"{module.__name__}.{name}"].append(time.perf_counter() - t)
        setattr(module, name, timed)

    for module, name in ((scoring.calibrate, "calibration_view"), (scoring.charts, "band_chart"),
                         (scoring.charts, "grid_chart"), (scoring.charts, "distribution_chart"),
                         (ui.controls, "draft_from_controls"), (ui.sidebar, "render"),
                         (ui.data, "approved_view")):
        wrap(module, name)
    os.environ["LEADCAL_DB"] = str(db)
    os.environ["LEADCAL_STORE"] = tempfile.mkdtemp(prefix="leadcal-profile-store-")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=600)
    at.run()
    at.run()
    spent.clear()
    reruns = []
    for i in range(repeats):
        at.slider(key="v0:eng:0:points").set_value((12.0, 20.0)[i % 2])
        t = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - t)
        assert not at.exception, at.exception
    print(f"Calibrate page rerun after a points move ({repeats} reruns, mean per rerun):")
    mean_rerun = 1000 * statistics.mean(reruns)
    show("whole rerun (AppTest)", mean_rerun)
    accounted = 0.0
    for name, values in sorted(spent.items(), key=lambda kv: -sum(kv[1])):
        per = 1000 * sum(values) / repeats
        accounted += per
        show(f"  {name} ({len(values) // repeats} call(s))", per)
    show("  the rest: Streamlit (widgets, dataframes, plotly serialisation), page code",
         mean_rerun - accounted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--section", choices=["all", "rescore", "proto", "load", "decay", "page"], default="all",
                        help="rescore = profile + step timings + prototypes; proto = prototypes only")
    args = parser.parse_args()
    from scoring.config import load_config
    from scoring.features import extract_features
    from scoring.source import open_source

    db, _ = demo_db(args.leads)
    config = load_config(DEFAULT_CONFIG)
    if args.section in ("all", "load"):
        profile_load(db, config)
    if args.section in ("all", "rescore", "proto", "decay"):
        with open_source(db) as source:
            features = extract_features(source, config)
        if args.section in ("all", "rescore"):
            i_demo = rule_index(config, "demo_request")
            profile_model_view(variant(config, **{f"engagement__{i_demo}__points": 12.0}), features)
            steps(config, features)
        if args.section in ("all", "rescore", "proto"):
            prototype_rescore(config, features)
            prototype_affected_rows(config, features)
            prototype_bucket_separation(config, features)
        if args.section in ("all", "decay"):
            prototype_decay(db, config, features)
    if args.section in ("all", "page"):
        profile_page(db)


if __name__ == "__main__":
    main()
