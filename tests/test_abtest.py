"""Champion vs challenger: power and sample size vs statsmodels, readout statistics vs scipy /
statsmodels, routing vs a plain-Python md5, the exported routing SQL vs the engine, and the
fixed horizon (no verdict before the planned sample)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from scoring.analysis.abtest import (Baseline, ModelVolume, AbTestPlan, make_plan, maturity_days, power_of,
                                     proportion_effect_size, sample_size, solve_n1, score_both)
from scoring.analysis.abtest_readout import (BETTER, NO_DIFFERENCE, NOT_YET, WORSE, readout, sample_ratio,
                                             two_means, two_proportion)
from scoring.data.routing import BUCKETS, buckets, challenger_mask, cutoff_hex
from scoring.data.source import open_source
from scoring.export.abtest_sql import export_test_sql
from scoring.model.config import load_config
from scoring.model.engine import TIERS, Scores

DEFAULT = "data/configs/default.yaml"


def md5_bucket(salt: str, lead_id) -> int:
    return int(hashlib.md5(f"{salt}:{lead_id}".encode()).hexdigest()[:8], 16)


# --------------------------------------------------------------------------- power and sample size


@pytest.mark.parametrize("base,target", [(0.15, 0.18), (0.41, 0.36), (0.05, 0.055), (0.7, 0.78)])
def test_effect_size_is_cohens_h_as_statsmodels(base, target):
    assert proportion_effect_size(target, base) == pytest.approx(proportion_effectsize(target, base), abs=1e-12)


@pytest.mark.parametrize("h,alpha,power,ratio", [(0.08, 0.05, 0.8, 1.0), (-0.12, 0.05, 0.9, 0.25),
                                                 (0.3, 0.01, 0.8, 3.7), (0.02, 0.1, 0.95, 1.6)])
def test_sample_size_equals_statsmodels_normal_ind_power(h, alpha, power, ratio):
    expected = NormalIndPower().solve_power(h, alpha=alpha, power=power, ratio=ratio)
    assert solve_n1(h, alpha, power, ratio) == pytest.approx(expected, rel=1e-7)
    assert power_of(h, 500, ratio, alpha) == pytest.approx(
        NormalIndPower().power(h, 500, alpha, ratio=ratio), rel=1e-10)


def _baseline(**kw) -> Baseline:
    champ = ModelVolume(400.0, 40.0, 10.0, 0.20, 0.45)
    chal = ModelVolume(400.0, 60.0, 12.0, 0.17, 0.40)
    args = dict(period_start="2025-01-01", period_end="2026-01-01", weeks=52.0, leads=20800, mature_leads=18000,
                champion=champ, challenger=chal, revenue_per_lead=900.0, revenue_sd=6000.0)
    return Baseline(**{**args, **kw})


def test_plan_sample_and_duration_from_last_years_volumes():
    """MQL conversion 20% -> 23%, 30% of leads to the challenger: the arms' MQLs per week are
    0.7 x 40 = 28 and 0.3 x 60 = 18, so the challenger sample is 18/28 of the champion's."""
    s = sample_size("mql_conversion", _baseline(), 0.3, 0.03, 0.05, 0.8, maturity_days=97)
    ratio = (0.3 * 60) / (0.7 * 40)
    n1 = NormalIndPower().solve_power(proportion_effectsize(0.23, 0.20), alpha=0.05, power=0.8, ratio=ratio)
    assert s.ratio == pytest.approx(ratio)
    assert s.champion_units == math.ceil(n1) and s.challenger_units == math.ceil(n1 * ratio)
    assert s.weeks_to_enrol == pytest.approx(n1 / 28.0, rel=1e-7)
    assert s.weeks_to_result == pytest.approx(n1 / 28.0 + 97 / 7, rel=1e-7)
    assert (s.baseline_value, s.target_value, s.unit) == (0.20, pytest.approx(0.23), "MQLs")


def test_plan_of_revenue_per_lead_uses_cohens_d():
    s = sample_size("revenue_per_lead", _baseline(), 0.5, 300.0, 0.05, 0.8, maturity_days=97)
    n1 = NormalIndPower().solve_power(300.0 / 6000.0, alpha=0.05, power=0.8, ratio=1.0)
    assert s.champion_units == math.ceil(n1) and s.unit == "leads"
    assert s.weeks_to_enrol == pytest.approx(n1 / 200.0, rel=1e-7)


@pytest.mark.parametrize("kw,message", [
    (dict(metric="ctr"), "primary metric 'ctr'"),
    (dict(share=1.0), "between 0 and 1"),
    (dict(min_effect=0.0), "non-zero"),
    (dict(min_effect=0.9), "not a rate between 0 and 1"),
    (dict(alpha=0.7), "alpha"),
    (dict(metric="revenue_per_lead", base=_baseline(revenue_per_lead=None, revenue_sd=None)), "deal_value"),
])
def test_bad_plans_are_refused_with_one_message(kw, message):
    args = dict(metric="mql_conversion", base=_baseline(), share=0.5, min_effect=0.03, alpha=0.05, power=0.8,
                maturity_days=97)
    with pytest.raises(ValueError, match=message):
        sample_size(**{**args, **kw})


# --------------------------------------------------------------------------- readout statistics


@pytest.mark.parametrize("k1,n1,k2,n2", [(120, 800, 150, 820), (40, 400, 22, 390), (5, 60, 9, 70)])
def test_two_proportion_test_equals_statsmodels(k1, n1, k2, n2):
    d, lo, hi, z, p = two_proportion(k1, n1, k2, n2, 0.05)
    z_ref, p_ref = proportions_ztest([k2, k1], [n2, n1])
    lo_ref, hi_ref = confint_proportions_2indep(k2, n2, k1, n1, method="wald", compare="diff", alpha=0.05)
    assert d == pytest.approx(k2 / n2 - k1 / n1)
    assert (z, p) == (pytest.approx(z_ref, rel=1e-10), pytest.approx(p_ref, rel=1e-9))
    assert (lo, hi) == (pytest.approx(lo_ref, rel=1e-9), pytest.approx(hi_ref, rel=1e-9))


def test_two_means_test_equals_statsmodels():
    rng = np.random.default_rng(1)
    x1 = np.where(rng.random(900) < 0.08, rng.lognormal(9, 0.7, 900), 0.0)
    x2 = np.where(rng.random(700) < 0.11, rng.lognormal(9, 0.7, 700), 0.0)
    d, lo, hi, z, p = two_means(x1, x2, 0.05)
    cm = CompareMeans(DescrStatsW(x2), DescrStatsW(x1))
    z_ref, p_ref = cm.ztest_ind(usevar="unequal")
    lo_ref, hi_ref = cm.zconfint_diff(alpha=0.05, usevar="unequal")
    assert (d, z, p) == (pytest.approx(x2.mean() - x1.mean()), pytest.approx(z_ref), pytest.approx(p_ref))
    assert (lo, hi) == (pytest.approx(lo_ref), pytest.approx(hi_ref))


def test_sample_ratio_mismatch_equals_scipy_and_flags_a_skewed_split():
    fine = sample_ratio(5040, 4960, 0.5)
    chi, p = stats.chisquare([5040, 4960], [5000, 5000])
    assert (fine.chi_square, fine.p_value, fine.mismatch) == (pytest.approx(chi), pytest.approx(p), False)
    skewed = sample_ratio(7400, 2600, 0.3)  # 26% where 30% was planned
    chi, p = stats.chisquare([7400, 2600], [7000, 3000])
    assert (skewed.chi_square, skewed.p_value) == (pytest.approx(chi), pytest.approx(p, rel=1e-6))
    assert skewed.mismatch and skewed.observed_share == pytest.approx(0.26)


# --------------------------------------------------------------------------- routing


def test_routing_is_md5_of_salt_and_id_stable_and_at_the_planned_share():
    ids = np.arange(1, 40_001, dtype=np.int64)
    got = buckets(ids, "spring-test")
    assert got.tolist() == [md5_bucket("spring-test", i) for i in ids.tolist()]
    assert (buckets(ids, "spring-test") == got).all()  # same arm on every run
    mask = challenger_mask(ids, "spring-test", 0.2)
    assert (mask == (got < round(0.2 * BUCKETS))).all()
    assert abs(mask.mean() - 0.2) < 0.01
    other = challenger_mask(ids, "autumn-test", 0.2)  # a new salt: an independent split
    assert abs((mask & other).mean() - 0.04) < 0.005
    text_ids = np.array(["0031X00000abcD", "lead-7", "é-ü", "42"], dtype=object)
    assert buckets(text_ids, "s").tolist() == [md5_bucket("s", i) for i in text_ids]
    assert cutoff_hex(0.5) == "80000000"


@pytest.mark.parametrize("salt", ["", "a b", "x'; drop table leads; --", "ü"])
def test_a_salt_that_is_not_plain_is_refused(salt):
    with pytest.raises(ValueError, match="test salt"):
        challenger_mask(np.arange(3), salt, 0.5)


# --------------------------------------------------------------------------- on the demo


def _configs():
    champion = load_config(DEFAULT)
    challenger = champion.model_copy(update={"thresholds": champion.thresholds.model_copy(update={"mql": 35})})
    return champion, challenger


@pytest.fixture(scope="module")
def effect_demo(tmp_path_factory):
    from scoring.data.demo import generate

    path = tmp_path_factory.mktemp("abtest") / "effect.duckdb"
    generate(path, leads=20_000, seed=7, test_effect=0.8)
    return path


def test_exported_routing_sql_splits_like_the_engine_in_duckdb(effect_demo):
    import duckdb

    champion, challenger = _configs()
    sql = export_test_sql("t", "default@1", "default@2", champion, challenger, "demo-test", 0.3)
    con = duckdb.connect(str(effect_demo), read_only=True)
    try:
        rows = con.sql(sql).fetchall()
        columns = [d[0] for d in con.sql(sql).description]
    finally:
        con.close()
    assert columns == ["lead_id", "arm", "scored_at", "score", "tier", "champion_score", "champion_tier",
                       "challenger_score", "challenger_tier"]
    with open_source(effect_demo) as source:
        data = score_both(source, champion, challenger)
    ids = data.features.lead_id
    by_id = {r[0]: r for r in rows}
    assert len(rows) == len(ids)
    arm = np.array([by_id[i][1] for i in ids.tolist()])
    mask = challenger_mask(ids, "demo-test", 0.3)
    assert ((arm == "challenger") == mask).all()
    assert mask.tolist() == [md5_bucket("demo-test", i) < round(0.3 * BUCKETS) for i in ids.tolist()]
    tier = np.array([by_id[i][4] for i in ids.tolist()])
    assert (tier == np.array(TIERS)[np.where(mask, data.challenger.tier, data.champion.tier)]).all()
    score = np.array([by_id[i][3] for i in ids.tolist()])
    np.testing.assert_allclose(score, np.where(mask, data.challenger.total, data.champion.total), atol=1e-9)


def _plan(data, champion, metric="mql_conversion", effect=0.10, start="2025-10-01", share=0.5, salt="demo-test"):
    return make_plan("t", "default@1", "default@2", champion, data, share, metric, effect, 0.05, 0.8, salt,
                     dt.date.fromisoformat(start))


def test_demo_test_with_a_true_effect_is_found(effect_demo):
    champion, challenger = _configs()
    with open_source(effect_demo) as source:
        data = score_both(source, champion, challenger)
    plan = _plan(data, champion)
    r = readout(plan, data.features, data.champion, data.challenger, data.deal_value, maturity_days(champion))
    assert r.sample_reached and not r.sample_ratio.mismatch
    assert r.verdict.verdict == BETTER and r.difference.ci_low > 0
    # immature leads are shown but never counted: the units are the matured MQLs only
    start = np.datetime64("2025-10-01")
    inside = data.features.created_at >= start
    assert r.champion.leads + r.challenger.leads == int(inside.sum())
    assert r.champion.immature_leads + r.challenger.immature_leads == int((inside & ~data.features.mature).sum())
    mask = challenger_mask(data.features.lead_id, "demo-test", 0.5)
    mql = np.where(mask, data.challenger.tier, data.champion.tier) >= 1
    chal = inside & mask & mql & data.features.mature
    assert r.challenger.mql_conversion.leads == int(chal.sum()) == r.challenger.units
    assert r.challenger.mql_conversion.conversions == int((chal & data.features.converted).sum())


def test_the_same_demo_without_an_effect_finds_no_difference(tmp_path):
    from scoring.data.demo import generate

    path = generate(tmp_path / "null.duckdb", leads=20_000, seed=7, test_effect=0.0)["path"]
    champion, challenger = _configs()
    with open_source(path) as source:
        data = score_both(source, champion, challenger)
    r = readout(_plan(data, champion), data.features, data.champion, data.challenger, data.deal_value,
                maturity_days(champion))
    assert r.sample_reached and r.verdict.verdict in (NO_DIFFERENCE, WORSE)  # the challenger's threshold is lower
    assert r.verdict.verdict != BETTER


def test_no_verdict_before_the_planned_sample(effect_demo):
    """Same data, a plan asking for a smaller effect: the sample is not reached, so even a
    difference with a small p-value gives no verdict, and it says how many more weeks."""
    champion, challenger = _configs()
    with open_source(effect_demo) as source:
        data = score_both(source, champion, challenger)
    plan = _plan(data, champion, effect=0.02)
    r = readout(plan, data.features, data.champion, data.challenger, data.deal_value, maturity_days(champion))
    assert not r.sample_reached and r.difference.p_value < 0.05
    assert r.verdict.verdict == NOT_YET and "fixed-horizon" in r.verdict.reason
    assert r.verdict.weeks_more is not None and r.verdict.weeks_more > 13  # at least the outcome window


def test_a_broken_split_gives_no_verdict(effect_demo):
    """Production lost a third of the challenger's leads (say its scoring job failed on some days):
    the leads in the data no longer split as planned, so the readout flags a sample-ratio
    mismatch and gives no verdict."""
    champion, challenger = _configs()
    with open_source(effect_demo) as source:
        data = score_both(source, champion, challenger)
    plan = _plan(data, champion)
    routed = challenger_mask(data.features.lead_id, "demo-test", 0.5)
    keep = ~(routed & (data.features.lead_id % 3 == 0))
    f = data.features.subset(keep)
    sub = lambda s: Scores(s.fit[keep], s.engagement[keep], s.total[keep], s.band[keep], s.tier[keep],
                           s.segment[keep])
    r = readout(plan, f, sub(data.champion), sub(data.challenger), data.deal_value[keep], maturity_days(champion))
    chi, p = stats.chisquare([r.champion.leads, r.challenger.leads],
                             np.array([0.5, 0.5]) * (r.champion.leads + r.challenger.leads))
    assert r.sample_ratio.p_value == pytest.approx(p) and r.sample_ratio.mismatch
    assert r.verdict.verdict == NOT_YET and "did not split as planned" in r.verdict.reason
    full = readout(plan, data.features, data.champion, data.challenger, data.deal_value, maturity_days(champion))
    assert not full.sample_ratio.mismatch


def test_plan_round_trips_through_its_dict(effect_demo):
    champion, challenger = _configs()
    with open_source(effect_demo) as source:
        data = score_both(source, champion, challenger)
    plan = _plan(data, champion, metric="revenue_per_lead", effect=1500.0)
    assert AbTestPlan.from_dict(plan.to_dict()) == plan
    assert plan.baseline.revenue_per_lead > 0 and plan.sample.unit == "leads"


def test_the_demo_test_option_leaves_the_default_demo_as_it_was(tmp_path):
    """test_effect=0.0 draws nothing extra: the data is the default demo's byte for byte (tests pin its
    numbers); an effect changes only outcomes of the challenger's leads from the test's start."""
    import duckdb

    from scoring.data.demo import DEMO_TEST, generate

    def tables(path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            return {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ("leads", "events", "outcomes")}
        finally:
            con.close()

    paths = {k: tmp_path / f"{k}.duckdb" for k in ("default", "null", "effect")}
    generate(paths["default"], leads=3_000, seed=3)
    generate(paths["null"], leads=3_000, seed=3, test_effect=0.0)
    generate(paths["effect"], leads=3_000, seed=3, test_effect=2.0)
    base, null, effect = (tables(paths[k]) for k in ("default", "null", "effect"))
    assert base == null
    assert effect["leads"] == base["leads"] and effect["events"] == base["events"]
    changed = {a[0] for a, b in zip(base["outcomes"], effect["outcomes"]) if a != b}
    start = dt.datetime.fromisoformat(DEMO_TEST["start"])
    created = {row[0]: row[1] for row in base["leads"]}
    routed = dict(zip(created, challenger_mask(np.array(list(created)), DEMO_TEST["salt"], DEMO_TEST["share"])))
    assert changed and all(created[i] >= start and routed[i] for i in changed)


def test_data_without_creation_times_cannot_hold_a_test(tmp_path):
    import duckdb

    from scoring.model.config import config_from_dict

    from .test_flat_data import FLAT

    path = tmp_path / "flat.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE flat (id VARCHAR, title VARCHAR, page_views INTEGER, won BOOLEAN)")
    con.execute("INSERT INTO flat VALUES ('a', 'VP', 1, true), ('b', 'x', 0, false)")
    con.close()
    champion = config_from_dict(FLAT)
    challenger = champion.model_copy(update={"thresholds": champion.thresholds.model_copy(update={"mql": 4})})
    with open_source(path) as source, pytest.raises(ValueError, match="no creation time"):
        score_both(source, champion, challenger)
