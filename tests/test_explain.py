"""Why this lead: the explanation adds up to the engine's score on every lead, and its events are placed right."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from scoring.analysis.explain import ExplainError, breakdown, compare, counted_events, explain, explain_row, timeline
from scoring.data.demo import generate
from scoring.data.details import lead_events, lead_status, read_details
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import load_config, parse_config
from scoring.model.engine import TIERS, score
from scoring.model.features import decay_weights, feature_spec

from .conftest import DEFAULT_CONFIG, T0, DAY, make_db

SEGMENTED = """
name: segmented
source:
  leads: {table: leads, id: lead_id, created_at: created_at, segment: segment}
  events: {table: events, lead_id: lead_id, type: event_type, time: occurred_at}
  outcome: {table: outcomes, lead_id: lead_id, converted_at: converted_at, deal_value: deal_value}
evaluation: {scoring_point_days: 7, outcome_window_days: 90}
decay: {kind: linear, lifespan_days: 45}
fit:
  - type: categorical
    column: seniority
    points: {C-level: 15, VP: 12, Director: 10, Manager: 5, Student: -10}
    other: 1
    missing: -2
  - type: numeric
    column: company_size
    bins: [{max: 50, points: 0}, {min: 50, max: 200, points: 4}, {min: 200, max: 2000, points: 8}]
    other: 11
    missing: -1
engagement:
  - {event: demo_request, points: 25, cap: 30}
  - {event: pricing_page_view, points: 3.5, cap: 10, decay: {kind: window, days: 14}}
  - {event: [email_open, email_click], points: 0.7, name: email, decay: {kind: none}}
  - {event: careers_page_view, points: -12, cap: 20, decay: {kind: exponential, half_life_days: 10}}
  - {event: unsubscribe, points: -15}
  - {column: company_size, points: 0.001, cap: 2}
caps:
  fit: {min: -5, max: 20}
  engagement: {min: -10, max: 25}
  total: {min: 0, max: 40}
thresholds: {mql: 15, sql: 25}
bands: [10, 20, 30]
segments:
  - name: enterprise
    filter: {column: segment, values: [Enterprise]}
    engagement:
      - {event: demo_request, points: 30, cap: 40}
      - {event: trial_signup, points: 6, cap: 12}
    thresholds: {mql: 20, sql: 30}
  - name: large
    filter: {column: company_size, min: 1000}
    fit:
      - {type: categorical, column: industry, points: {Software: 9}, other: -3, missing: -4}
"""

UNCAPPED = """
name: uncapped
source:
  leads: {table: leads, id: lead_id, created_at: created_at}
  events: {table: events, lead_id: lead_id, type: event_type, time: occurred_at}
  outcome: {table: outcomes, lead_id: lead_id, converted_at: converted_at}
decay: {kind: none}
fit:
  - {type: categorical, column: email_domain_type, points: {business: 5, free: -5}}
engagement:
  - {event: webinar_attended, points: 2.25}
  - {event: careers_page_view, points: -3}
thresholds: {mql: 5, sql: 15}
bands: [0, 5, 10]
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("explain") / "demo.duckdb"
    generate(path)  # the demo as `leadcal demo` makes it: 50,000 leads
    return path


def _configs():
    return [load_config(DEFAULT_CONFIG), parse_config(SEGMENTED), parse_config(UNCAPPED)]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["default", "segmented", "uncapped"])
def test_points_add_up_to_the_engine_score_for_every_lead(demo, which):
    config = _configs()[which]
    with open_source(demo) as source:
        features = extract_features(source, config)
    scores = score(config, features)
    groups = breakdown(config, features)
    seen = np.zeros(features.n, dtype=int)
    for g in groups:
        seen[g.rows] += 1
        # the parts are the rule points added in rule order, then capped: exactly the engine's
        np.testing.assert_array_equal(g.total, scores.total[g.rows])
        np.testing.assert_array_equal(g.fit, scores.fit[g.rows])
        np.testing.assert_array_equal(g.engagement, scores.engagement[g.rows])
        fit_sum = sum((r.points for r in g.rules if r.kind == "fit"), np.zeros(g.rows.size))
        np.testing.assert_array_equal(fit_sum, g.fit_sum)
        assert (g.segment == -1) or config.segments
        assert (scores.segment[g.rows] == g.segment).all()
    assert (seen == 1).all()  # every lead explained once
    # the configs are chosen so that what the explanation shows actually happens on the demo
    every = [r for g in groups for r in g.rules]
    assert any((r.before_cap != r.points).any() for r in every if r.kind == "engagement") or which == 2
    assert any((r.points < 0).any() for r in every)
    if which < 2:
        assert any((g.total_sum != g.total).any() for g in groups)  # the total cap bites
        assert any((g.engagement_sum != g.engagement).any() for g in groups)
    if which == 1:
        assert {g.segment for g in groups} == {-1, 0, 1}
    # one lead at a time, in words: the lines add up to the same score, for a sample and the capped ones
    rng = np.random.default_rng(1)
    capped = np.flatnonzero(scores.total != scores.fit + scores.engagement)[:50]
    for row in np.concatenate([rng.choice(features.n, 150, replace=False), capped]):
        e = explain_row(config, features, int(row))
        fit = 0.0
        for line in e.fit:
            fit += line.points
        eng = 0.0
        for line in e.engagement:
            assert line.points == (max(-line.cap, min(line.cap, line.before_cap)) if line.cap else line.before_cap)
            eng += line.points
        assert fit == e.part("fit").before and eng == e.part("engagement").before
        assert e.part("fit").after + e.part("engagement").after == e.part("total").before
        assert e.score == scores.total[row] == e.part("total").after
        assert e.tier == TIERS[scores.tier[row]]
        assert e.segment == (None if scores.segment[row] < 0 else config.segments[scores.segment[row]].name)


def test_a_lead_by_hand(small_db, small_config_text):
    """Lead 1 of the small database: VP (10), size 500 in [100, 1000) (5); 2 demo requests (40, capped 30), 1 open."""
    config = parse_config(small_config_text)
    with open_source(small_db) as source:
        features = extract_features(source, config)
    e = explain(config, features, "1")
    assert [(f.rule, f.value, f.matched, f.points) for f in e.fit] == [
        ("seniority", "VP", "VP", 10.0), ("company_size", 500.0, "[100, 1000)", 5.0)]
    demo, email = e.engagement
    assert (demo.activity, demo.before_cap, demo.points, demo.capped) == (2.0, 40.0, 30.0, True)
    assert (email.rule, email.activity, email.points) == ("email_open+EMAIL_CLICK", 1.0, 1.0)
    assert e.score == 46.0 and e.tier == "sql" and e.band == ">= 30"
    assert e.caps_that_bit == ["demo_request rule cap (30)"]
    # lead 3: 'Select' is missing (2), no size (-1)
    e3 = explain(config, features, 3)
    assert [(f.value, f.matched, f.points) for f in e3.fit] == [(None, "missing", 2.0), (None, "missing", -1.0)]
    # lead 4: ' vp ' matches VP, 2000 is in no bin: other (3)
    e4 = explain(config, features, 4)
    assert [(f.value, f.matched, f.points) for f in e4.fit] == [("vp", "VP", 10.0), (2000.0, "other", 3.0)]


def test_draft_against_approved_rule_by_rule(small_db, small_config_text):
    approved = parse_config(small_config_text)
    draft = parse_config(small_config_text.replace("points: 20, cap: 30", "points: 12, cap: 30")
                         .replace("  - {type: categorical, column: seniority, points: {VP: 10, Student: -5}, other: 1, "
                                  "missing: 2}\n", ""))
    with open_source(small_db) as source:
        features = extract_features(source, approved)
    c = compare(explain(draft, features, 1), explain(approved, features, 1))
    by_rule = {(r.kind, r.rule): r for r in c.rules}
    assert (by_rule["engagement", "demo_request"].draft, by_rule["engagement", "demo_request"].approved) == (24.0, 30.0)
    assert by_rule["engagement", "demo_request"].change == -6.0
    assert (by_rule["fit", "seniority"].draft, by_rule["fit", "seniority"].approved) == (None, 10.0)
    assert by_rule["fit", "seniority"].change == -10.0
    assert c.change == sum(r.change for r in c.rules) == 30.0 - 46.0
    assert c.to_dict()["rules"][0]["change"] == by_rule[c.rules[0].kind, c.rules[0].rule].change


def test_timeline_counted_too_late_after_conversion(small_db, small_config_text):
    config = parse_config(small_config_text)
    with open_source(small_db) as source:
        features = extract_features(source, config)
        details = read_details(source, config, features)
        rows = {int(i): r for r, i in enumerate(features.lead_id)}
        tl = {lead: timeline(features, rows[lead], lead_events(source, config, features.lead_id[rows[lead]]),
                             details.converted_at[rows[lead]].astype(object))
              for lead in (1, 2, 4)}
    one = [(e.type, e.time, e.status) for e in tl[1].events]
    assert one == [
        ("demo_request", "2023-12-22 00:00:00", "counted"),
        ("email_open", "2024-01-02 00:00:00", "counted"),
        ("demo_request", "2024-01-07 00:00:00", "counted"),
        ("demo_request", "2024-01-08 00:00:00", "too late"),  # exactly at the scoring point
    ]
    assert [e.days_before_scoring for e in tl[1].events] == [17.0, 6.0, 1.0, 0.0]
    assert tl[1].converted_at == "2024-01-21 00:00:00" and tl[1].complete
    assert tl[2].counts() == {"counted": 2, "too late": 1}
    four = [(e.type, e.status) for e in tl[4].events]
    assert four == [("demo_request", "counted"), ("demo_request", "counted"), ("email_open", "after conversion")]
    # without the query: the counted events alone, from the kept arrays
    assert [e.status for e in timeline(features, rows[4]).events] == ["counted", "counted"]


def test_counted_events_sum_to_the_rule_activity(demo):
    config = parse_config(SEGMENTED)
    with open_source(demo) as source:
        features = extract_features(source, config)
    spec = feature_spec(config)
    rng = np.random.default_rng(3)
    for row in rng.choice(features.n, 40, replace=False):
        events = counted_events(features, int(row))
        for signal in spec.signals:
            ages = np.array([d for t, _, d in events if t in signal.events])
            w = decay_weights(signal.decay, ages)
            expected = float(ages.size if w is None else w.sum())
            got = features.signals[signal.key].dense()[row]
            assert got == pytest.approx(expected, abs=1e-9)


def test_details_align_with_the_leads(demo):
    import duckdb

    config = load_config(DEFAULT_CONFIG)
    with open_source(demo) as source:
        features = extract_features(source, config)
        details = read_details(source, config, features)
    con = duckdb.connect(str(demo), read_only=True)
    truth = con.execute("SELECT l.lead_id, l.channel, o.converted_at, o.deal_value FROM leads l "
                        "LEFT JOIN outcomes o USING (lead_id)").fetchdf().set_index("lead_id")
    con.close()
    t = truth.loc[features.lead_id]
    assert list(details.columns) == ["segment", "seniority", "department", "industry", "country",
                                     "email_domain_type", "channel", "company"]
    assert (details.columns["channel"] == t["channel"].to_numpy()).all()
    np.testing.assert_array_equal(np.nan_to_num(details.deal_value, nan=-1), t["deal_value"].fillna(-1).to_numpy())
    conv = t["converted_at"].to_numpy(dtype="datetime64[us]")
    assert ((details.converted_at == conv) | (np.isnat(conv) & np.isnat(details.converted_at))).all()


def test_bad_leads_one_message_each(tmp_path, small_config_text):
    db = make_db(tmp_path / "x.duckdb", [(1, T0, "VP", 10, "x"), (2, None, "VP", 10, "x"),
                                         (3, T0 + DAY, "VP", 10, "x")])
    config = parse_config(small_config_text)
    with open_source(db) as source:
        features = extract_features(source, config)
        assert lead_status(source, config, "2") == "no creation time"
        assert lead_status(source, config, "77") == "unknown"
    with pytest.raises(ExplainError, match="lead '77': no scored lead has this id"):
        explain(config, features, "77")
    with pytest.raises(ExplainError, match="whole numbers"):
        explain(config, features, "abc")
    shown = features.subset(features.lead_id == 1)
    with pytest.raises(ExplainError, match="outside the segment filter"):
        explain(config, shown, 3, all_features=features)
