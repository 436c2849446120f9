"""The `leadcal` command: outputs equal the library's numbers, errors are clean, DB untouched."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from scoring.analysis.report import calibration
from scoring.cli import main
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import parse_config
from scoring.model.engine import TIERS, score

from .conftest import SMALL_CONFIG, file_digest


@pytest.fixture
def small_cfg(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_CONFIG)
    return path


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok_and_bad(capsys, small_cfg, tmp_path):
    code, out, err = _run(capsys, "validate", str(small_cfg))
    assert code == 0 and out.startswith(f"{small_cfg}: ok")
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL_CONFIG.replace("mql: 10", "mql: 40").replace("points: 20", "points: lots"))
    code, out, err = _run(capsys, "validate", str(bad))
    assert code == 1 and out == ""
    assert "engagement[0].points: Input should be a valid number" in err
    assert "thresholds: mql (40) must be below sql (30)" in err
    assert "Traceback" not in err


def test_report_json_equals_library(capsys, small_db, small_cfg):
    digest = file_digest(small_db)
    code, out, err = _run(capsys, "report", "--db", str(small_db), "--config", str(small_cfg),
                          "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    config = parse_config(SMALL_CONFIG)
    with open_source(small_db) as source:
        expected = calibration(config, extract_features(source, config), with_revenue=True)
    assert result == json.loads(json.dumps(expected.to_dict()))
    # won revenue: leads 1 (1000) and 4 (10) converted; lead 2's 50 came after its window
    assert (result["revenue"]["won_value"], result["revenue"]["won_deals"]) == (1010.0, 2)
    for key in ("auc", "gini", "ks", "mature_leads", "immature_leads", "conversions", "bands", "tiers"):
        assert key in result
    assert set(result["bands"][0]) >= {"low", "high", "leads", "conversions", "rate", "ci_low",
                                       "ci_high", "lift", "capture"}
    # hand check on the small data: 5 mature leads, leads 1 and 4 converted
    assert (result["mature_leads"], result["immature_leads"], result["conversions"]) == (5, 1, 2)
    assert result["tiers"]["sql"] == {"leads": 2, "conversions": 2, "rate": 1.0, "immature": 0}
    assert file_digest(small_db) == digest


def test_report_table(capsys, small_db, small_cfg):
    code, out, err = _run(capsys, "report", "--db", str(small_db), "--config", str(small_cfg))
    assert code == 0, err
    assert "6 leads, 5 mature (1 immature, not counted), 2 conversions (40.0%)" in out
    assert "events.lead_id: 1 events of lead ids not in the leads table" in out


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_file_matches_engine(capsys, tmp_path, small_db, small_cfg, suffix):
    digest = file_digest(small_db)
    out_path = tmp_path / f"scores{suffix}"
    code, out, err = _run(capsys, "score", "--db", str(small_db), "--config", str(small_cfg),
                          "--out", str(out_path))
    assert code == 0, err
    table = pacsv.read_csv(out_path) if suffix == ".csv" else pq.read_table(out_path)
    assert table.column_names == ["lead_id", "scored_at", "fit_score", "engagement_score", "score",
                                  "band", "tier", "converted", "mature"]
    config = parse_config(SMALL_CONFIG)
    with open_source(small_db) as source:
        features = extract_features(source, config)
    scores = score(config, features)
    np.testing.assert_array_equal(table.column("lead_id").to_numpy(), features.lead_id)
    np.testing.assert_allclose(table.column("score").to_numpy(), scores.total)
    assert table.column("tier").to_pylist() == [TIERS[t] for t in scores.tier]
    assert table.column("band").to_pylist() == [">= 30", "< 10", "< 10", ">= 30", "10–20", "< 10"]
    assert table.column("mature").to_pylist() == features.mature.tolist()
    assert file_digest(small_db) == digest


def test_score_refuses_to_write_over_the_database(capsys, tmp_path, small_db, small_cfg):
    target = tmp_path / "small.parquet"
    small_db.rename(target)
    digest = file_digest(target)
    code, out, err = _run(capsys, "score", "--db", str(target), "--config", str(small_cfg),
                          "--out", str(target))
    assert code == 1 and "never writes to it" in err
    assert file_digest(target) == digest


def test_missing_database_is_a_clean_error(capsys, tmp_path, small_cfg):
    missing = tmp_path / "nope.duckdb"
    code, out, err = _run(capsys, "report", "--db", str(missing), "--config", str(small_cfg))
    assert code == 1
    assert err.strip().endswith("database file not found")
    assert not missing.exists()


def test_bad_mapping_lists_every_problem(capsys, tmp_path, small_db):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMALL_CONFIG.replace("column: seniority", "column: title")
                   .replace("outcome: {table: outcomes", "outcome: {table: deals"))
    code, out, err = _run(capsys, "report", "--db", str(small_db), "--config", str(cfg))
    assert code == 1
    assert "2 problem(s) with the data" in err
    assert "column 'title'" in err and "table 'deals'" in err
    assert "Traceback" not in err


def test_console_entry_point_runs_as_a_process(tmp_path, small_db, small_cfg):
    proc = subprocess.run(
        [sys.executable, "-m", "scoring.cli", "report", "--db", str(small_db), "--config",
         str(small_cfg), "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["conversions"] == 2
    proc = subprocess.run([sys.executable, "-m", "scoring.cli", "report", "--db", str(tmp_path / "x.duckdb")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_import_is_a_leadcal_command(capsys, tmp_path, monkeypatch):
    """`leadcal import` is wired into the main command (the importer itself: tests/test_import.py)."""
    import duckdb

    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))  # the import saves its starter model there
    csv = tmp_path / "leads.csv"
    csv.write_text("Lead ID,Created Date,Job Title,Won?\n1,3/1/2024,VP,Yes\n2,3/2/2024,Analyst,No\n"
                   "3,3/3/2024,Select,No\n4,3/4/2024,VP,\n")
    db = tmp_path / "mine.duckdb"
    # every day is at most 12: 3/1/2024 reads both ways, so the import asks instead of guessing
    assert main(["import", str(csv), "--db", str(db)]) == 1
    assert "--date-order day-first|month-first" in capsys.readouterr().err and not db.exists()
    code = main(["import", str(csv), "--db", str(db), "--date-order", "month-first"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "store" / "models" / "mine" / "v0001.yaml").exists()
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT lead_id, job_title, converted FROM leads ORDER BY lead_id").fetchall()
    con.close()
    assert [(str(r[0]), r[1], r[2]) for r in rows] == [("1", "VP", True), ("2", "Analyst", False),
                                                         ("3", None, False), ("4", "VP", None)]
