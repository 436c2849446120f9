"""Data without creation times or conversion times: a yes/no outcome, no point in time, said plainly."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from scoring.cli import main
from scoring.data.extract import extract_features
from scoring.data.source import SourceError, open_source
from scoring.model.config import ConfigError, config_from_dict
from scoring.model.engine import score

from .conftest import DAY, T0, file_digest

FLAT = {
    "source": {"leads": {"table": "flat", "id": "id", "created_at": None},
               "outcome": {"converted_at": None, "converted": "won"}},
    "fit": [{"type": "categorical", "column": "title", "points": {"VP": 10}, "other": 2}],
    "engagement": [{"column": "page_views", "points": 1.5, "cap": 6}],
    "thresholds": {"mql": 5, "sql": 10},
    "bands": [5, 10],
}


@pytest.fixture
def flat_db(tmp_path):
    path = tmp_path / "flat.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE flat (id VARCHAR, title VARCHAR, page_views INTEGER, won BOOLEAN)")
    con.executemany("INSERT INTO flat VALUES (?, ?, ?, ?)", [
        ("a", "VP", 1, True),      # 10 + 1.5 = 11.5
        ("b", "Analyst", 0, False),  # 2
        ("c", "VP", 10, None),     # 10 + 6 (cap) = 16, outcome still open: immature
        ("d", None, 2, False),     # missing title: 0 + 3 = 3
        ("b", "VP", 9, True),      # duplicate id: one row of each id is used (order by id)
    ])
    con.close()
    return path


def test_flat_file_scores_without_a_point_in_time(flat_db):
    config = config_from_dict(FLAT)
    with open_source(flat_db) as source:
        features = extract_features(source, config)
    assert not features.point_in_time
    by_id = dict(zip(features.lead_id.tolist(), range(features.n)))
    assert set(by_id) == {"a", "b", "c", "d"}
    scores = score(config, features)
    assert scores.total[by_id["a"]] == 11.5 and scores.total[by_id["c"]] == 16 and scores.total[by_id["d"]] == 3
    assert features.converted[by_id["a"]] and not features.converted[by_id["d"]]
    assert features.mature.tolist() == [features.lead_id[i] != "c" for i in range(4)]
    problems = [f.problem for f in features.quality.findings]
    assert "duplicate rows of an id" in problems


def test_report_says_so_plainly(capsys, tmp_path, flat_db):
    import yaml

    cfg = tmp_path / "flat.yaml"
    cfg.write_text(yaml.safe_dump(FLAT))
    digest = file_digest(flat_db)
    assert main(["report", "--db", str(flat_db), "--config", str(cfg), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"]["point_in_time"] is False and result["data"]["first_lead"] is None
    assert (result["mature_leads"], result["immature_leads"]) == (3, 1)
    assert main(["report", "--db", str(flat_db), "--config", str(cfg)]) == 0
    assert "no creation times" in capsys.readouterr().out
    assert main(["drift", "--db", str(flat_db), "--config", str(cfg)]) == 3
    assert "no creation times" in capsys.readouterr().err
    assert file_digest(flat_db) == digest


def test_flat_config_rules():
    with pytest.raises(ConfigError, match="events need leads.created_at"):
        config_from_dict({**FLAT, "source": {**FLAT["source"], "events": {}}})
    with pytest.raises(ConfigError, match="outcome must be a yes/no column"):
        config_from_dict({**FLAT, "source": {"leads": {"created_at": None}}})
    # a yes/no column alone (converted_at not named) is the yes/no form; both together are the
    # three-state form with dates; neither is refused
    alone = config_from_dict({**FLAT, "source": {"outcome": {"converted": "won"}}}).source.outcome
    assert (alone.converted, alone.converted_at) == ("won", None)
    both = config_from_dict({**FLAT, "source": {"outcome": {"converted": "won", "converted_at": "won_at"}}})
    assert (both.source.outcome.converted, both.source.outcome.converted_at) == ("won", "won_at")
    with pytest.raises(ConfigError, match="give 'converted_at' .* or both"):
        config_from_dict({**FLAT, "source": {"outcome": {"converted_at": None}}})
    with pytest.raises(ConfigError, match="open_lost_after_days needs 'converted'"):
        config_from_dict({**FLAT, "source": {"outcome": {"open_lost_after_days": 90}}})
    from scoring.export.sql import export_sql

    with pytest.raises(ValueError, match="no creation time"):
        export_sql(config_from_dict(FLAT))


def test_yes_no_outcome_with_times_and_events(tmp_path):
    """A stage-style outcome table (1 won, 0 lost, NULL open) with creation and event times."""
    path = tmp_path / "stage.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE leads (lead_id BIGINT, created_at TIMESTAMP)")
    con.execute("CREATE TABLE events (lead_id BIGINT, event_type VARCHAR, occurred_at TIMESTAMP)")
    con.execute("CREATE TABLE deals (lead_id BIGINT, won INTEGER)")
    con.executemany("INSERT INTO leads VALUES (?, ?)", [(1, T0), (2, T0), (3, T0)])
    con.executemany("INSERT INTO events VALUES (?, ?, ?)",
                    [(1, "demo", T0 + DAY), (1, "demo", T0 + 8 * DAY), (2, "demo", T0 + 2 * DAY)])
    con.executemany("INSERT INTO deals VALUES (?, ?)", [(1, 1), (2, 0), (2, 1), (3, None)])
    con.close()
    config = config_from_dict({
        "source": {"events": {}, "outcome": {"table": "deals", "converted_at": None, "converted": "won"}},
        "engagement": [{"event": "demo", "points": 10}], "thresholds": {"mql": 5, "sql": 15}, "bands": [5],
    })
    with open_source(path) as source:
        features = extract_features(source, config)
    assert features.point_in_time
    np.testing.assert_array_equal(score(config, features).engagement, [10, 10, 0])  # day 8 is after day 7
    assert features.converted.tolist() == [True, True, False]  # any won row converts lead 2
    assert features.mature.tolist() == [True, True, False]


def test_text_yes_no_column_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "text.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE flat (id VARCHAR, title VARCHAR, page_views INTEGER, won VARCHAR)")
    con.close()
    with open_source(path) as source, pytest.raises(SourceError, match="leadcal import"):
        extract_features(source, config_from_dict(FLAT))
