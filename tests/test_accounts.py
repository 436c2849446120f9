"""Account scores (issue 22): a hand-worked example with point in time at account level, the compiled
per-account reduction against numpy, and the account table against an independent DuckDB computation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from scoring.model.accounts import account_drill, account_index, account_result, account_scores, top_accounts
from scoring.model.config import ConfigError, parse_config
from scoring.model.features import Categorical, Features
from scoring.model.kernels import group_scores

BASE = """
source: {leads: {account: company}}
evaluation: {scoring_point_days: 7, outcome_window_days: 30}
thresholds: {mql: 40, sql: 60}
bands: [20, 40, 60]
"""

T0 = np.datetime64("2024-01-01T00:00:00", "us")
D = np.timedelta64(86_400_000_000, "us")
NAT = np.datetime64("NaT", "us")

#        lead  day  account  score  converted on day
LEADS = [("a1", 0, "Acme", 30, None),
         ("n1", 1, None, 80, None),      # no account
         ("b1", 5, "Beta", 10, 60),      # wins after Beta's window (day 55): Beta does not convert
         ("b2", 6, "Beta", 20, None),
         ("a2", 10, "Acme", 50, None),   # scored day 17 <= Acme's scoring point (day 20): counts
         ("a3", 15, "Acme", 90, None),   # created before day 20 but scored day 22, after it: never counts
         ("a4", 25, "Acme", 99, 30),     # created after Acme's scoring point: never counts; its win does
         ("c1", 100, "Cobalt", 70, None)]  # Cobalt's window ends day 150 > data end (day 140): immature


def _features() -> Features:
    ids, days, accounts, _, conv = zip(*LEADS)
    created = T0 + np.array(days) * D
    names = ["Acme", "Beta", "Cobalt"]
    codes = np.array([-1 if a is None else names.index(a) for a in accounts], dtype=np.int16)
    converted_at = np.array([NAT if c is None else T0 + c * D for c in conv])
    scoring = created + 7 * D
    converted = ~np.isnat(converted_at) & (converted_at < scoring + 30 * D)
    return Features(spec=None, lead_id=np.array(ids, dtype=object), created_at=created, scoring_at=scoring,
                    converted=converted, mature=scoring + 30 * D <= T0 + 140 * D,
                    categorical={"company": Categorical(codes, np.array(names, dtype=object))}, numeric={},
                    signals={}, data_end=dt.datetime(2024, 1, 1) + dt.timedelta(days=140), converted_at=converted_at)


SCORES = np.array([s for _, _, _, s, _ in LEADS], dtype=np.float64)


def _config(accounts: str):
    return parse_config(BASE + f"accounts: {accounts}\n")


@pytest.mark.parametrize("accounts, expected", [
    ("{method: max, scoring_point_days: 20}", [50, 20, 70]),
    ("{method: sum, scoring_point_days: 20}", [80, 30, 70]),
    ("{method: sum, cap: 60, scoring_point_days: 20}", [60, 30, 60]),
    ("{method: top_k_mean, k: 1, scoring_point_days: 20}", [50, 20, 70]),
    ("{method: top_k_mean, k: 3, scoring_point_days: 20}", [40, 15, 70]),  # fewer than k: the mean of all
])
def test_account_scores_by_method_count_only_leads_scored_by_the_accounts_scoring_point(accounts, expected):
    features = _features()
    config = _config(accounts)
    index = account_index(config, features)
    assert index.ids.tolist() == ["Acme", "Beta", "Cobalt"]
    assert account_scores(config, features, SCORES, index).total.tolist() == expected
    # point in time: a3 (created day 15, scored day 22) and a4 (created day 25) never count
    assert dict(zip(features.lead_id, index.counted)) == {
        "a1": True, "n1": False, "b1": True, "b2": True, "a2": True, "a3": False, "a4": False, "c1": True}
    # a lead created after the account's scoring point never counts, whatever its score
    more = SCORES.copy()
    more[6] = 1000.0
    assert account_scores(config, features, more, index).total.tolist() == expected


def test_account_outcome_and_band_table_by_hand():
    features = _features()
    config = _config("{method: max, scoring_point_days: 20, thresholds: {mql: 45, sql: 65}}")
    result = account_result(config, features, SCORES)
    # Acme converts through a4 (day 30 < day 50); Beta's only win is day 60 >= day 55; Cobalt is immature
    assert (result.accounts, result.mature_accounts, result.immature_accounts, result.converted_accounts) == (3, 2, 1, 1)
    assert (result.leads_counted, result.leads_after, result.leads_without_account) == (5, 2, 1)
    by = {b.band: b for b in result.bands}
    assert (by["20–40"].leads, by["20–40"].conversions) == (1, 0)          # Beta, 20
    assert (by["40–60"].leads, by["40–60"].conversions) == (1, 1)          # Acme, 50
    assert (by[">= 60"].leads, by[">= 60"].immature) == (0, 1)             # Cobalt, 70, immature
    assert result.auc == 1.0 and result.mqa.leads == 1 and result.mqa.conversions == 1
    assert result.capture_at_mqa == 1.0
    assert result.to_dict()["bands"][2]["conversions"] == 1
    drill = account_drill(config, features, _scores(SCORES), "Acme")
    assert drill.score == 50 and drill.converted and drill.scoring_at == "2024-01-21 00:00:00"
    assert [(x.lead_id, x.counted) for x in drill.leads] == [("a1", True), ("a2", True), ("a3", False), ("a4", False)]
    assert account_drill(config, features, _scores(SCORES), "Nobody") is None
    assert top_accounts(config, features, _scores(SCORES), 2) == ["Cobalt", "Acme"]


def _scores(total):
    from scoring.model.engine import Scores

    n = len(total)
    return Scores(fit=total, engagement=np.zeros(n), total=total, band=np.zeros(n, np.int16),
                  tier=np.zeros(n, np.int8), segment=np.full(n, -1, np.int8))


def test_group_scores_kernel_matches_numpy():
    rng = np.random.default_rng(4)
    sizes = rng.integers(0, 9, 300)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    values = np.round(rng.normal(40, 20, starts[-1]), 1)
    for method, k, cap in ((0, 1, np.inf), (1, 1, 100.0), (2, 3, np.inf), (2, 1, np.inf)):
        got = group_scores(values, starts, method, k, cap, np.empty(sizes.size))
        for g in range(sizes.size):
            v = values[starts[g]:starts[g + 1]]
            if v.size == 0:
                assert np.isnan(got[g])
                continue
            want = (v.max() if method == 0 else min(v.sum(), cap) if method == 1
                    else np.sort(v)[::-1][:k].mean())
            assert got[g] == pytest.approx(want, abs=1e-9)


def test_account_config_mistakes_are_one_clear_message():
    with pytest.raises(ConfigError, match="source.leads.account"):
        parse_config("accounts: {method: max}\nthresholds: {mql: 40, sql: 60}\nbands: [20]")
    with pytest.raises(ConfigError, match="at least evaluation.scoring_point_days"):
        parse_config(BASE + "accounts: {scoring_point_days: 3}\n")
    with pytest.raises(ConfigError, match="method"):
        parse_config(BASE + "accounts: {method: median}\n")


def test_report_account_table_equals_an_independent_duckdb_computation(tmp_path, capsys):
    """`leadcal report` on the demo's companies: the account band table computed again in DuckDB from the tables."""
    import json

    import duckdb
    import pandas as pd
    import yaml

    from scoring.cli import main
    from scoring.data.demo import generate
    from scoring.data.extract import extract_features
    from scoring.data.source import open_source
    from scoring.model.config import config_from_dict
    from scoring.model.engine import score

    from .conftest import DEFAULT_CONFIG

    db = tmp_path / "demo.duckdb"
    generate(db, leads=20_000, seed=9)
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["source"]["leads"]["account"] = "company"
    data["accounts"] = {"method": "max", "scoring_point_days": 30, "thresholds": {"mql": 50, "sql": 70}}
    cfg = tmp_path / "acc.yaml"
    cfg.write_text(yaml.safe_dump(data))
    assert main(["report", "--db", str(db), "--config", str(cfg), "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)["accounts"]

    config = config_from_dict(data)
    with open_source(db) as source:
        features = extract_features(source, config)
    scored = pd.DataFrame({"lead_id": features.lead_id, "score": score(config, features).total})
    con = duckdb.connect()
    con.execute(f"ATTACH '{db}' AS d (READ_ONLY)")
    con.register("scored", scored)
    rows = con.execute("""
        WITH ends AS (SELECT greatest((SELECT max(created_at) FROM d.leads), (SELECT max(occurred_at) FROM d.events),
                                      (SELECT max(converted_at) FROM d.outcomes)) AS data_end),
        l AS (SELECT trim(company) AS company, l.created_at, s.score, o.converted_at
              FROM d.leads l JOIN scored s USING (lead_id) JOIN d.outcomes o USING (lead_id)
              WHERE company IS NOT NULL AND trim(company) NOT IN ('', 'select', 'n/a', 'na', 'none', 'null', '-')),
        a AS (SELECT company, min(created_at) + INTERVAL 30 DAY AS sp FROM l GROUP BY 1),
        acc AS (SELECT a.company,
                  max(l.score) FILTER (WHERE l.created_at + INTERVAL 7 DAY <= a.sp) AS score,
                  coalesce(bool_or(l.converted_at < a.sp + INTERVAL 90 DAY), false) AS converted,
                  any_value(a.sp + INTERVAL 90 DAY <= (SELECT data_end FROM ends)) AS mature
                FROM a JOIN l USING (company) GROUP BY 1)
        SELECT CASE WHEN score < 10 THEN 0 WHEN score >= 90 THEN 9 ELSE floor(score / 10) END AS band,
               count(*) FILTER (WHERE mature), count(*) FILTER (WHERE mature AND converted),
               count(*) FILTER (WHERE NOT mature)
        FROM acc GROUP BY 1 ORDER BY 1""").fetchall()
    assert config.bands == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    expected = {int(b): (m, c, i) for b, m, c, i in rows}
    assert [(b["leads"], b["conversions"], b["immature"]) for b in got["bands"]] == [
        expected.get(i, (0, 0, 0)) for i in range(10)]
    assert got["accounts"] == sum(sum(v) - v[1] for v in expected.values())
    assert got["converted_accounts"] == sum(v[1] for v in expected.values()) > 100


def test_group_rows_kernel_equals_a_stable_argsort_by_code():
    from scoring.model.kernels import group_rows

    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 40, 5_000).astype(np.int32)  # -1: no account
    rows = np.flatnonzero(codes >= 0)
    counts = np.bincount(codes[rows], minlength=45)  # codes 40-44 hold no lead
    got = group_rows(codes, np.concatenate([[0], np.cumsum(counts)]), np.empty(rows.size, dtype=np.int64))
    assert got.tolist() == rows[np.argsort(codes[rows], kind="stable")].tolist()
    assert group_rows(np.array([2, -1, 0, 2, 0], dtype=np.int16), np.array([0, 2, 2, 4]),
                      np.empty(4, dtype=np.int64)).tolist() == [2, 4, 0, 3]  # by hand


def _numpy_index(features: Features, column: str, scoring_point_days: float, window_days: float) -> dict:
    """The account index as it was computed with numpy's argsort, gathers and comparisons (the reference)."""
    cat = features.categorical[column]
    codes = cat.codes.astype(np.int64)
    has = codes >= 0
    rows = np.flatnonzero(has)
    grouped = rows[np.argsort(cat.codes[rows], kind="stable")]
    counts = np.bincount(codes[rows], minlength=len(cat.categories))
    present = np.flatnonzero(counts)
    lut = np.full(len(cat.categories) + 1, -1, dtype=np.int64)
    lut[present + 1] = np.arange(present.size)
    account_of = lut[codes + 1]
    first = (np.cumsum(counts) - counts)[present]
    scoring_at = features.created_at[grouped[first]] + np.timedelta64(int(scoring_point_days * 86_400e6), "us")
    end = scoring_at + np.timedelta64(int(window_days * 86_400e6), "us")
    safe = np.maximum(account_of, 0)
    counted = has & (features.scoring_at <= scoring_at[safe])
    order = grouped[counted[grouped]]
    won = features.converted_at.copy()
    undated = features.converted & np.isnat(won)
    won[undated] = features.created_at[undated]
    hit = has & (won < end[safe])
    return {"account_of": account_of, "counted": counted, "order": order,
            "converted": np.bincount(account_of[hit], minlength=present.size) > 0, "scoring_at": scoring_at}


def test_account_index_equals_numpys_on_random_leads_with_missing_times():
    """The compiled pass (kernels.account_leads, group_rows) against the numpy computation it replaced, on
    leads with no account, accounts no kept lead holds, unknown scoring times and undated wins."""
    rng = np.random.default_rng(8)
    n = 20_000
    created = np.sort(T0 + rng.integers(0, 400, n) * D + rng.integers(0, 86_400_000_000, n).astype("timedelta64[us]"))
    scoring = created + 7 * D
    scoring[rng.random(n) < 0.02] = NAT  # no scoring moment: counts for nothing
    converted_at = np.where(rng.random(n) < 0.2, created + rng.integers(0, 90, n) * D, NAT)
    converted = ~np.isnat(converted_at) | (rng.random(n) < 0.01)  # some wins without a date
    names = np.array([f"Co {i}" for i in range(3_000)], dtype=object)  # codes 2,900+ held by no lead
    codes = np.where(rng.random(n) < 0.1, -1, rng.integers(0, 2_900, n)).astype(np.int32)
    features = Features(spec=None, lead_id=np.arange(n), created_at=created, scoring_at=scoring, converted=converted,
                        mature=np.ones(n, bool), categorical={"company": Categorical(codes, names)}, numeric={},
                        signals={}, data_end=dt.datetime(2025, 6, 1), converted_at=converted_at)
    index = account_index(_config("{method: max, scoring_point_days: 20}"), features)
    expected = _numpy_index(features, "company", 20, 30)
    for name, want in expected.items():
        assert getattr(index, name).tolist() == want.tolist(), name
    assert 0 < index.counted.sum() < n and index.converted.any() and not index.converted.all()
    flat = Features(spec=None, lead_id=np.arange(n), created_at=np.full(n, NAT), scoring_at=np.full(n, NAT),
                    converted=converted, mature=np.ones(n, bool), categorical={"company": Categorical(codes, names)},
                    numeric={}, signals={}, data_end=dt.datetime(2025, 6, 1), converted_at=np.full(n, NAT))
    index = account_index(_config("{method: max, scoring_point_days: 20}"), flat)  # no times at all
    expected = _numpy_index(flat, "company", 20, 30)
    for name, want in expected.items():
        assert getattr(index, name).tolist() == want.tolist(), name
    assert not index.counted.any() and not index.converted.any()  # no moment: nothing counts, nothing is won
