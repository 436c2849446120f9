"""The configs every engine runs, and the one comparison: the engine's scores, lead by lead.

Configs cover every rule kind (categorical, numeric bins, events, an activity column),
each decay (exponential, linear, window, none; as the model's and as a rule's own),
segments (a values filter and a range filter, with own fit, engagement, thresholds),
and caps that bite (checked: dropping each cap changes some lead's score).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import ScoringConfig, config_from_dict, load_config
from scoring.model.engine import TIERS, Scores, score
from scoring.model.features import Features

from ..conftest import DEFAULT_CONFIG
from ..test_export_sql import EVERY_KIND, MESSY_EVENTS, MESSY_LEADS, _messy_config, _messy_db

TOL = 1e-9

messy_db = _messy_db
"""The messy leads database of tests/test_export_sql.py (``"lead list"`` with ``"Lead ID"``, ...)."""

__all__ = ["MESSY_EVENTS", "MESSY_LEADS", "messy_db", "CONFIGS", "config_for", "engine_scores", "assert_same_scores",
           "assert_same_features"]

TIGHT_CAPS = """
name: tight-caps
source:
  leads: {table: leads, id: lead_id, created_at: created_at, segment: segment}
  events: {table: events, lead_id: lead_id, type: event_type, time: occurred_at}
  outcome: {table: outcomes, lead_id: lead_id, converted_at: converted_at}
evaluation: {scoring_point_days: 3, outcome_window_days: 60}
decay: {kind: linear, lifespan_days: 20}
fit:
  - {type: categorical, column: seniority, points: {C-level: 15, VP: 12, Director: 10, Student: -10}, other: 2}
  - type: numeric
    column: company_size
    bins: [{max: 50, points: -4}, {min: 50, max: 1000, points: 6}, {min: 1000, points: 11}]
engagement:
  - {event: demo_request, points: 25, cap: 25}
  - {event: pricing_page_view, points: 4, cap: 8, decay: {kind: exponential, half_life_days: 2.5}}
  - {event: [email_open, email_click, webinar_attended], points: 1.5, cap: 6}
  - {event: unsubscribe, points: -30}
  - {column: company_size, points: 0.01, cap: 4}
caps:
  fit: {min: 0, max: 20}
  engagement: {min: -8, max: 25}
  total: {min: 5, max: 35}
thresholds: {mql: 18, sql: 27}
bands: [10, 20, 30]
segments:
  - name: mid
    filter: {column: company_size, min: 200, max: 2000}
    engagement:
      - {event: demo_request, points: 20, decay: {kind: none}}
      - {event: trial_signup, points: 9, cap: 9, decay: {kind: window, days: 5}}
"""

WINDOW_MODEL = """
name: window-model
source:
  leads: {table: leads, id: lead_id, created_at: created_at}
  events: {table: events, lead_id: lead_id, type: event_type, time: occurred_at}
  outcome: {table: outcomes, lead_id: lead_id, converted_at: converted_at}
evaluation: {scoring_point_days: 10.25, outcome_window_days: 45}
decay: {kind: window, days: 9.5}
fit:
  - {type: categorical, column: industry, points: {Software: 6, Retail: -3}, missing: -1}
  - {type: categorical, column: email_domain_type, points: {business: 4, free: -4}}
engagement:
  - {event: [demo_request, trial_signup], points: 12, cap: 24}
  - {event: careers_page_view, points: -6, cap: 12}
  - {event: whitepaper_download, points: 3, decay: {kind: none}}
caps:
  total: {max: 30}
thresholds: {mql: 12, sql: 24}
bands: [12, 24]
"""

NO_DECAY = """
name: no-decay
source:
  leads: {table: leads, id: lead_id, created_at: created_at}
  events: {table: events, lead_id: lead_id, type: event_type, time: occurred_at}
  outcome: {table: outcomes, lead_id: lead_id, converted_at: converted_at}
evaluation: {scoring_point_days: 14, outcome_window_days: 90}
decay: {kind: none}
fit:
  - {type: numeric, column: company_size, bins: [{max: 100, points: 1}, {min: 100, points: 7}], missing: -2}
engagement:
  - {event: [pricing_page_view, competitor_comparison_download], points: 2.5, cap: 10}
  - {event: email_open, points: 0.25}
  - {event: demo_request, points: 15, decay: {kind: exponential, half_life_days: 3}}
caps:
  engagement: {max: 20}
  total: {min: 0, max: 25}
thresholds: {mql: 10, sql: 20}
bands: [10, 20]
"""


@dataclass(frozen=True)
class Case:
    """One config on one dataset."""

    name: str
    data: str
    """'demo' or 'messy' (an ``EngineData.name``)."""


CONFIGS = [
    Case("default", "demo"),
    Case("every-kind", "demo"),
    Case("tight-caps", "demo"),
    Case("window-model", "demo"),
    Case("no-decay", "demo"),
    Case("messy-seconds", "messy"),
    Case("messy-microseconds", "messy"),
]


def config_for(name: str) -> ScoringConfig:
    """A config of ``CONFIGS`` by name."""
    if name == "default":
        return load_config(DEFAULT_CONFIG)
    if name == "messy-seconds":
        return _messy_config(7)
    if name == "messy-microseconds":
        return _messy_config(7.0000001)  # the scoring point is not whole seconds
    text = {"every-kind": EVERY_KIND, "tight-caps": TIGHT_CAPS, "window-model": WINDOW_MODEL,
            "no-decay": NO_DECAY}[name]
    return config_from_dict(yaml.safe_load(text))


@lru_cache(maxsize=None)
def engine_scores(db: Path, name: str) -> tuple[Features, Scores]:
    """The engine's features and scores of config ``name`` on the DuckDB file ``db`` (once per session)."""
    config = config_for(name)
    with open_source(db) as source:
        features = extract_features(source, config)
    return features, score(config, features)


def caps_that_bite(config: ScoringConfig, features: Features) -> set[str]:
    """Which caps change some lead's score when dropped: 'fit', 'engagement', 'total', 'rule'."""
    base = score(config, features)
    out = set()
    for part in ("fit", "engagement", "total"):
        if getattr(config.caps, part) is None:
            continue
        loose = config.model_copy(update={"caps": config.caps.model_copy(update={part: None})})
        if not np.array_equal(score(loose, features).total, base.total):
            out.add(part)

    def uncapped(rules):
        return None if rules is None else [r.model_copy(update={"cap": None}) for r in rules]

    loose = config.model_copy(update={
        "engagement": uncapped(config.engagement),
        "segments": [s.model_copy(update={"engagement": uncapped(s.engagement)}) for s in config.segments],
    })
    if not np.array_equal(score(loose, features).engagement, base.engagement):
        out.add("rule")
    return out


@dataclass
class Comparison:
    """How an engine's rows compare with the engine's scores."""

    leads: int
    max_diff: dict[str, float]
    near_threshold: int
    """Leads whose total is within TOL of a threshold (their tier is still compared)."""


def assert_same_scores(db: Path, name: str, columns: dict[str, np.ndarray]) -> Comparison:
    """Assert the rows of an exported query (``columns``: lead_id, scored_at, fit_score,
    engagement_score, score, tier) are the engine's on every lead: same leads, same
    scoring points, scores within 1e-9, the same tier."""
    config = config_for(name)
    features, expected = engine_scores(db, name)
    ids = np.asarray(columns["lead_id"], dtype=np.int64)
    assert len(ids) == len(np.unique(ids)), "one row per lead"
    assert np.array_equal(np.sort(ids), np.sort(features.lead_id)), "the engine's leads, no more, no fewer"
    mine, theirs = np.argsort(ids, kind="stable"), np.argsort(features.lead_id, kind="stable")

    scored_at = np.asarray(columns["scored_at"], dtype="datetime64[us]")[mine]
    np.testing.assert_array_equal(scored_at, features.scoring_at[theirs])
    diffs = {}
    for column, engine in (("fit_score", expected.fit), ("engagement_score", expected.engagement),
                           ("score", expected.total)):
        values = np.asarray(columns[column], dtype=np.float64)[mine]
        assert not np.isnan(values).any(), f"{column} has NULLs"
        diffs[column] = float(np.max(np.abs(values - engine[theirs])))
        assert diffs[column] <= TOL, (column, diffs[column])
    tiers = np.asarray(columns["tier"], dtype=object)[mine]
    engine_tiers = np.asarray(TIERS, dtype=object)[expected.tier[theirs]]
    wrong = np.flatnonzero(tiers != engine_tiers)
    assert wrong.size == 0, f"{wrong.size} tiers differ, e.g. lead {ids[mine][wrong[:5]]}"
    thresholds = [config.thresholds.mql, config.thresholds.sql] + [
        t for s in config.segments if s.thresholds for t in (s.thresholds.mql, s.thresholds.sql)]
    near = np.abs(expected.total[:, None] - np.asarray(thresholds)[None, :]) <= TOL
    return Comparison(len(ids), diffs, int(near.any(axis=1).sum()))


def rows_to_columns(names: list[str], rows: list[tuple]) -> dict[str, np.ndarray]:
    """Fetched rows as one array per column (object arrays; the comparison converts)."""
    out = {}
    for i, name in enumerate(names):
        column = np.empty(len(rows), dtype=object)
        column[:] = [r[i] for r in rows]
        out[name] = column
    return out


def assert_same_features(got: Features, want: Features) -> float:
    """Every per-lead array equal (activities within 1e-9); returns the largest activity difference."""
    assert got.n == want.n
    np.testing.assert_array_equal(got.lead_id, want.lead_id)
    np.testing.assert_array_equal(got.created_at, want.created_at)
    np.testing.assert_array_equal(got.scoring_at, want.scoring_at)
    np.testing.assert_array_equal(got.converted, want.converted)
    np.testing.assert_array_equal(got.mature, want.mature)
    assert got.data_end == want.data_end
    assert sorted(got.categorical) == sorted(want.categorical)
    for name, cat in want.categorical.items():
        assert got.categorical[name].values().tolist() == cat.values().tolist(), name
        assert got.categorical[name].categories.tolist() == cat.categories.tolist(), name  # first-seen order
    assert sorted(got.numeric) == sorted(want.numeric)
    for name, values in want.numeric.items():
        np.testing.assert_array_equal(got.numeric[name], values)
    assert sorted(got.signals) == sorted(want.signals)
    worst = 0.0
    for key, activity in want.signals.items():
        diff = float(np.max(np.abs(got.signals[key].dense() - activity.dense()))) if want.n else 0.0
        assert diff <= TOL, (key, diff)
        worst = max(worst, diff)
    return worst
