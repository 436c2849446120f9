"""`leadcal explain` and `leadcal leads`: the numbers of the library, as a person would run them."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from scoring.cli import main
from scoring.data.demo import generate

from .conftest import DEFAULT_CONFIG, SMALL_CONFIG, file_digest


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_cfg(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_CONFIG)
    return path


def test_explain_json_adds_up_and_places_events(capsys, small_db, small_cfg):
    before = file_digest(small_db)
    code, out, err = _run(capsys, "explain", "1", "--db", small_db, "--config", small_cfg, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    e = doc["explanation"]
    # by hand: VP 10 + size 500 in [100, 1000) 5; two demo requests 2 x 20 = 40, capped 30; one open 1
    assert [(f["rule"], f["points"]) for f in e["fit"]] == [("seniority", 10.0), ("company_size", 5.0)]
    assert [(g["activity"], g["before_cap"], g["points"], g["capped"]) for g in e["engagement"]] == [
        (2.0, 40.0, 30.0, True), (1.0, 1.0, 1.0, False)]
    assert e["score"] == 46.0 and e["tier"] == "sql" and e["caps_that_bit"] == ["demo_request rule cap (30)"]
    assert doc["lead"]["converted_at"] == "2024-01-21 00:00:00" and doc["lead"]["deal_value"] == 1000.0
    assert doc["timeline"]["counts"] == {"counted": 3, "too late": 1}
    assert file_digest(small_db) == before  # the user's database is never written to


def test_explain_compare_rule_by_rule(capsys, small_db, small_cfg, tmp_path):
    store = tmp_path / "store"
    assert main(["configs", "save", "small", "--file", str(small_cfg), "--store", str(store)]) == 0
    draft = tmp_path / "draft.yaml"
    draft.write_text(SMALL_CONFIG.replace("points: 20, cap: 30", "points: 12, cap: 30"))
    capsys.readouterr()
    code, out, err = _run(capsys, "explain", "1", "--db", small_db, "--config", draft, "--store", store,
                          "--compare", "small@1", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["compare"]["ref"] == "small@1" and doc["compare"]["change"] == 24.0 - 30.0
    changed = [r for r in doc["compare"]["rules"] if r["change"]]
    assert changed == [{"kind": "engagement", "rule": "demo_request", "draft": 24.0, "approved": 30.0, "change": -6.0}]
    code, out, err = _run(capsys, "explain", "1", "--db", small_db, "--config", draft, "--store", store,
                          "--compare", "small@1")
    assert code == 0, err
    assert "difference, draft - approved: -6 points" in out
    assert "engagement demo_request" in out and "2 x 12 = 24" in out
    assert "2024-01-08 00:00:00  demo_request" in out and "too late" in out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("leads") / "demo.duckdb"
    generate(path, leads=20_000, seed=5)
    return path


def test_leads_of_a_band_and_a_tier_match_the_report(capsys, demo, tmp_path):
    code, out, err = _run(capsys, "report", "--db", demo, "--config", DEFAULT_CONFIG, "--format", "json")
    report = json.loads(out)
    band = report["bands"][6]  # 60–70
    code, out, err = _run(capsys, "leads", "--db", demo, "--config", DEFAULT_CONFIG, "--band", "60-70",
                          "--out", tmp_path / "b.csv")
    assert code == 0, err
    t = pd.read_csv(tmp_path / "b.csv")
    assert len(t) == band["leads"] + band["immature"]
    assert (t["mature"] & t["outcome"].eq("converted")).sum() == band["conversions"]
    assert t["draft_score"].between(60, 70, inclusive="left").all()
    assert f"{len(t):,} leads in band 60-70" in out
    # several bands by their outer edges; Parquet keeps the types
    code, out, err = _run(capsys, "leads", "--db", demo, "--config", DEFAULT_CONFIG, "--band", "60-80",
                          "--out", tmp_path / "b.parquet")
    p = pq.read_table(tmp_path / "b.parquet").to_pandas()
    assert len(p) == sum(b["leads"] + b["immature"] for b in report["bands"][6:8])
    assert p["converted_at"].dtype.kind == "M" and p["deal_value"].dtype.kind == "f"
    tier = report["tiers"]["sql"]
    code, out, err = _run(capsys, "leads", "--db", demo, "--tier", "sql", "--sort", "deal value",
                          "--out", tmp_path / "t.csv")
    t = pd.read_csv(tmp_path / "t.csv")
    assert len(t) == tier["leads"] + tier["immature"] and (t["draft_tier"] == "sql").all()
    assert t["deal_value"].iloc[0] == t["deal_value"].max()


def test_leads_moved_against_a_saved_version(capsys, demo, tmp_path):
    store = tmp_path / "store"
    assert main(["configs", "save", "default", "--file", str(DEFAULT_CONFIG), "--store", str(store)]) == 0
    draft = tmp_path / "draft.yaml"
    draft.write_text(DEFAULT_CONFIG.read_text().replace("thresholds: {mql: 40, sql: 60}",
                                                         "thresholds: {mql: 30, sql: 60}"))
    capsys.readouterr()
    code, out, err = _run(capsys, "leads", "--db", demo, "--config", draft, "--store", store, "--compare",
                          "default@1", "--moved", "up", "--out", tmp_path / "m.csv")
    assert code == 0, err
    t = pd.read_csv(tmp_path / "m.csv")
    # lowering MQL from 40 to 30 moves up exactly the leads scoring in [30, 40)
    assert len(t) > 0 and t["draft_score"].between(30, 40, inclusive="left").all()
    assert (t["approved_tier"] == "below_mql").all() and (t["draft_tier"] == "mql").all()
    code, out, err = _run(capsys, "report", "--db", demo, "--config", DEFAULT_CONFIG, "--format", "json")
    report = json.loads(out)
    assert len(t) == sum(b["leads"] + b["immature"] for b in report["bands"][3:4])


def test_a_hubspot_export_lists_the_names_a_rep_knows(capsys, tmp_path):
    """Imported with no flags, a HubSpot contacts + deals export lists each lead with its name, e-mail and owner;
    the counts are the report's, and one lead explains to its score."""
    from . import crm_exports as ce

    export = ce.write_hubspot(tmp_path / "files", n=1500)
    db, store, starter = tmp_path / "hs.duckdb", tmp_path / "store", tmp_path / "hs.yaml"
    assert main(["import", *map(str, export.files), "--db", str(db), "--store", str(store), "--model", "hs",
                 "--starter-config", str(starter)]) == 0
    text = starter.read_text().replace("mql: 40", "mql: 1").replace("sql: 60", "sql: 2")  # a starter scores 0
    text = text.replace("points: 0\n", "points: 1\n", 3)
    draft = tmp_path / "draft.yaml"
    draft.write_text(text)
    capsys.readouterr()
    code, out, err = _run(capsys, "report", "--db", db, "--config", draft, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    code, out, err = _run(capsys, "leads", "--db", db, "--config", draft, "--store", store, "--compare", "hs",
                          "--tier", "below_mql", "--out", tmp_path / "l.csv")
    assert code == 0, err
    t = pd.read_csv(tmp_path / "l.csv", dtype=str)
    tier = report["tiers"]["below_mql"]
    assert len(t) == tier["leads"] + tier["immature"]
    assert {"first_name", "last_name", "email", "contact_owner"} <= set(t.columns)
    assert set(t["contact_owner"].dropna()) <= {"Ann Lee", "Bo Chan", "Cy Diaz", "Di Evans"}
    lead = t["lead_id"].iloc[0] if "lead_id" in t.columns else t.iloc[0, 0]
    code, out, err = _run(capsys, "explain", lead, "--db", db, "--config", draft, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    e = doc["explanation"]
    total = sum(f["points"] for f in e["fit"]) + sum(g["points"] for g in e["engagement"])
    assert [p["before"] for p in e["parts"]][:2] == [sum(f["points"] for f in e["fit"]),
                                                     sum(g["points"] for g in e["engagement"])]
    assert e["score"] == pytest.approx(total) and e["tier"] == "below_mql"
    assert doc["lead"]["columns"]["contact_owner"] in {"Ann Lee", "Bo Chan", "Cy Diaz", "Di Evans"}
