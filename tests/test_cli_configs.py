"""`leadcal configs`: every action, and every refusal leaves the store byte-for-byte unchanged."""

from __future__ import annotations

import json

import pytest
import yaml

from scoring.cli import main
from scoring.model.config import load_config, parse_config
from scoring.registry.store import ConfigStore, tree_digest

from .conftest import SMALL_CONFIG, file_digest


@pytest.fixture
def setup(tmp_path, small_db):
    store = tmp_path / "store"
    cfg = tmp_path / "small.yaml"
    cfg.write_text(SMALL_CONFIG)
    return store, cfg, small_db


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _save(capsys, store, cfg, name="small", note="n"):
    code, out, err = _run(capsys, "configs", "save", name, "--file", cfg, "--note", note, "--author", "ann",
                          "--store", store)
    assert code == 0, err
    return out


def test_save_list_show_diff(capsys, setup, tmp_path):
    store, cfg, db = setup
    assert _save(capsys, store, cfg).startswith("saved small@1")
    changed = tmp_path / "changed.yaml"
    changed.write_text(SMALL_CONFIG.replace("thresholds: {mql: 10, sql: 30}", "thresholds: {mql: 12, sql: 30}"))
    code, out, err = _run(capsys, "configs", "save", "small", "--file", changed, "--parent", "small@1",
                          "--store", store)
    assert code == 0 and "small@2" in out
    code, out, err = _run(capsys, "configs", "list", "--store", store)
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["small@1", "draft"] and lines[2].split()[:2] == ["small@2", "draft"]
    code, out, err = _run(capsys, "configs", "show", "small@1", "--store", store)
    assert code == 0 and "# note: n" in out
    body = "\n".join(line for line in out.splitlines() if not line.startswith("#"))
    assert parse_config(body) == parse_config(SMALL_CONFIG).model_copy(update={"name": "small"})
    code, out, err = _run(capsys, "configs", "diff", "small@1", "small@2", "--format", "json", "--store", store)
    assert json.loads(out) == [{"what": "thresholds.mql", "change": "changed", "before": 10.0, "after": 12.0}]


def test_approve_records_result_and_data_and_export_yaml(capsys, setup, tmp_path):
    store, cfg, db = setup
    _save(capsys, store, cfg)
    digest = file_digest(db)
    code, out, err = _run(capsys, "configs", "approve", "small@1", "--signoff", "Sam:sales", "--signoff",
                          "Mia:marketing", "--rationale", "agreed in Q3 meeting", "--db", db, "--store", store)
    assert code == 0, err
    assert "small champion is now small@1" in out
    record = ConfigStore(store).approval("small", 1)
    assert record["calibration"]["result"]["mature_leads"] == 5
    assert record["calibration"]["result"]["conversions"] == 2
    assert record["data"]["rows"] == {"leads": 6, "events": 11, "outcomes": 3}
    assert record["data"]["first_lead"].startswith("2024-01-01")
    assert file_digest(db) == digest
    out_file = tmp_path / "out" / "small.yaml"
    code, out, err = _run(capsys, "configs", "export", "small", "--version", 1, "--format", "yaml",
                          "--out", out_file, "--store", store)
    assert code == 0, err
    assert load_config(out_file) == ConfigStore(store).load("small", 1)
    assert yaml.safe_load(out_file.read_text()) == yaml.safe_load(SMALL_CONFIG)
    actions = [e["action"] for e in ConfigStore(store).audit()]
    assert actions == ["save", "approve", "export"]


BAD = [
    ("bad name", ["configs", "save", "../evil", "--file", "{cfg}", "--store", "{store}"], "model name"),
    ("name with space", ["configs", "save", "a b", "--file", "{cfg}", "--store", "{store}"], "model name"),
    ("invalid yaml", ["configs", "save", "small", "--file", "{bad}", "--store", "{store}"], "thresholds"),
    ("missing role", ["configs", "approve", "small@1", "--signoff", "Sam:sales", "--rationale", "x",
                      "--db", "{db}", "--store", "{store}"], "missing sign-off from: marketing"),
    ("no rationale", ["configs", "approve", "small@1", "--signoff", "Sam:sales", "--signoff", "Mia:marketing",
                      "--rationale", " ", "--db", "{db}", "--store", "{store}"], "rationale is required"),
    ("approve twice", ["configs", "approve", "small@2", "--signoff", "Sam:sales", "--signoff",
                       "Mia:marketing", "--rationale", "x", "--db", "{db}", "--store", "{store}"],
     "already approved"),
    ("no such version", ["configs", "show", "small@9", "--store", "{store}"], "has no version 9"),
    ("no such model", ["configs", "export", "nope", "--format", "yaml", "--out", "{out}", "--store", "{store}"],
     "no model named 'nope'"),
    ("bad signoff", ["configs", "approve", "small@1", "--signoff", "Sam", "--rationale", "x", "--db", "{db}",
                     "--store", "{store}"], "NAME:ROLE"),
    ("bad ref", ["configs", "diff", "small@x", "small@1", "--store", "{store}"], "whole number"),
]


@pytest.mark.parametrize("label, argv, message", BAD, ids=[b[0] for b in BAD])
def test_refusals_leave_the_store_unchanged(capsys, setup, tmp_path, label, argv, message):
    store, cfg, db = setup
    _save(capsys, store, cfg)
    _save(capsys, store, cfg)
    code, out, err = _run(capsys, "configs", "approve", "small@2", "--signoff", "Sam:sales", "--signoff",
                          "Mia:marketing", "--rationale", "ok", "--db", db, "--store", store)
    assert code == 0, err
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL_CONFIG.replace("sql: 30", "sql: 5"))
    before = tree_digest(store)
    argv = [a.format(cfg=cfg, store=store, db=db, bad=bad, out=tmp_path / "x.yaml") for a in argv]
    code, out, err = _run(capsys, *argv)
    assert code == 1
    assert message in err and "Traceback" not in err
    assert tree_digest(store) == before
    assert not (tmp_path / "x.yaml").exists()


def test_export_sql_and_html(capsys, setup, tmp_path, monkeypatch):
    monkeypatch.delenv("LEADCAL_DB", raising=False)
    import duckdb
    import numpy as np

    from scoring.data.extract import extract_features
    from scoring.data.source import open_source
    from scoring.model.engine import score

    store, cfg, db = setup
    _save(capsys, store, cfg)
    sql_file = tmp_path / "score.sql"
    code, out, err = _run(capsys, "configs", "export", "small@1", "--format", "sql", "--dialect", "duckdb",
                          "--out", sql_file, "--store", store)
    assert code == 0, err
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(sql_file.read_text()).fetchall()
    con.close()
    config = ConfigStore(store).load("small", 1)
    with open_source(db) as source:
        features = extract_features(source, config)
    engine = dict(zip(features.lead_id.tolist(), score(config, features).total.tolist()))
    got = {r[0]: r[4] for r in rows}
    assert got.keys() == engine.keys()
    assert np.allclose([got[k] for k in engine], list(engine.values()), atol=1e-9)
    for dialect in ("postgres", "snowflake", "bigquery", "spark"):
        code, out, err = _run(capsys, "configs", "export", "small@1", "--format", "sql", "--dialect", dialect,
                              "--out", tmp_path / f"{dialect}.sql", "--store", store)
        assert code == 0, err
    html_file = tmp_path / "report.html"
    code, out, err = _run(capsys, "configs", "export", "small@1", "--format", "html", "--db", db,
                          "--out", html_file, "--store", store)
    assert code == 0, err
    text = html_file.read_text()
    assert text.lstrip().lower().startswith("<!doctype html>") and "small" in text
    code, out, err = _run(capsys, "configs", "export", "small@1", "--format", "html", "--out",
                          tmp_path / "nodb.html", "--store", store)
    assert code == 1 and "needs --db" in err
    exports = [e for e in ConfigStore(store).audit() if e["action"] == "export"]
    assert [(e["format"], e["dialect"]) for e in exports] == [
        ("sql", "duckdb"), ("sql", "postgres"), ("sql", "snowflake"), ("sql", "bigquery"), ("sql", "spark"),
        ("html", None)]
