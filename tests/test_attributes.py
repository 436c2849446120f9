"""Attribute lift, WoE and IV (scoring.analysis.attributes).

Every statistic is checked against an independent computation: hand-worked examples
with the arithmetic in the comments, a pandas groupby WoE/IV on the demo data, scipy's
Wilson interval, and pandas rates and lifts.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scoring.analysis.attributes import (
    LEAKAGE_IV,
    MISSING_LABEL,
    Overall,
    attribute_table,
    candidate_columns,
    flat_rows,
    group_counts,
    iv_strength,
    probe_config,
    summary_rows,
    woe_iv,
)
from scoring.analysis.leakage import SMOOTHING
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import config_from_dict, load_config, normalise_value
from scoring.model.engine import engagement_points
from scoring.model.features import Categorical, Features, rule_signal_key

from .conftest import DEFAULT_CONFIG

DEMO_LEADS = 30_000
DEMO_SEED = 3


# --------------------------------------------------------------------------- woe / iv by hand


def test_woe_iv_hand_example():
    # converters [20, 60, 20] of C = 100, others [100, 50, 50] of N = 200
    # p_conv = [0.2, 0.6, 0.2], p_other = [0.5, 0.25, 0.25]
    # WoE = ln(0.2/0.5) = ln 0.4 = -0.916291, ln(0.6/0.25) = ln 2.4 = 0.875469, ln(0.2/0.25) = ln 0.8 = -0.223144
    # IV terms: (0.2-0.5)(-0.916291) = 0.274887, (0.35)(0.875469) = 0.306414, (-0.05)(-0.223144) = 0.011157
    # IV = 0.592458
    woe, part, iv = woe_iv(np.array([20, 60, 20]), np.array([100, 50, 50]))
    assert woe == pytest.approx([-0.916291, 0.875469, -0.223144], abs=1e-6)
    assert part == pytest.approx([0.274887, 0.306414, 0.011157], abs=1e-6)
    assert iv == pytest.approx(0.592458, abs=1e-6)
    # positive WoE = likelier to convert: the middle group converts 60/110, the others 20/120
    assert woe[1] > 0 > woe[0]


def test_woe_iv_empty_cell_is_smoothed_by_half_a_lead():
    # converters [0, 10] of C = 10, others [10, 10] of N = 20
    # group 0 has no converter: counts SMOOTHING = 0.5 -> p_conv = 0.5/10 = 0.05, p_other = 0.5
    # WoE = ln(0.05/0.5) = ln 0.1 = -2.302585; group 1: ln(1.0/0.5) = ln 2 = 0.693147
    # IV = (0.05-0.5)(-2.302585) + (1.0-0.5)(0.693147) = 1.036163 + 0.346574 = 1.382737
    assert SMOOTHING == 0.5
    woe, part, iv = woe_iv(np.array([0, 10]), np.array([10, 10]))
    assert woe == pytest.approx([-2.302585, 0.693147], abs=1e-6)
    assert iv == pytest.approx(1.382737, abs=1e-6)
    assert np.isfinite(woe).all()


def test_woe_iv_group_without_leads_and_one_class():
    woe, part, iv = woe_iv(np.array([5, 0]), np.array([5, 0]))
    assert woe[0] == pytest.approx(0.0) and math.isnan(woe[1])  # 5/5 vs 5/5: WoE 0; empty group: none
    assert part.tolist() == [0.0, 0.0] and iv == 0.0
    woe, part, iv = woe_iv(np.array([0, 0]), np.array([3, 4]))  # nobody converted: nothing to weigh
    assert np.isnan(woe).all() and math.isnan(iv)


def test_iv_strength_words():
    assert [iv_strength(x) for x in (0.01, 0.05, 0.2, 0.4, 0.7)] == \
        ["useless", "weak", "medium", "strong", "very strong"]
    assert iv_strength(None) is None and iv_strength(float("nan")) is None


def test_group_counts_one_bincount_matches_masks():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 5, 1000)
    converted = rng.random(1000) < 0.3
    mature = rng.random(1000) < 0.8
    leads, conv, immature = group_counts(groups, converted, mature, 6)
    for g in range(6):
        assert leads[g] == int(((groups == g) & mature).sum())
        assert conv[g] == int(((groups == g) & mature & converted).sum())
        assert immature[g] == int(((groups == g) & ~mature).sum())


# --------------------------------------------------------------------------- a table by hand

HAND = {
    "source": {"events": {}},
    "evaluation": {"scoring_point_days": 7, "outcome_window_days": 30},
    "decay": {"kind": "none"},
    "fit": [
        {"type": "categorical", "column": "seniority", "points": {"VP": 10, "Student": -5}, "other": 1,
         "missing": 2},
        {"type": "numeric", "column": "company_size",
         "bins": [{"max": 100, "points": 0}, {"min": 100, "max": 1000, "points": 5}, {"min": 5000, "points": 9}],
         "other": 3, "missing": -1},
    ],
    "engagement": [{"event": "demo_request", "points": 20, "cap": 30}],
    "thresholds": {"mql": 10, "sql": 30},
    "bands": [10, 20, 30],
}


def _hand_features(config) -> Features:
    # lead:        1     2     3     4     5     6     7     8     9    10    11 (immature)
    # seniority:   VP    VP    vp    VP    Stu   Stu   Stu   Stu   -     -     VP
    # converted:   y     y     y     n     n     n     n     y     n     n     y
    # demo:        1     2     0     0     0     0     0     1     0     0     3
    # size:        10    500   2000  5000  10    nan   150   500   50    7000  10
    n = 11
    sen = Categorical(np.array([0, 0, 2, 0, 1, 1, 1, 1, -1, -1, 0], dtype=np.int32),
                      np.array(["VP", "Student", "vp"], dtype=object))
    converted = np.array([1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1], dtype=bool)
    mature = np.array([True] * 10 + [False])
    at = np.array([dt.datetime(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)], dtype="datetime64[us]")
    demo_key = rule_signal_key(config, config.engagement[0])
    return Features(
        spec=None, lead_id=np.arange(1, n + 1), created_at=at, scoring_at=at + np.timedelta64(7, "D"),
        converted=converted, mature=mature, categorical={"seniority": sen},
        numeric={"company_size": np.array([10, 500, 2000, 5000, 10, np.nan, 150, 500, 50, 7000, 10.0])},
        signals={demo_key: np.array([1, 2, 0, 0, 0, 0, 0, 1, 0, 0, 3], dtype=np.float64)},
        data_end=dt.datetime(2024, 6, 1),
    )


@pytest.fixture
def hand():
    config = config_from_dict(HAND)
    return config, _hand_features(config)


def _attr(table, name):
    return next(a for a in table.attributes if a.attribute == name)


def _row(attr, value):
    return next(r for r in attr.rows if r.value == value)


def test_hand_table_categorical(hand):
    config, features = hand
    table = attribute_table(config, features, min_leads=3)
    # mature leads 1-10: 4 converted (1, 2, 3, 8) -> overall 0.4; lead 11 is immature
    assert table.overall == Overall(leads=10, conversions=4, rate=0.4, immature=1)
    sen = _attr(table, "seniority")
    # 'vp' is the same value as 'VP' (case ignored, as the engine matches it)
    assert [r.value for r in sen.rows] == [MISSING_LABEL, "VP", "Student"]
    vp, student, missing = _row(sen, "VP"), _row(sen, "Student"), _row(sen, MISSING_LABEL)
    assert (vp.leads, vp.conversions, vp.immature) == (4, 3, 1)
    assert (student.leads, student.conversions) == (4, 1)
    assert (missing.leads, missing.conversions) == (2, 0)
    # rates 3/4, 1/4, 0/2; lift = rate / 0.4
    assert (vp.rate, vp.lift) == (pytest.approx(0.75), pytest.approx(1.875))
    assert (student.rate, student.lift) == (pytest.approx(0.25), pytest.approx(0.625))
    # C = 4, N = 6
    # VP:      p_conv 3/4 = 0.75,  p_other 1/6  -> WoE ln 4.5  =  1.504077, IV term 0.583333 * 1.504077 = 0.877378
    # Student: p_conv 1/4 = 0.25,  p_other 3/6  -> WoE ln 0.5  = -0.693147, IV term 0.25 * 0.693147       = 0.173287
    # missing: p_conv 0.5/4 = 0.125 (smoothed), p_other 2/6 -> WoE ln 0.375 = -0.980829,
    #          IV term 0.208333 * 0.980829 = 0.204339
    assert vp.woe == pytest.approx(1.504077, abs=1e-6)
    assert student.woe == pytest.approx(-0.693147, abs=1e-6)
    assert missing.woe == pytest.approx(-0.980829, abs=1e-6)
    assert sen.iv == pytest.approx(0.877378 + 0.173287 + 0.204339, abs=1e-5)
    # the points the draft gives beside each value
    assert (missing.points, vp.points, student.points) == (2.0, 10.0, -5.0)
    # 2 mature leads < min_leads 3: flagged and warned about
    assert missing.small and missing.flag.startswith("few leads")
    assert not vp.small
    assert any("seniority" in w and "(missing)" in w for w in table.warnings)


def test_hand_table_numeric_and_engagement(hand):
    config, features = hand
    table = attribute_table(config, features, min_leads=3)
    size = _attr(table, "company_size")
    got = {r.value: (r.leads, r.conversions, r.points) for r in size.rows}
    # [0,100): leads 1(y) 5 9 -> 3, 1 | [100,1000): 2(y) 7 8(y) -> 3, 2 | >=5000: 4 10 -> 2, 0
    # 2000 is in no bin: lead 3(y) -> 1, 1 ('other' points 3) | missing: lead 6 -> 1, 0
    assert got == {"< 100": (3, 1, 0.0), "100 to < 1000": (3, 2, 5.0), ">= 5000": (2, 0, 9.0),
                   "(outside the bins)": (1, 1, 3.0), MISSING_LABEL: (1, 0, -1.0)}
    demo = _attr(table, "demo_request")
    # read by how much, not "any or none": no events, then quantile bins of the positive activity
    # (1, 2, 1, 3 over all leads -> cut points 2 and 3)
    assert [r.value for r in demo.rows] == ["no events", "> 0 to < 2", "2 to < 3", ">= 3"]
    none, one, two, three = (_row(demo, v) for v in ("no events", "> 0 to < 2", "2 to < 3", ">= 3"))
    # mature: none 7 leads (1 converted: lead 3); one: leads 1, 8 (both converted); two: lead 2 (converted);
    # >= 3: lead 11 only, immature
    assert [(r.leads, r.conversions) for r in (none, one, two, three)] == [(7, 1), (2, 2), (1, 1), (0, 0)]
    assert three.immature == 1
    # C = 4, N = 6. none: p_conv 1/4, p_other 6/6 -> WoE ln 0.25 = -1.386294, IV term 1.039721
    # one: p_conv 2/4, p_other 0.5/6 (smoothed) -> WoE ln 6 = 1.791759, IV term 0.416667 * 1.791759 = 0.746566
    # two: p_conv 1/4, p_other 0.5/6 -> WoE ln 3 = 1.098612, IV term 0.166667 * 1.098612 = 0.183102
    assert none.woe == pytest.approx(-1.386294, abs=1e-6)
    assert one.woe == pytest.approx(1.791759, abs=1e-6)
    assert two.woe == pytest.approx(1.098612, abs=1e-6)
    assert demo.iv == pytest.approx(1.039721 + 0.746566 + 0.183102, abs=1e-5)
    # 20 points per event, cap 30: leads 1, 8 get 20 each, lead 2 gets 30 (capped)
    assert one.points == 20.0 and one.avg_points == pytest.approx(20.0)
    assert two.avg_points == pytest.approx(30.0)
    # sorted by IV, highest first
    assert [a.attribute for a in table.attributes][0] == "demo_request"
    ivs = [a.iv for a in table.attributes]
    assert ivs == sorted(ivs, reverse=True)


def test_leakage_needs_enough_leads_to_judge(hand):
    config, features = hand
    table = attribute_table(config, features, min_leads=3)
    assert LEAKAGE_IV == 1.0
    # demo_request's IV is 1.97, but 4 converted and 6 other leads are too few to call anything leakage
    # (scoring.analysis.leakage needs 10 of each; its own tests check the line on enough leads)
    assert _attr(table, "demo_request").iv > LEAKAGE_IV
    assert not any(a.leakage for a in table.attributes)


# --------------------------------------------------------------------------- the demo, against pandas


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("attributes") / "demo.duckdb"
    generate(path, leads=DEMO_LEADS, seed=DEMO_SEED)
    config = load_config(DEFAULT_CONFIG)
    with open_source(path) as source:
        columns = candidate_columns(source, config)
        features = extract_features(source, probe_config(config, columns))
    return config, features, columns


def _pandas_woe(keys: pd.Series, y: pd.Series) -> tuple[pd.Series, float]:
    """WoE per group and IV with pandas groupby, the same smoothing written out separately."""
    g = pd.DataFrame({"k": keys, "y": y}).groupby("k")["y"].agg(["sum", "count"])
    conv = g["sum"].astype(float)
    other = (g["count"] - g["sum"]).astype(float)
    p_conv = conv.where(conv > 0, 0.5) / conv.sum()
    p_other = other.where(other > 0, 0.5) / other.sum()
    woe = np.log(p_conv / p_other)
    return woe, float(((p_conv - p_other) * woe).sum())


def test_demo_categorical_woe_iv_match_pandas(demo):
    config, features, _ = demo
    table = attribute_table(config, features)
    m = features.mature
    y = pd.Series(features.converted[m])
    for column in ("seniority", "email_domain_type", "industry"):
        values = features.categorical[column].values()[m]
        keys = pd.Series([MISSING_LABEL if v is None else normalise_value(v) for v in values])
        woe, iv = _pandas_woe(keys, y)
        attr = _attr(table, column)
        assert attr.iv == pytest.approx(iv, rel=1e-9)
        for row in attr.rows:
            key = MISSING_LABEL if row.value == MISSING_LABEL else normalise_value(row.value)
            assert row.woe == pytest.approx(woe[key], rel=1e-9), (column, row.value)
            assert row.leads == int((keys == key).sum())


def test_demo_numeric_and_engagement_match_pandas(demo):
    config, features, _ = demo
    table = attribute_table(config, features)
    m = features.mature
    y = pd.Series(features.converted[m])
    size = pd.Series(features.numeric["company_size"][m])
    cut = pd.cut(size, [-np.inf, 50, 200, 2000, np.inf], right=False, labels=["< 50", "50 to < 200",
                                                                             "200 to < 2000", ">= 2000"])
    keys = cut.astype(object).where(size.notna(), MISSING_LABEL)
    woe, iv = _pandas_woe(keys, y)
    attr = _attr(table, "company_size")
    assert attr.iv == pytest.approx(iv, rel=1e-9)
    for row in attr.rows:
        assert row.woe == pytest.approx(woe[row.value], rel=1e-9)
    for rule in config.engagement:
        everyone = features.feature(rule_signal_key(config, rule))
        activity = everyone[m]
        # no events, then five quantile bins of the positive activity of all leads, computed with pandas
        positive = pd.Series(everyone[everyone > 0])
        cuts = sorted(set(positive.quantile([0.2, 0.4, 0.6, 0.8], interpolation="higher")))
        cuts = [c for c in cuts if c > positive.min()]
        binned = pd.cut(pd.Series(activity), [0.0, *cuts, np.inf], right=False).astype(str)
        keys = pd.Series(np.where(activity > 0, binned, "no events"))
        woe, iv = _pandas_woe(keys, y)
        attr = _attr(table, rule.label)
        assert attr.iv == pytest.approx(iv, rel=1e-9), rule.label
        assert len(attr.rows) == len(cuts) + 2
        assert _row(attr, "no events").woe == pytest.approx(woe["no events"], rel=1e-9)
        # the average points the draft gives the leads that did it, computed another way
        given = engagement_points(rule, config, features)[m]
        top = attr.rows[-1]
        assert top.avg_points == pytest.approx(given[activity >= cuts[-1]].mean(), rel=1e-9)


def test_demo_rates_lift_and_wilson_match_pandas_and_scipy(demo):
    config, features, _ = demo
    table = attribute_table(config, features)
    m = features.mature
    overall = features.converted[m].mean()
    assert table.overall.rate == pytest.approx(overall)
    df = pd.DataFrame({"v": features.categorical["seniority"].values()[m], "y": features.converted[m]})
    rates = df.groupby("v")["y"].agg(["mean", "sum", "count"])
    for row in _attr(table, "seniority").rows:
        if row.value == MISSING_LABEL:
            continue
        r = rates.loc[row.value]
        assert row.rate == pytest.approx(r["mean"])
        assert row.lift == pytest.approx(r["mean"] / overall)
        ci = stats.binomtest(int(r["sum"]), int(r["count"])).proportion_ci(confidence_level=0.95, method="wilson")
        assert (row.ci_low, row.ci_high) == (pytest.approx(ci.low, abs=1e-9), pytest.approx(ci.high, abs=1e-9))


def test_demo_recovers_the_generators_signals(demo):
    config, features, columns = demo
    table = attribute_table(config, features, extra_columns=columns)
    ivs = {a.attribute: a.iv for a in table.attributes}
    # the strongest signals are the truth's strong ones, the weakest have no effect at all
    top4 = [a.attribute for a in table.attributes[:4]]
    assert set(top4) == {"demo_request", "trial_signup", "competitor_comparison_download", "pricing_page_view"}
    for useless in ("email_open", "department", "country"):  # no effect in the generator
        assert ivs[useless] < 0.02
    # the points the draft gives for e-mail opens predict nothing: flagged as over-scored
    flags = {a.attribute: " ".join(a.flags) for a in table.attributes}
    assert "over-scored" in flags["email_open"]
    assert not any(a.leakage for a in table.attributes)  # about 0.8 for demo requests is not leakage
    strict = attribute_table(config, features, leakage_iv=0.5)  # credit scoring's bound flags hand-raisers
    flagged = {a.attribute for a in strict.attributes if a.leakage}
    assert {"demo_request", "trial_signup"} <= flagged == {a.attribute for a in table.attributes if a.iv > 0.5}
    # signs: leads without a negative signal convert above average, without a positive one below
    assert _row(_attr(table, "careers_page_view"), "no events").woe > 0
    assert _row(_attr(table, "unsubscribe"), "no events").woe > 0
    assert all(r.woe > 1 for r in _attr(table, "demo_request").rows[1:] if r.leads >= 30)
    assert _row(_attr(table, "seniority"), "Student").woe < -1
    # columns not in the model are shown with zero points
    channel = _attr(table, "channel")
    assert not channel.in_model and all(r.points == 0 for r in channel.rows)


def test_points_per_doubling_of_odds_is_the_slope_of_points_on_woe(demo):
    config, features, _ = demo
    table = attribute_table(config, features)
    demo_rule = _attr(table, "demo_request")
    rows = [r for r in demo_rule.rows if r.leads >= 30 and r.woe is not None]
    # the lead-weighted least-squares slope of points on WoE (numpy's polyfit weighs residuals by sqrt(w))
    slope = np.polyfit([r.woe for r in rows], [r.avg_points for r in rows], 1,
                       w=np.sqrt([r.leads for r in rows]))[0]
    assert demo_rule.points_per_double_odds == pytest.approx(slope * math.log(2), rel=1e-9)
    slopes = [x.points_per_double_odds for x in table.attributes
              if x.points_per_double_odds is not None and x.points_spread > 0 and x.iv >= 0.02]
    assert table.points_per_double_odds == pytest.approx(float(np.median(slopes)))


def test_flags_catch_unscored_and_backwards_points(demo):
    _, features, _ = demo
    data = load_config(DEFAULT_CONFIG).model_dump(mode="json", exclude_unset=True)
    for rule in data["engagement"]:
        if rule["event"] == "demo_request":
            rule["points"] = 0  # a strong signal without points
        if rule["event"] == "careers_page_view":
            rule["points"] = 10  # a bad sign scored up
    config = config_from_dict(data)
    table = attribute_table(config, features)
    flags = {a.attribute: " ".join(a.flags) for a in table.attributes}
    assert "under-scored" in flags["demo_request"] and "no points" in flags["demo_request"]
    assert "wrong way" in flags["careers_page_view"]
    careers = _attr(table, "careers_page_view").rows[1:]
    assert any(r.flag == "scored up, converts below average" for r in careers)
    demo_any = _attr(table, "demo_request").rows[1:]
    assert all(r.flag == "strong signal, no extra points" for r in demo_any if r.leads >= 30)


def test_flat_rows_and_summary_follow_iv_order(demo):
    config, features, _ = demo
    table = attribute_table(config, features)
    rows = flat_rows(table)
    assert len(rows) == sum(len(a.rows) for a in table.attributes)
    order = list(dict.fromkeys(r["attribute"] for r in rows))
    assert order == [a.attribute for a in table.attributes]
    assert [s["attribute"] for s in summary_rows(table)] == order


def test_candidate_and_probe_columns(demo):
    config, features, columns = demo
    assert set(columns) == {"segment", "department", "country", "channel"}  # text fields the model ignores
    probe = probe_config(config, columns + ["seniority"])
    assert [r.column for r in probe.fit][-4:] == columns  # seniority is already a rule: not added twice
    assert probe_config(config, []) is config
    assert "department" in features.categorical
