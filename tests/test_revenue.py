"""Won revenue per band and tier (issue 22): hand-worked examples, an independent DuckDB
computation on the demo, scikit-learn for the value-weighted AUC."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from scoring.base.numbers import money
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import load_config, parse_config
from scoring.model.engine import Scores, band_index, score
from scoring.model.features import Features
from scoring.model.revenue import (NoRevenue, Revenue, group_medians, revenue, revenue_at, revenue_moves,
                                  weighted_auc)

from .conftest import DEFAULT_CONFIG, SMALL_CONFIG, make_db, T0, DAY

CONFIG = parse_config("""
name: r
evaluation: {currency: EUR}
thresholds: {mql: 40, sql: 70}
bands: [20, 40, 60, 80]
""")


def _features(total_days, converted, mature, value, conv_days=None) -> Features:
    n = len(converted)
    created = np.datetime64("2024-01-01T00:00:00", "us") + np.arange(n) * np.timedelta64(1, "D")
    scoring = created + np.timedelta64(7, "D")
    conv = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    if conv_days is not None:
        for i, d in enumerate(conv_days):
            if d is not None:
                conv[i] = created[i] + np.timedelta64(int(d * 86400), "s")
    return Features(spec=None, lead_id=np.arange(1, n + 1), created_at=created, scoring_at=scoring,
                    converted=np.asarray(converted, bool), mature=np.asarray(mature, bool), categorical={},
                    numeric={}, signals={}, data_end=dt.datetime(2025, 1, 1),
                    deal_value=None if value is None else np.asarray(value, dtype=np.float64), converted_at=conv)


def _scores(total, config=CONFIG) -> Scores:
    total = np.asarray(total, dtype=np.float64)
    tier = (total >= config.thresholds.mql).astype(np.int8) + (total >= config.thresholds.sql)
    return Scores(fit=total, engagement=np.zeros_like(total), total=total, band=band_index(total, config.bands),
                  tier=tier, segment=np.full(total.size, -1, np.int8))


def test_hand_worked_revenue_per_band_tier_and_capture():
    #            score  conv   mature value   days to conversion (from creation)
    leads = [(90, True, True, 100.0, 10),   # band >= 80, SQL
             (85, True, True, 300.0, 20),   # band >= 80, SQL
             (65, True, True, 50.0, 30),    # 60-80, MQL
             (50, True, True, None, 40),    # 40-60, MQL: won without a value
             (45, False, True, 999.0, None),  # lost: its value is no revenue
             (30, True, True, 50.0, None),  # 20-40 below MQL, date not known
             (10, True, False, 500.0, 5),   # immature: not counted
             (5, False, True, None, None)]  # < 20 lost
    total, conv, mature, value, days = zip(*leads)
    features = _features(total, conv, mature, [np.nan if v is None else v for v in value], days)
    result = revenue(CONFIG, features, _scores(total))
    assert isinstance(result, Revenue)
    assert result.won_value == 500.0 and result.won_deals == 4 and result.without_value == 1
    assert result.mean_deal == 125.0 and result.median_deal == 75.0
    by = {b.band: b for b in result.bands}
    assert [b.band for b in result.bands] == ["< 20", "20–40", "40–60", "60–80", ">= 80"]
    assert by[">= 80"].won_value == 400.0 and by[">= 80"].won_deals == 2
    assert by[">= 80"].mean_deal == 200.0 and by[">= 80"].median_deal == 200.0
    assert by[">= 80"].capture == pytest.approx(0.8)
    assert by["60–80"].capture == pytest.approx(0.9) and by["40–60"].capture == pytest.approx(0.9)
    assert by["20–40"].capture == pytest.approx(1.0) and by["< 20"].capture == pytest.approx(1.0)
    assert by["40–60"].won_value == 0.0 and by["40–60"].mean_deal is None  # its win has no value
    assert by["< 20"].won_deals == 0 and by["< 20"].median_deal is None
    # days: >= 80 has 10 and 20 days from creation -> 15; the scoring point is 7 days later -> 8
    assert by[">= 80"].median_days_from_created == 15.0 and by[">= 80"].median_days_from_scoring == 8.0
    assert by[">= 80"].timed_deals == 2 and by["20–40"].timed_deals == 0
    assert by["20–40"].median_days_from_created is None
    # at or above MQL (40): mature leads 90, 85, 65, 50, 45 -> 5; won value 450
    assert (result.mql.leads, result.mql.won_deals, result.mql.won_value) == (5, 3, 450.0)
    assert result.mql.share == pytest.approx(0.9) and result.mql.per_lead == pytest.approx(90.0)
    assert (result.sql.leads, result.sql.won_value, result.sql.per_lead) == (2, 400.0, 200.0)
    assert result.currency == "EUR"
    assert result.to_dict()["bands"][4]["won_value"] == 400.0 and result.to_dict()["available"] is True


def test_the_slider_kpi_reads_the_won_leads_only_and_gives_the_same_figures():
    """revenue_at (each move) against the hand-worked figures above and the full revenue()."""
    total = [90, 85, 65, 50, 45, 30, 10, 5]
    features = _features(total, [True, True, True, True, False, True, True, False],
                         [True, True, True, True, True, True, False, True],
                         [100.0, 300.0, 50.0, np.nan, 999.0, 50.0, 500.0, np.nan])
    scores = _scores(total)
    # month x outcome status x tier counts, as rescore keeps them (one month here)
    status = features.mature.astype(int) + (features.converted & features.mature)
    counts = np.zeros((1, 3, 3), dtype=np.int64)
    np.add.at(counts, (0, status, scores.tier.astype(int)), 1)
    for line, (leads, deals, value) in ((1, (5, 3, 450.0)), (2, (2, 2, 400.0))):
        for kept in (None, counts):
            at = revenue_at(features, scores.tier, line, kept)
            assert (at.leads, at.won_deals, at.won_value) == (leads, deals, value)
            assert at.share == pytest.approx(value / 500.0) and at.per_lead == pytest.approx(value / leads)
    assert revenue_at(_features(total, [True] * 8, [True] * 8, None), scores.tier, 1) is None
    # a won deal of an infinite or negative value is no revenue, as in the full figures
    odd = _features(total, [True] * 8, [True] * 8, [100.0, np.inf, -5.0, 50.0, np.nan, 1.0, 2.0, 3.0])
    at, full = revenue_at(odd, scores.tier, 1), revenue(CONFIG, odd, scores).mql
    assert (at.won_deals, at.won_value) == (full.won_deals, full.won_value) == (2, 150.0)
    assert at.share == pytest.approx(full.share) == pytest.approx(150.0 / 156.0)


def test_the_slider_kpi_equals_the_full_revenue_on_the_demo(demo):
    from scoring.analysis.calibrate import model_view
    from scoring.model.config import config_from_dict

    config = load_config(DEFAULT_CONFIG)
    with open_source(demo) as source:
        features = extract_features(source, config)
    for mql in (config.thresholds.mql, 20.0, 55.0):
        data = config.model_dump()
        data["thresholds"]["mql"] = mql
        cfg = config_from_dict(data)
        view = model_view(cfg, features)
        full = revenue(cfg, features, view.scores).mql
        at = view.revenue_at_mql  # the won value summed in the same order: equal to the last bit
        assert (at.leads, at.won_deals, at.won_value) == (full.leads, full.won_deals, full.won_value)
        assert at.share == pytest.approx(full.share, rel=1e-12) and at.per_lead == full.per_lead
        assert full.leads == int(np.count_nonzero((view.scores.tier >= 1) & features.mature))


def test_weighted_auc_matches_scikit_learn_with_sample_weights():
    rng = np.random.default_rng(3)
    n = 4000
    scores = np.round(rng.normal(50, 15, n))  # rounded: many ties
    converted = rng.random(n) < 1 / (1 + np.exp(-(scores - 60) / 8))
    value = np.where(converted, np.round(rng.lognormal(9, 1, n), 2), np.nan)
    value[np.flatnonzero(converted)[:5]] = np.nan  # won without a value: left out
    ok = converted & ~np.isnan(value)
    ours = weighted_auc(scores, converted, np.where(ok, value, 0.0), ok)
    keep = ok | ~converted
    weights = np.where(ok, value, 1.0)[keep]
    expected = roc_auc_score(converted[keep], scores[keep], sample_weight=weights)
    assert ours == pytest.approx(expected, abs=1e-12)
    assert ours != pytest.approx(roc_auc_score(converted[keep], scores[keep]), abs=1e-4)  # the weights matter


def test_group_medians_match_numpy():
    rng = np.random.default_rng(1)
    group = rng.integers(0, 6, 500)
    values = rng.normal(size=500)
    values[rng.random(500) < 0.2] = np.nan
    group[group == 4] = 3  # group 4 empty
    got = group_medians(group, values, 6)
    for g in range(6):
        v = values[(group == g) & ~np.isnan(values)]
        assert (np.isnan(got[g]) if v.size == 0 else got[g] == np.median(v))


def test_no_deal_value_mapped_gives_no_revenue_and_says_why():
    features = _features([50, 60], [True, False], [True, True], None)
    result = revenue(CONFIG, features, _scores([50, 60]))
    assert isinstance(result, NoRevenue) and "source.outcome.deal_value" in result.reason
    assert result.to_dict() == {"reason": result.reason, "available": False}
    none_valued = revenue(CONFIG, _features([50], [True], [True], [np.nan]), _scores([50]))
    assert isinstance(none_valued, NoRevenue) and "1 won deals have none" in none_valued.reason


def test_value_moving_across_the_lines_between_approved_and_draft():
    features = _features([0] * 5, [True, True, True, False, True], [True] * 5, [100.0, 200.0, 400.0, 800.0, 1600.0])
    approved = _scores([30, 45, 75, 80, 50])
    draft = _scores([45, 30, 60, 20, 75])
    moves = revenue_moves(features, approved, draft)
    # MQL (40): lead 1 comes in (100), lead 2 goes out (200); lead 4 did not convert
    assert (moves.mql.deals_in, moves.mql.value_in, moves.mql.deals_out, moves.mql.value_out) == (1, 100.0, 1, 200.0)
    assert moves.mql.net == -100.0
    # SQL (70): lead 5 comes in (1600), lead 3 goes out (400)
    assert (moves.sql.value_in, moves.sql.value_out, moves.sql.net) == (1600.0, 400.0, 1200.0)
    assert revenue_moves(_features([0], [True], [True], None), _scores([1]), _scores([2])) is None


def test_money_formatting():
    assert money(1234567.4, "£") == "£1,234,567"
    assert money(1234567.4, "EUR", compact=True) == "EUR 1.2M"
    assert money(45600, None, compact=True) == "46k" and money(950, "$") == "$950"
    assert money(None, "EUR") == "-" and money(-1500, "£") == "-£1,500"


def test_currency_setting_is_validated():
    from scoring.model.config import ConfigError

    with pytest.raises(ConfigError, match="currency"):
        parse_config("evaluation: {currency: '<b>x</b>'}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("rev") / "demo.duckdb"
    generate(path, leads=20_000, seed=5)
    return path


def test_revenue_on_the_demo_matches_an_independent_duckdb_computation(demo):
    config = load_config(DEFAULT_CONFIG)
    with open_source(demo) as source:
        features = extract_features(source, config)
    scores = score(config, features)
    result = revenue(config, features, scores)
    sp, win = config.evaluation.scoring_point_days, config.evaluation.outcome_window_days
    scored = pd.DataFrame({"lead_id": features.lead_id, "band": scores.band.astype(int),
                           "tier": scores.tier.astype(int)})
    con = duckdb.connect()
    con.execute(f"ATTACH '{demo}' AS d (READ_ONLY)")
    con.register("scored", scored)
    end = con.execute("SELECT greatest((SELECT max(created_at) FROM d.leads), (SELECT max(occurred_at) FROM d.events),"
                      " (SELECT max(converted_at) FROM d.outcomes))").fetchone()[0]
    rows = con.execute(f"""
        WITH l AS (
          SELECT l.lead_id, s.band, s.tier, o.deal_value AS v, o.converted_at AS c, l.created_at AS cr,
                 l.created_at + INTERVAL {int(sp)} DAY AS sp,
                 l.created_at + INTERVAL {int(sp + win)} DAY <= TIMESTAMP '{end}' AS mature,
                 o.converted_at < l.created_at + INTERVAL {int(sp + win)} DAY AS won
          FROM d.leads l JOIN scored s USING (lead_id) LEFT JOIN d.outcomes o USING (lead_id)),
        w AS (SELECT * FROM l WHERE mature AND won AND v IS NOT NULL AND v >= 0)
        SELECT band, count(*), sum(v), avg(v), median(v),
               median(date_diff('second', cr, c) / 86400.0), median(date_diff('second', sp, c) / 86400.0)
        FROM w GROUP BY band ORDER BY band""").fetchall()
    assert result.without_value == 0 and result.won_deals > 500
    total = sum(r[2] for r in rows)
    assert result.won_value == pytest.approx(total, rel=1e-12)
    above = 0.0
    for band, count, value, mean, median, days_created, days_scoring in reversed(rows):
        row = result.bands[band]
        above += value
        assert row.won_deals == count and row.won_value == pytest.approx(value, rel=1e-12)
        assert row.mean_deal == pytest.approx(mean) and row.median_deal == pytest.approx(median)
        assert row.capture == pytest.approx(above / total)
        assert row.median_days_from_created == pytest.approx(days_created)
        assert row.median_days_from_scoring == pytest.approx(days_scoring)
    per_mql = con.execute(f"""
        SELECT sum(CASE WHEN o.converted_at < l.created_at + INTERVAL {int(sp + win)} DAY THEN o.deal_value END)
               / count(*)
        FROM d.leads l JOIN scored s USING (lead_id) LEFT JOIN d.outcomes o USING (lead_id)
        WHERE s.tier >= 1 AND l.created_at + INTERVAL {int(sp + win)} DAY <= TIMESTAMP '{end}'""").fetchone()[0]
    assert result.mql.per_lead == pytest.approx(per_mql)


def test_deal_values_of_an_outcome_table_add_up_the_won_rows(tmp_path):
    leads = [(1, T0, "VP", 500, "b"), (2, T0 + DAY, "VP", 500, "b"), (3, T0 + 2 * DAY, "VP", 500, "b"),
             (9, T0 + 300 * DAY, "VP", 500, "b")]
    outcomes = [(1, T0 + 10 * DAY, 100.0), (1, T0 + 12 * DAY, 50.0),  # two won deals: 150
                (2, None, 70.0),                                       # no conversion: no revenue
                (3, T0 + 9 * DAY, None)]                               # won without a value
    db = make_db(tmp_path / "o.duckdb", leads, [], outcomes)
    config = parse_config(SMALL_CONFIG.replace("  events: {}\n", ""). replace(
        "engagement:\n  - {event: demo_request, points: 20, cap: 30}\n  - {event: [email_open, EMAIL_CLICK], points: 1}\n",
        ""))
    with open_source(db) as source:
        features = extract_features(source, config)
    assert features.deal_value[:3].tolist()[0] == 150.0 and np.isnan(features.deal_value[1])
    assert np.isnan(features.deal_value[2])
    assert features.converted_at[0] == np.datetime64(T0 + 10 * DAY, "us")
    result = revenue(config, features, score(config, features))
    assert (result.won_value, result.won_deals, result.without_value) == (150.0, 1, 1)


def test_a_mapped_deal_value_the_features_lack_is_said_so():
    config = parse_config("source: {outcome: {deal_value: amount}}\nthresholds: {mql: 40, sql: 70}\nbands: [50]")
    result = revenue(config, _features([50], [True], [True], None), _scores([50], config))
    assert isinstance(result, NoRevenue) and "computed without it" in result.reason
