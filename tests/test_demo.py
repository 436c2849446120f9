"""Tests of the demo generator: contract (schema, bounds, stages), determinism, atomic
write, argument checks, and every item of its documented truth, checked by hand with
plain SQL / pandas on the generated data (never through the scoring engine)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from scoring.data import demo
from scoring.data.demo import DEMO_END, DRIFT_START, TRUTH, generate

END = DEMO_END.strftime("%Y-%m-%d %H:%M:%S")
DRIFT = DRIFT_START.strftime("%Y-%m-%d %H:%M:%S")
MATURE = f"l.created_at <= TIMESTAMP '{END}' - INTERVAL 183 DAY"  # outcome settled
PRICING_VIEWS = """(SELECT count(*) FROM events e WHERE e.lead_id = l.lead_id
    AND e.event_type = 'pricing_page_view' AND e.occurred_at < l.created_at + INTERVAL 7 DAY)"""
EVENT_TYPES = {"pricing_page_view", "demo_request", "trial_signup", "webinar_attended",
               "whitepaper_download", "competitor_comparison_download", "email_open",
               "email_click", "careers_page_view", "unsubscribe"}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[dict, duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("small") / "demo.duckdb"
    summary = generate(path, leads=20_000, seed=7)
    con = duckdb.connect(str(path), read_only=True)
    yield summary, con
    con.close()


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """Enough leads for the truth checks to be far from their thresholds."""
    path = tmp_path_factory.mktemp("big") / "demo.duckdb"
    generate(path, leads=80_000, seed=11)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def one(con, sql: str):
    return con.execute(sql).fetchone()[0]


def rows(path: Path, table: str, order: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def conv(con, where: str, base: str = "TRUE") -> float:
    """Won share of mature leads satisfying ``where`` (columns of leads l / outcomes o)."""
    return one(con, f"""SELECT avg((o.stage = 'won')::INT) FROM leads l
        JOIN outcomes o USING (lead_id) WHERE {MATURE} AND ({base}) AND ({where})""")


def had(event: str, before_day: int = 7) -> str:
    return f"""EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.lead_id
        AND e.event_type = '{event}'
        AND e.occurred_at < l.created_at + INTERVAL {before_day} DAY)"""


def ratio(con, event: str, base: str = "TRUE") -> float:
    """Conversion of mature leads with the event before day 7 / those without it."""
    return conv(con, had(event), base) / conv(con, f"NOT {had(event)}", base)


def odds_ratio(con, cond: str, base: str) -> float:
    p1, p0 = conv(con, cond, base), conv(con, f"NOT ({cond})", base)
    return (p1 / (1 - p1)) / (p0 / (1 - p0))


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """AUC from ranks, ties counted half."""
    r = pd.Series(score).rank().to_numpy()
    n1 = int(y.sum())
    n0 = len(y) - n1
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


# --------------------------------------------------------------------------- contract
def test_schema_and_types_are_exact(small):
    _, con = small
    expected = {
        "leads": [("lead_id", "BIGINT"), ("created_at", "TIMESTAMP"), ("segment", "VARCHAR"),
                  ("seniority", "VARCHAR"), ("department", "VARCHAR"),
                  ("company_size", "INTEGER"), ("industry", "VARCHAR"),
                  ("country", "VARCHAR"), ("email_domain_type", "VARCHAR"),
                  ("channel", "VARCHAR"), ("company", "VARCHAR")],
        "events": [("lead_id", "BIGINT"), ("event_type", "VARCHAR"),
                   ("occurred_at", "TIMESTAMP")],
        "outcomes": [("lead_id", "BIGINT"), ("stage", "VARCHAR"),
                     ("converted_at", "TIMESTAMP"), ("deal_value", "DOUBLE")],
    }
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert tables == set(expected)
    for table, columns in expected.items():
        got = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]
        assert got == columns, table


def test_summary_matches_the_tables(small):
    summary, con = small
    assert set(summary) == {"path", "leads", "events", "conversions", "start", "end", "seed"}
    assert summary["leads"] == one(con, "SELECT count(*) FROM leads") == 20_000
    assert summary["events"] == one(con, "SELECT count(*) FROM events")
    assert summary["conversions"] == one(con, "SELECT count(*) FROM outcomes WHERE stage = 'won'")
    assert summary["seed"] == 7
    assert summary["end"] == DEMO_END == datetime(2026, 6, 30, 23, 59, 59)
    assert summary["start"] == datetime(2025, 1, 1)  # 18 calendar months
    assert Path(summary["path"]).name == "demo.duckdb"


def test_lead_ids_follow_creation_order_within_the_period(small):
    _, con = small
    assert con.execute("SELECT min(lead_id), max(lead_id), count(DISTINCT lead_id) "
                       "FROM leads").fetchone() == (1, 20_000, 20_000)
    inversions = one(con, """SELECT count(*) FROM (SELECT created_at,
        lag(created_at) OVER (ORDER BY lead_id) prev FROM leads) WHERE created_at < prev""")
    assert inversions == 0
    lo, hi = con.execute("SELECT min(created_at), max(created_at) FROM leads").fetchone()
    assert datetime(2025, 1, 1) <= lo < datetime(2025, 1, 3)
    assert datetime(2026, 6, 28) < hi <= DEMO_END
    first, last = con.execute("""SELECT count(*) FILTER (WHERE created_at < '2025-07-01'),
        count(*) FILTER (WHERE created_at >= '2026-01-01') FROM leads""").fetchone()
    assert 1.1 < last / first < 1.6  # mild growth, not a cliff


def test_categorical_vocabularies_and_shares(small):
    _, con = small
    shares = dict(con.execute("SELECT segment, count(*) / 20000 FROM leads GROUP BY 1").fetchall())
    assert set(shares) == {"SMB", "Mid-Market", "Enterprise"}
    assert abs(shares["SMB"] - 0.55) < 0.03 and abs(shares["Enterprise"] - 0.15) < 0.02

    def values(col: str) -> set:
        return {r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM leads").fetchall()}

    assert values("seniority") == {"C-level", "VP", "Director", "Manager",
                                   "Individual Contributor", "Student", "", "Select"}
    assert values("department") == {"Sales", "Marketing", "IT", "Finance", "Operations",
                                    "HR", "Other"}
    assert values("industry") == {"Software", "Financial Services", "Healthcare",
                                  "Manufacturing", "Retail", "Education", "Public Sector",
                                  "Other"}
    assert values("country") == {"US", "GB", "DE", "FR", "NL", "CA", "AU", "IN", "BR", "ES",
                                 None}
    top = con.execute("SELECT country FROM leads GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    assert top.fetchone()[0] == "US"
    assert values("email_domain_type") == {"business", "free", "education"}
    assert values("channel") == {"organic_search", "paid_search", "referral", "events",
                                 "partner", "social_ads"}


def test_company_size_is_consistent_with_segment(small):
    _, con = small
    bad = one(con, """SELECT count(*) FROM leads WHERE company_size IS NOT NULL AND (
        (segment = 'SMB' AND NOT company_size BETWEEN 1 AND 199)
        OR (segment = 'Mid-Market' AND NOT company_size BETWEEN 200 AND 1999)
        OR (segment = 'Enterprise' AND company_size < 2000))""")
    assert bad == 0
    # lognormal-ish: spread inside the segment, not a constant
    assert one(con, "SELECT count(DISTINCT company_size) FROM leads WHERE segment='SMB'") > 100


def test_messy_values_are_present_in_the_documented_shares(small):
    _, con = small
    blank, select, size_null, country_null = con.execute("""SELECT
        avg((seniority = '')::INT), avg((seniority = 'Select')::INT),
        avg((company_size IS NULL)::INT), avg((country IS NULL)::INT) FROM leads""").fetchone()
    assert 0.02 < blank < 0.04 and 0.02 < select < 0.04
    assert 0.045 < blank + select < 0.075
    assert 0.03 < size_null < 0.05
    assert 0.005 < country_null < 0.016
    assert one(con, "SELECT count(*) FROM leads WHERE seniority IS NULL") == 0


def test_event_types_are_exactly_the_ten_and_email_open_is_most_common(small):
    _, con = small
    counts = dict(con.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    assert set(counts) == EVENT_TYPES
    assert max(counts, key=counts.get) == "email_open"
    per_lead = sum(counts.values()) / 20_000
    assert 8 < per_lead < 13
    assert one(con, "SELECT count(*) FROM events e ANTI JOIN leads l USING (lead_id)") == 0


def test_events_stay_in_their_window_and_before_demo_end(small):
    _, con = small
    outside = one(con, f"""SELECT count(*) FROM events e JOIN leads l USING (lead_id)
        WHERE e.occurred_at < l.created_at - INTERVAL 30 DAY
           OR e.occurred_at > l.created_at + INTERVAL 120 DAY
           OR e.occurred_at > TIMESTAMP '{END}'""")
    assert outside == 0
    # the window is used: anonymous visits before the form fill, and late nurture
    pre, late = con.execute("""SELECT
        count(*) FILTER (WHERE e.occurred_at < l.created_at - INTERVAL 20 DAY),
        count(*) FILTER (WHERE e.occurred_at > l.created_at + INTERVAL 100 DAY)
        FROM events e JOIN leads l USING (lead_id)""").fetchone()
    assert pre > 1000 and late > 1000
    pre_types = {r[0] for r in con.execute("""SELECT DISTINCT event_type FROM events e
        JOIN leads l USING (lead_id) WHERE e.occurred_at < l.created_at""").fetchall()}
    assert not pre_types & {"email_open", "email_click", "unsubscribe", "demo_request",
                            "trial_signup"}  # no e-mail or form before the lead exists


def test_no_email_engagement_after_an_unsubscribe(small):
    _, con = small
    after = one(con, """SELECT count(*) FROM events e JOIN (SELECT lead_id,
        min(occurred_at) t FROM events WHERE event_type = 'unsubscribe' GROUP BY 1) u
        USING (lead_id)
        WHERE e.event_type IN ('email_open', 'email_click') AND e.occurred_at > u.t""")
    assert after == 0
    assert one(con, "SELECT count(*) FROM events WHERE event_type = 'unsubscribe'") > 100


def test_outcome_rows_are_consistent_with_their_stage(small):
    _, con = small
    assert one(con, "SELECT count(*) FROM outcomes") == 20_000
    assert one(con, "SELECT count(DISTINCT lead_id) FROM outcomes") == 20_000
    assert {r[0] for r in con.execute("SELECT DISTINCT stage FROM outcomes").fetchall()} == {
        "won", "lost", "open"}
    bad_won = one(con, f"""SELECT count(*) FROM outcomes o JOIN leads l USING (lead_id)
        WHERE stage = 'won' AND (converted_at IS NULL OR deal_value IS NULL OR deal_value <= 0
          OR converted_at < l.created_at + INTERVAL 1 DAY
          OR converted_at > l.created_at + INTERVAL 150 DAY
          OR converted_at > TIMESTAMP '{END}')""")
    assert bad_won == 0
    bad_other = one(con, """SELECT count(*) FROM outcomes WHERE stage <> 'won'
        AND (converted_at IS NOT NULL OR deal_value IS NOT NULL)""")
    assert bad_other == 0
    medians = dict(con.execute("""SELECT segment, median(deal_value) FROM outcomes
        JOIN leads USING (lead_id) WHERE stage = 'won' GROUP BY 1""").fetchall())
    assert medians["Enterprise"] > 2 * medians["Mid-Market"] > 2 * medians["SMB"]


def test_open_leads_are_the_recent_ones(small):
    _, con = small
    old_open = one(con, f"""SELECT count(*) FROM outcomes JOIN leads USING (lead_id)
        WHERE stage = 'open' AND created_at < TIMESTAMP '{END}' - INTERVAL 150 DAY""")
    assert old_open == 0
    young_lost = one(con, f"""SELECT count(*) FROM outcomes JOIN leads USING (lead_id)
        WHERE stage = 'lost' AND created_at > TIMESTAMP '{END}' - INTERVAL 60 DAY""")
    assert young_lost == 0
    open_last_month = one(con, """SELECT avg((stage = 'open')::INT) FROM outcomes
        JOIN leads USING (lead_id) WHERE created_at >= '2026-06-01'""")
    assert open_last_month > 0.85
    assert one(con, "SELECT count(*) FROM outcomes WHERE stage = 'open'") > 2000


def test_mature_conversion_is_in_the_documented_range(small):
    _, con = small
    lo, hi = TRUTH["expected_mature_conversion"]
    assert lo <= conv(con, "TRUE") <= hi


def test_social_ads_only_in_the_last_three_months(small):
    _, con = small
    before = one(con, f"SELECT count(*) FROM leads WHERE channel = 'social_ads' "
                      f"AND created_at < TIMESTAMP '{DRIFT}'")
    assert before == 0
    share = one(con, f"SELECT avg((channel = 'social_ads')::INT) FROM leads "
                     f"WHERE created_at >= TIMESTAMP '{DRIFT}'")
    assert 0.28 < share < 0.42
    assert DRIFT_START == datetime(2026, 4, 1)


# ------------------------------------------------------------------------ determinism
def test_same_seed_gives_identical_tables_and_another_seed_does_not(tmp_path):
    a, b, c = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "c.duckdb"
    generate(a, leads=3000, seed=3)
    generate(b, leads=3000, seed=3)
    generate(c, leads=3000, seed=4)
    for table, order in (("leads", "lead_id"), ("outcomes", "lead_id"),
                         ("events", "lead_id, occurred_at, event_type")):
        assert rows(a, table, order) == rows(b, table, order), table
        assert rows(a, table, order) != rows(c, table, order), table


def test_determinism_does_not_depend_on_the_wall_clock_or_the_months_default(tmp_path):
    s1 = generate(tmp_path / "x.duckdb", leads=500, seed=1, months=6)
    s2 = generate(tmp_path / "y.duckdb", leads=500, seed=1, months=6)
    assert s1["start"] == s2["start"] == datetime(2026, 1, 1)
    assert rows(tmp_path / "x.duckdb", "leads", "lead_id") == rows(
        tmp_path / "y.duckdb", "leads", "lead_id")


# ----------------------------------------------------------------------- atomic write
def test_failure_midway_leaves_no_file_and_no_temporary(tmp_path):
    target = tmp_path / "out" / "demo.duckdb"

    def boom(msg: str) -> None:  # called after the first chunk was written
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        generate(target, leads=1000, progress=boom)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_failure_keeps_an_existing_file_untouched_and_success_replaces_it(tmp_path):
    target = tmp_path / "demo.duckdb"
    generate(target, leads=300, seed=1)
    before = target.read_bytes()

    def stop(msg: str) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        generate(target, leads=1000, seed=2, progress=stop)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.duckdb"]

    messages: list[str] = []
    summary = generate(target, leads=400, seed=2, progress=messages.append)
    assert summary["leads"] == 400 and messages  # progress was reported
    with duckdb.connect(str(target), read_only=True) as con:
        assert one(con, "SELECT count(*) FROM leads") == 400


@pytest.mark.parametrize("kwargs, message", [
    ({"leads": 99}, "leads must be between 100"),
    ({"leads": 20_000_001}, "leads must be between"),
    ({"leads": 1000.0}, "leads must be an integer"),
    ({"leads": True}, "leads must be an integer"),
    ({"leads": "1000"}, "leads must be an integer"),
    ({"seed": -1}, "seed must be a non-negative"),
    ({"months": 3}, "months must be between"),
])
def test_bad_arguments_give_a_clear_value_error(tmp_path, kwargs, message):
    target = tmp_path / "demo.duckdb"
    with pytest.raises(ValueError, match=message):
        generate(target, **kwargs)
    assert not target.exists()


def test_a_directory_as_target_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        generate(tmp_path, leads=100)


def test_truth_is_machine_readable_and_not_the_generators_working_copy():
    import json

    json.dumps(TRUTH)  # plain data, usable from other tests and tools
    assert set(TRUTH["engagement_weights"]) == {"SMB", "Mid-Market", "Enterprise"}
    for weights in TRUTH["engagement_weights"].values():
        assert set(weights) == EVENT_TYPES
        assert weights["email_open"] == 0
    assert TRUTH["decay"]["half_life_days"] == 14
    assert TRUTH["engagement_transform"]["pricing_page_view"]["kind"] == "log2_1p"
    assert TRUTH is not demo._T and TRUTH == demo._T


# ------------------------------------------------------------------------ the truth
def test_truth_1_strong_moderate_weak_and_null_signals(big):
    r = {event: ratio(big, event) for event in EVENT_TYPES}
    signals = TRUTH["signals"]
    strong = [r[e] for e in signals["strong_positive"]]
    moderate = [r[e] for e in signals["moderate_positive"]]
    assert r["demo_request"] > 4 and r["demo_request"] == max(r.values())
    assert min(strong) > 2.5 and min(strong) > max(moderate)
    assert min(moderate) > 1.6
    assert 1.1 < r["whitepaper_download"] < min(moderate)
    assert 0.8 < r["email_open"] < 1.35
    # repeated pricing views add
    views = PRICING_VIEWS
    c0, c1, c3 = conv(big, f"{views} = 0"), conv(big, f"{views} = 1"), conv(big, f"{views} >= 3")
    assert c3 > 1.5 * c1 and c1 > 1.5 * c0


def test_truth_2_negative_signals_and_fit(big):
    assert ratio(big, "careers_page_view") < 0.6
    assert ratio(big, "unsubscribe") < 0.5
    business = conv(big, "l.email_domain_type = 'business'")
    assert conv(big, "l.email_domain_type = 'free'") < 0.5 * business
    ic = conv(big, "l.seniority = 'Individual Contributor'")
    assert conv(big, "l.seniority = 'Student'") < 0.2 * ic
    assert conv(big, "l.seniority IN ('C-level', 'VP', 'Director')") > 1.2 * ic
    assert conv(big, "l.company_size >= 2000") > 1.2 * conv(big, "l.company_size < 200")
    fin_soft = conv(big, "l.industry IN ('Software', 'Financial Services')")
    assert 1.0 < fin_soft / conv(big, "l.industry NOT IN ('Software', 'Financial Services')") < 1.5


def test_truth_3_recent_engagement_counts_more_and_decay_beats_no_decay(big):
    # leads with exactly one pricing view before the scoring point: when was it?
    one_view = f"{PRICING_VIEWS} = 1"

    def view_between(lo: int, hi: int) -> str:
        return f"""EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.lead_id
            AND e.event_type = 'pricing_page_view'
            AND e.occurred_at >= l.created_at + INTERVAL ({lo}) DAY
            AND e.occurred_at < l.created_at + INTERVAL ({hi}) DAY)"""

    old = conv(big, view_between(-30, -13), one_view)   # 20-37 days before the scoring point
    recent = conv(big, view_between(4, 7), one_view)    # the last 3 days before it
    assert recent > 1.5 * old

    # the same points (the truth's Mid-Market weights), with and without decay
    df = big.execute(f"""SELECT l.lead_id, e.event_type,
        (epoch(l.created_at + INTERVAL 7 DAY) - epoch(e.occurred_at)) / 86400 AS age
        FROM leads l JOIN events e USING (lead_id)
        WHERE {MATURE} AND e.occurred_at < l.created_at + INTERVAL 7 DAY""").df()
    y = big.execute(f"""SELECT l.lead_id, (o.stage = 'won')::INT FROM leads l
        JOIN outcomes o USING (lead_id) WHERE {MATURE} ORDER BY 1""").fetchnumpy()
    ids, won = y["lead_id"], np.asarray(y[list(y)[1]])
    pos = np.searchsorted(ids, df["lead_id"].to_numpy())
    weights = TRUTH["engagement_weights"]["Mid-Market"]

    def score(half_life: float | None) -> np.ndarray:
        w = np.ones(len(df)) if half_life is None else 0.5 ** (df["age"].to_numpy() / half_life)
        total = np.zeros(len(ids))
        for event, points in weights.items():
            mask = (df["event_type"] == event).to_numpy()
            total += points * np.minimum(np.bincount(pos[mask], w[mask], len(ids)), 3)
        return total

    no_decay = auc(score(None), won)
    assert auc(score(14), won) > no_decay + 0.003
    assert auc(score(30), won) > no_decay + 0.002


def test_truth_4_segments_weigh_signals_differently(big):
    demo_req, trial = had("demo_request"), had("trial_signup")
    ent, smb = "l.segment = 'Enterprise'", "l.segment = 'SMB'"
    assert odds_ratio(big, demo_req, ent) > 1.4 * odds_ratio(big, demo_req, smb)
    assert odds_ratio(big, trial, smb) > 1.4 * odds_ratio(big, trial, ent)
    assert odds_ratio(big, trial, smb) > odds_ratio(big, demo_req, smb)   # SMB: trial first
    assert odds_ratio(big, demo_req, ent) > 2 * odds_ratio(big, trial, ent)
    senior = "l.seniority IN ('C-level', 'VP', 'Director')"
    senior_or_ic = "l.seniority IN ('C-level', 'VP', 'Director', 'Individual Contributor')"
    assert (odds_ratio(big, senior, f"{ent} AND {senior_or_ic}")
            > 1.4 * odds_ratio(big, senior, f"{smb} AND {senior_or_ic}"))


def _default_like_scores(con) -> pd.DataFrame:
    """data/configs/default.yaml computed by hand: 30-day half-life to day 7, caps."""
    return con.execute("""
    WITH pts(event_type, p, cap) AS (VALUES ('demo_request', 20, 30), ('trial_signup', 15, 20),
        ('pricing_page_view', 5, 15), ('competitor_comparison_download', 5, 10),
        ('webinar_attended', 5, 10), ('whitepaper_download', 3, 9), ('email_click', 2, 8),
        ('email_open', 1, 5), ('careers_page_view', -10, 20), ('unsubscribe', -15, 15)),
    act AS (SELECT e.lead_id, e.event_type, sum(power(0.5, (epoch(l.created_at + INTERVAL 7 DAY)
            - epoch(e.occurred_at)) / 86400 / 30)) s
        FROM events e JOIN leads l USING (lead_id)
        WHERE e.occurred_at < l.created_at + INTERVAL 7 DAY GROUP BY ALL),
    eng AS (SELECT lead_id, sum(sign(p) * least(abs(p) * s, cap)) pts
        FROM act JOIN pts USING (event_type) GROUP BY 1)
    SELECT l.lead_id, l.created_at, l.channel,
        (o.stage = 'won' AND o.converted_at <= l.created_at + INTERVAL 45 DAY)::INT won45,
        greatest(0, least(100, greatest(-20, least(60, coalesce(eng.pts, 0)))
        + greatest(0, least(40,
            CASE l.seniority WHEN 'C-level' THEN 15 WHEN 'VP' THEN 12 WHEN 'Director' THEN 10
                WHEN 'Manager' THEN 5 WHEN 'Student' THEN -10 ELSE 0 END
          + CASE l.email_domain_type WHEN 'business' THEN 5 WHEN 'free' THEN -5 ELSE 0 END
          + CASE WHEN l.company_size >= 2000 THEN 12 WHEN l.company_size >= 200 THEN 8
                 WHEN l.company_size >= 50 THEN 4 ELSE 0 END
          + CASE WHEN l.industry IN ('Software', 'Financial Services') THEN 5 ELSE 0 END))))
        AS score
    FROM leads l JOIN outcomes o USING (lead_id) LEFT JOIN eng USING (lead_id)""").df()


def test_truth_5_social_ads_drift(big):
    drift = f"l.created_at >= TIMESTAMP '{DRIFT}'"
    settled45 = f"l.created_at <= TIMESTAMP '{END}' - INTERVAL 45 DAY"
    won45 = "avg((o.stage = 'won' AND o.converted_at <= l.created_at + INTERVAL 45 DAY)::INT)"
    social, other = big.execute(f"""SELECT {won45} FILTER (WHERE channel = 'social_ads'),
        {won45} FILTER (WHERE channel <> 'social_ads') FROM leads l JOIN outcomes o
        USING (lead_id) WHERE {drift} AND {settled45}""").fetchone()
    assert social < 0.5 * other

    free_social, free_other = big.execute(f"""SELECT
        avg((email_domain_type = 'free')::INT) FILTER (WHERE channel = 'social_ads'),
        avg((email_domain_type = 'free')::INT) FILTER (WHERE channel <> 'social_ads')
        FROM leads l WHERE {drift}""").fetchone()
    assert free_social > 1.8 * free_other

    per_lead = big.execute(f"""SELECT l.channel = 'social_ads' AS social,
        count(*) FILTER (WHERE e.event_type = 'email_open') / count(DISTINCT l.lead_id),
        count(*) FILTER (WHERE e.event_type = 'whitepaper_download') / count(DISTINCT l.lead_id)
        FROM leads l LEFT JOIN events e ON e.lead_id = l.lead_id
            AND e.occurred_at < l.created_at + INTERVAL 7 DAY
        WHERE {drift} GROUP BY 1""").fetchall()
    by = {r[0]: r[1:] for r in per_lead}
    assert by[True][0] > 3 * by[False][0] and by[True][1] > 3 * by[False][1]

    # a default-like score shifts (PSI over reference deciles) and conversion per band drops
    df = _default_like_scores(big)
    ref = df[df["created_at"] < datetime(2025, 7, 1)]
    cur = df[(df["created_at"] >= DRIFT_START) & (df["created_at"] <= DEMO_END - timedelta(days=7))]
    edges = np.unique(np.quantile(ref["score"], np.linspace(0, 1, 11)[1:-1]))

    def dist(s: pd.Series) -> np.ndarray:
        counts = np.bincount(np.searchsorted(edges, s, side="right"), minlength=len(edges) + 1)
        return (counts + 0.5) / (counts + 0.5).sum()

    expected, actual = dist(ref["score"]), dist(cur["score"])
    psi = float(((actual - expected) * np.log(actual / expected)).sum())
    assert psi > 0.1
    assert cur["score"].mean() > ref["score"].mean() + 2
    cur45 = df[(df["created_at"] >= DRIFT_START)
               & (df["created_at"] <= DEMO_END - timedelta(days=45))]
    for band in (20, 40):
        assert cur45[cur45["score"] >= band]["won45"].mean() < 0.85 * ref[ref["score"] >= band][
            "won45"].mean()


def test_truth_6_missing_seniority_is_a_mix_of_true_seniorities(big):
    # '' / 'Select' hide real people: their conversion sits between students and C-level
    missing = conv(big, "l.seniority IN ('', 'Select')")
    assert conv(big, "l.seniority = 'Student'") < missing < conv(big, "l.seniority = 'C-level'")
    assert abs(missing / conv(big, "TRUE") - 1) < 0.3


def test_companies_with_several_engaged_contacts_convert_more(small):
    """The documented account truth: companies gathering engaged contacts (a demo request or a trial) win more often."""
    _, con = small
    rows = dict((several, (n, rate)) for several, n, rate in con.execute("""
        WITH e AS (SELECT DISTINCT lead_id FROM events WHERE event_type IN ('demo_request', 'trial_signup')),
        l AS (SELECT l.company, o.stage = 'won' AS won, e.lead_id IS NOT NULL AS engaged
              FROM leads l JOIN outcomes o USING (lead_id) LEFT JOIN e USING (lead_id) WHERE l.company <> ''),
        a AS (SELECT company, sum(engaged::INT) AS engaged, bool_or(won) AS won FROM l GROUP BY 1)
        SELECT engaged >= 2, count(*), avg(won::INT) FROM a GROUP BY 1""").fetchall())
    assert rows[True][0] > 500 and rows[False][0] > 1000
    assert rows[True][1] > 2.5 * rows[False][1]
    missing = con.execute("SELECT count(*) FILTER (WHERE company IS NULL), count(*) FILTER (WHERE company = ''), "
                          "count(DISTINCT company), count(*) FROM leads").fetchone()
    assert 0.005 < missing[0] / missing[3] < 0.015 and 0.005 < missing[1] / missing[3] < 0.015
    assert 0.15 < missing[2] / missing[3] < 0.25  # about one company per 5 leads


def test_a_demo_made_by_an_older_leadcal_is_not_current(tmp_path):
    path = tmp_path / "demo.duckdb"
    generate(path, leads=1_000, seed=3)
    assert demo.is_current(path)
    old = tmp_path / "old.duckdb"  # the same demo without the account key an older generator did not write
    con = duckdb.connect(str(old))
    con.execute(f"ATTACH '{path}' AS d (READ_ONLY)")
    con.execute("CREATE TABLE leads AS SELECT * EXCLUDE (company) FROM d.leads")
    con.execute("CREATE TABLE events AS SELECT * FROM d.events")
    con.execute("CREATE TABLE outcomes AS SELECT * FROM d.outcomes")
    con.close()
    assert not demo.is_current(old)
    (tmp_path / "junk.duckdb").write_bytes(b"not a database")
    assert not demo.is_current(tmp_path / "junk.duckdb")



def test_a_current_demo_stays_current_while_the_app_reads_it(tmp_path):
    """The app's own connection open (an extraction, the checks after the first view) does not make the demo
    look outdated: it was then generated again under the running reads (a page change during a first load)."""
    from scoring.data.source import connect_read_only

    path = tmp_path / "demo.duckdb"
    generate(path, leads=1_000, seed=3)
    with connect_read_only(path) as con:
        assert demo.is_current(path)
        assert con.execute("SELECT count(*) FROM leads").fetchone()[0] == 1_000

def test_the_app_generates_an_outdated_demo_again(tmp_path, monkeypatch):
    """An older leadcal's demo.duckdb (no account key) is replaced by the current one, whole, on start."""
    from ui import data

    path = tmp_path / "demo.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE leads (lead_id BIGINT, created_at TIMESTAMP)")
    con.close()
    monkeypatch.setattr(data, "demo_db", lambda: path)
    messages = []
    monkeypatch.setattr(data.st, "status", lambda label, **k: _Status(messages, label))
    real = demo.generate
    monkeypatch.setattr(demo, "generate", lambda p, progress=None: real(p, leads=1_000, seed=3, progress=progress))
    data.ensure_demo(path)
    assert demo.is_current(path)
    assert messages[0].startswith("The demo database was made by an older leadcal")
    assert not any(str(tmp_path) in m for m in messages)  # the browser is told no server path
    before = path.stat().st_mtime_ns
    data.ensure_demo(path)  # current now: left alone
    assert path.stat().st_mtime_ns == before


class _Status:
    def __init__(self, messages, label):
        self.messages = messages
        messages.append(label)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, text):
        self.messages.append(str(text))

    def update(self, **kwargs):
        self.messages.append(kwargs.get("label", ""))
