"""`leadcal import` and the Import page: messy exports in, clean tables and a starter config out.

Every input is generated here (tests/import_fixtures.py) into tmp_path; every expected
value is worked out by hand from the rows. Errors name the file and column, exit 1,
and leave an existing database byte-for-byte as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pytest
import yaml

from scoring.analysis.report import calibration
from scoring.cli import main as leadcal
from scoring.cli.imports import main as leadcal_import
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.imports import importer
from scoring.imports.importer import run_import, save_starter
from scoring.imports.read import clean_name
from scoring.model.config import load_config
from scoring.registry.store import ConfigStore

from .conftest import ROOT, file_digest
from .import_fixtures import (
    EXPECTED_CONVERTED,
    EXPECTED_LEADS,
    EXPECTED_MATURE,
    EXPECTED_SCORES,
    FLAT_CONVERTED,
    FLAT_HEADER,
    POINTS,
    write_crm,
    write_flat,
    write_table,
)
from .kpis_shown import shown_kpis

T = dt.datetime


@pytest.fixture(autouse=True)
def _own_store(tmp_path, monkeypatch):
    """`leadcal import` saves its starter model to the store: a store of the test's own, never data/configs."""
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "own-store"))


def run(capsys, *argv) -> tuple[int, str, str]:
    code = leadcal_import([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def leftovers(folder: Path) -> list[str]:
    """Temporary files an import left behind (there must be none)."""
    return sorted(p.name for p in folder.iterdir() if ".import-" in p.name)


@pytest.fixture(scope="module")
def crm(tmp_path_factory):
    """The CRM files imported once per format with the CLI: {fmt: (folder, files, db, starter, stdout)}."""
    out = {}
    for fmt in ("csv", "parquet"):
        folder = tmp_path_factory.mktemp(f"crm_{fmt}")
        files = write_crm(folder, fmt)
        digests = [file_digest(f) for f in files]
        db, starter = folder / "crm.duckdb", folder / "starter.yaml"
        code = leadcal_import([*map(str, files), "--db", str(db), "--starter-config", str(starter), "--store",
                               str(folder / "store")])
        assert code == 0
        assert [file_digest(f) for f in files] == digests  # the inputs are only read
        out[fmt] = (folder, files, db, starter)
    return out


# --------------------------------------------------------------------------- names and values


def test_clean_names():
    assert clean_name("Contact ID") == "contact_id"
    assert clean_name("# of Page Views") == "number_of_page_views"
    assert clean_name("Annual Revenue ($)") == "annual_revenue"
    assert clean_name("Opted In?") == "opted_in"
    assert clean_name("LeadSource") == "lead_source"
    assert clean_name("HTTPStatus code") == "http_status_code"
    assert clean_name("  2024 Score ") == "c_2024_score"
    assert clean_name("Größe") == "groe"
    assert clean_name("???") == "column"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_crm_quirks_import_as_worked_out_by_hand(crm, fmt):
    _, _, db, _ = crm[fmt]
    got = rows(db, "SELECT lead_id, created_at, job_title, number_of_page_views, annual_revenue, opted_in, "
                   "converted, converted_at, deal_value, industry, employees FROM leads ORDER BY lead_id")
    assert {r[0]: r[1:] for r in got} == EXPECTED_LEADS
    types = dict(rows(db, "SELECT column_name, data_type FROM information_schema.columns "
                          "WHERE table_name = 'leads'"))
    assert {k: types[k] for k in ("lead_id", "created_at", "converted", "converted_at", "deal_value",
                                  "number_of_page_views", "annual_revenue", "opted_in", "lead_source",
                                  "lifecycle_stage", "close_date", "employees")} == {
        "lead_id": "VARCHAR", "created_at": "TIMESTAMP", "converted": "BOOLEAN", "converted_at": "TIMESTAMP",
        "deal_value": "DOUBLE", "number_of_page_views": "BIGINT", "annual_revenue": "BIGINT",
        "opted_in": "BOOLEAN", "lead_source": "VARCHAR", "lifecycle_stage": "VARCHAR", "close_date": "TIMESTAMP",
        "employees": "BIGINT"}
    # the stage column is kept as text (placeholder -> NULL); close dates of lost deals stay in close_date
    assert rows(db, "SELECT lifecycle_stage, close_date FROM leads WHERE lead_id IN ('L02', 'L06') "
                    "ORDER BY lead_id") == [("Closed Lost", T(2024, 2, 10)), (None, None)]
    assert rows(db, "SELECT lead_source, count(*) FROM leads GROUP BY ALL ORDER BY 1 NULLS FIRST") == [
        (None, 1), ("Event", 2), ("Partner", 2), ("Web", 4), ("web", 1)]
    events = rows(db, "SELECT lead_id, event_type, occurred_at FROM events ORDER BY ALL")
    assert len(events) == 14
    assert ("L01", "Page View", T(2024, 1, 4, 10)) in events and ("L04", "Webinar", T(2024, 1, 7)) in events
    assert ("L02", "Page View", None) in events and ("L08", None, T(2024, 1, 11)) in events
    assert rows(db, "SELECT * FROM companies ORDER BY 1") == [
        ("Acme", "Software", 1200), ("Globex", "Retail", 12000), ("Initech", None, 40)]
    # original -> clean names are recorded with the data
    recorded = {(t, o): c for t, c, o in rows(db, "SELECT table_name, column_name, original_name FROM leadcal_columns")}
    assert recorded[("leads", "Contact ID")] == "lead_id"
    assert recorded[("leads", "Create Date")] == "created_at"
    assert recorded[("leads", "# of Page Views")] == "number_of_page_views"
    assert recorded[("leads", "Annual Revenue ($)")] == "annual_revenue"
    assert recorded[("leads", "LeadSource")] == "lead_source"
    assert recorded[("leads", "Deal Amount")] == "deal_value"
    assert recorded[("events", "Activity Date")] == "occurred_at"


def test_csv_and_parquet_import_the_same(crm):
    tables = {}
    for fmt in ("csv", "parquet"):
        db = crm[fmt][2]
        tables[fmt] = [rows(db, f"SELECT * FROM {t} ORDER BY ALL") for t in ("leads", "events", "companies")]
    assert tables["csv"] == tables["parquet"]
    assert load_config(crm["csv"][3]).fit == load_config(crm["parquet"][3]).fit


def test_report_of_the_import_names_outcome_and_findings(crm):
    db = crm["csv"][2]
    info = importer.last_import(db)
    report = info["report"]
    stages = {s["value"]: (s["is"], s["leads"]) for s in report["outcome"]["stages"]}
    assert stages == {"Closed Won": ("won", 3), "Closed Lost": ("lost", 4), "Negotiation": ("open", 2),
                      "(missing)": ("missing", 1)}
    assert report["outcome"]["mode"] == "states+time" and report["point_in_time"] is True
    assert (report["outcome"]["converted"], report["outcome"]["not_converted"], report["outcome"]["open"]) == (
        3, 4, 3)
    found = {(f["table"], f["column"], f["problem"].split(" (")[0]): f["count"] for f in report["findings"]}
    assert found[("leads", "created_at", "leads have no created time")] == 2
    assert found[("leads", "job_title", "placeholder values")] == 1
    assert found[("events", "occurred_at", "events have no time")] == 1
    assert found[("events", "lead_id", "events belong to no lead of the leads file")] == 1
    assert found[("leads", "company", "leads whose 'Company' has no match in companies.csv")] == 1
    unreadable = [f for f in report["findings"] if "not dates" in f["problem"]]
    assert [(f["column"], f["count"]) for f in unreadable] == [("occurred_at", 1)]
    assert "'not a date'" in unreadable[0]["problem"]
    mapping = yaml.safe_load(info["mapping_yaml"])
    assert [f["role"] for f in mapping["files"]] == ["leads", "events", "attributes"]
    assert mapping["files"][0]["outcome"] == {"column": "Lifecycle Stage", "won": ["Closed Won"],
                                             "lost": ["Closed Lost"], "date": "Close Date"}
    assert mapping["files"][2]["key"] == "Company Name" and mapping["files"][2]["joins"] == "Company"


# --------------------------------------------------------------------------- the starter config


def test_starter_config_is_built_from_the_data(crm):
    config = load_config(crm["csv"][3])
    src = config.source
    assert (src.leads.table, src.leads.id, src.leads.created_at) == ("leads", "lead_id", "created_at")
    assert (src.events.table, src.events.type, src.events.time) == ("events", "event_type", "occurred_at")
    assert (src.outcome.converted_at, src.outcome.converted, src.outcome.deal_value) == (
        "converted_at", "converted", "deal_value")  # won / lost / open and the date of each win, together
    assert src.outcome.open_lost_after_days is None  # stale open leads are never lost unless one says so
    fit = {r.column: r for r in config.fit}
    # 'Company' (a few repeated values, several leads each) is proposed as the account key, not a fit rule
    assert list(fit) == ["job_title", "annual_revenue", "opted_in", "lead_source", "industry", "employees"]
    assert src.leads.account == "company"
    assert (config.accounts.method, config.accounts.scoring_point_days) == ("max", 30)
    assert fit["job_title"].points == {"VP": 0, "Manager": 0, "Director": 0, "Analyst": 0}  # 'vp' is VP
    assert fit["lead_source"].points == {"Web": 0, "Event": 0, "Partner": 0}
    assert fit["opted_in"].points == {"true": 0, "false": 0}
    # employees per lead: 40, 40, 1200 x4, 12000 x3 -> quartiles 1200, 1200, 12000
    assert [(b.min, b.max, b.points) for b in fit["employees"].bins] == [
        (None, 1200, 0), (1200, 12000, 0), (12000, None, 0)]
    assert [(r.column, r.events, r.points) for r in config.engagement] == [
        ("number_of_page_views", [], 0), (None, ["Page View"], 0), (None, ["Demo Request"], 0),
        (None, ["Webinar"], 0)]
    assert (config.thresholds.mql, config.thresholds.sql, config.bands) == (40, 60, [20, 40, 60, 80])
    assert config.evaluation.scoring_point_days == 7
    text = crm["csv"][3].read_text()
    assert text.startswith("# Starter config generated by `leadcal import`") and "points: 0\n" in text


def test_leadcal_report_on_the_import_equals_direct_scoring(crm, capsys, tmp_path):
    folder, _, db, starter = crm["csv"]
    digest = file_digest(db)
    assert leadcal(["report", "--db", str(db), "--config", str(starter), "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    config = load_config(starter)
    with open_source(db) as source:
        expected = calibration(config, extract_features(source, config), with_revenue=True, with_accounts=True)
    assert got == json.loads(json.dumps(expected.to_dict()))
    assert got["accounts"]["accounts"] == 4 and got["revenue"]["available"] is True
    assert got["leads"] == 8  # two contacts have no creation time
    # with points set, each lead's score is the one worked out by hand from the rows
    data = yaml.safe_load(starter.read_text()) | POINTS
    cfg = tmp_path / "points.yaml"
    cfg.write_text(yaml.safe_dump(data))
    assert leadcal(["score", "--db", str(db), "--config", str(cfg), "--out", str(tmp_path / "s.csv")]) == 0
    scores = pacsv.read_csv(tmp_path / "s.csv").to_pylist()
    assert {r["lead_id"]: pytest.approx(r["score"]) for r in scores} == EXPECTED_SCORES
    assert {r["lead_id"] for r in scores if r["mature"]} == EXPECTED_MATURE
    assert {r["lead_id"] for r in scores if r["converted"]} == EXPECTED_CONVERTED
    capsys.readouterr()
    assert leadcal(["report", "--db", str(db), "--config", str(cfg), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["leads"], result["mature_leads"], result["conversions"]) == (8, 6, 2)
    assert (result["open_leads"], result["open_counted_lost"]) == (2, 0)  # L03, L09: never lost
    # mature scores: L01 46 (won), L02 9.12, L04 35.07 (won), L07 16.05, L08 30.2, L10 25.02
    bands = {b["band"]: (b["leads"], b["conversions"]) for b in result["bands"]}
    assert list(bands.values()) == [(2, 0), (3, 1), (1, 1), (0, 0), (0, 0)]
    assert file_digest(db) == digest  # reports only read


# --------------------------------------------------------------------------- flat files and outcome forms


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_flat_file_has_no_point_in_time_and_says_so(tmp_path, capsys, fmt):
    flat = write_flat(tmp_path, fmt)
    db, starter = tmp_path / "flat.duckdb", tmp_path / "flat.yaml"
    code, out, err = run(capsys, flat, "--db", db, "--starter-config", starter)
    assert code == 0, err
    assert "No creation times" in out
    assert dict(rows(db, "SELECT lead_id, converted FROM leads")) == FLAT_CONVERTED
    assert rows(db, "SELECT lead_id, job_level, country, webinars_attended, emails_opened FROM leads "
                    "ORDER BY lead_id") == [
        ("a@x.com", "VP", "US", 2, 10), ("b@x.com", "Manager", "DE", 0, 3), ("c@x.com", None, "US", 1, 0),
        ("d@x.com", "VP", "FR", 1000, 5), ("e@x.com", "Manager", "us", 3, None), ("f@x.com", None, "DE", 0, 1)]
    config = load_config(starter)
    assert config.source.leads.created_at is None and config.source.events is None
    assert (config.source.outcome.converted_at, config.source.outcome.converted) == (None, "converted")
    assert [r.column for r in config.engagement] == ["webinars_attended", "emails_opened"]
    assert {r.column: list(r.points) for r in config.fit} == {"job_level": ["Manager", "VP"],
                                                                "country": ["US", "DE", "FR"]}
    assert leadcal(["report", "--db", str(db), "--config", str(starter)]) == 0
    text = capsys.readouterr().out
    assert "no creation times" in text
    assert "4 mature (2 immature, not counted), 2 conversions" in text


@pytest.mark.parametrize("column,values", [
    ("Converted", ["1", "0", "", "0", "1", ""]),
    ("Converted", ["True", "False", "null", "FALSE", "true", "-"]),
    ("Deal Stage", ["Closed Won", "Closed Lost", "Proposal", "Lost", "Won", "Select"]),
])
def test_outcome_as_0_1_true_false_or_stage(tmp_path, capsys, column, values):
    flat = write_flat(tmp_path, "csv", outcome=values, header=FLAT_HEADER[:-1] + [column])
    db = tmp_path / "o.duckdb"
    code, out, err = run(capsys, flat, "--db", db)
    assert code == 0, err
    assert dict(rows(db, "SELECT lead_id, converted FROM leads")) == FLAT_CONVERTED  # open stays NULL
    report = importer.last_import(db)["report"]["outcome"]
    assert (report["converted"], report["not_converted"], report["open"]) == (2, 2, 2)
    if column == "Deal Stage":
        assert {s["value"]: s["is"] for s in report["stages"]} == {
            "Closed Won": "won", "Won": "won", "Closed Lost": "lost", "Lost": "lost", "Proposal": "open",
            "(missing)": "missing"}


def test_dates_in_several_formats(tmp_path, capsys):
    header = ["id", "signup date", "eu date", "converted"]
    data = [["1", "2024-03-01T10:00:00+02:00", "13/04/2024", "yes"],
            ["2", "3/4/24", "01/02/2024 09:05", "no"],
            ["3", "March 5, 2024", "31.12.2023", "no"],
            ["4", "2024-03-06 07:08:09", "", "yes"]]
    path = write_table(tmp_path / "dates.csv", header, data, "csv")
    db = tmp_path / "d.duckdb"
    code, _, err = run(capsys, path, "--db", db, "--created", "signup date")
    assert code == 0, err
    assert rows(db, "SELECT created_at, eu_date FROM leads ORDER BY lead_id") == [
        (T(2024, 3, 1, 8), T(2024, 4, 13)),       # offset converted to UTC; day first (13 cannot be a month)
        (T(2024, 3, 4), T(2024, 2, 1, 9, 5)),     # two-digit year
        (T(2024, 3, 5), T(2023, 12, 31)),
        (T(2024, 3, 6, 7, 8, 9), None)]


def test_typed_parquet_and_other_csv_dialects(tmp_path, capsys):
    """Parquet with real types (a float id, timestamps, booleans); a ';' CSV with a BOM; a Latin-1 CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    typed = tmp_path / "typed.parquet"
    pq.write_table(pa.table({
        "LeadId": pa.array([1.0, 2.0, 3.0, 4.0]), "Created": [T(2024, 1, 1), T(2024, 1, 2), None, T(2024, 1, 3)],
        "IsWon": [True, False, None, False], "Employees": pa.array([10, 200, None, 5000], pa.int32()),
        "Page Views": pa.array([3, 0, 5, 1], pa.int64())}), typed)
    db = tmp_path / "typed.duckdb"
    assert run(capsys, typed, "--db", db)[0] == 0
    assert rows(db, "SELECT lead_id, created_at, converted, employees, page_views FROM leads ORDER BY lead_id") == [
        ("1", T(2024, 1, 1), True, 10, 3), ("2", T(2024, 1, 2), False, 200, 0), ("3", None, None, None, 5),
        ("4", T(2024, 1, 3), False, 5000, 1)]
    semi = tmp_path / "semi.csv"
    semi.write_bytes("\ufeffLead Id;Signup;Won\n1;2024-01-01;Yes\n2;2024-01-02;No\n3;;No\n".encode())
    latin = tmp_path / "latin.csv"
    latin.write_bytes("Id,Ville,Converted\n1,Montréal,1\n2,Québec,0\n3,Laval,0\n".encode("latin-1"))
    for path, sql, expected in (
            (semi, "SELECT lead_id, created_at, converted FROM leads ORDER BY 1",
             [("1", T(2024, 1, 1), True), ("2", T(2024, 1, 2), False), ("3", None, False)]),
            (latin, "SELECT lead_id, ville, converted FROM leads ORDER BY 1",
             [("1", "Montréal", True), ("2", "Québec", False), ("3", "Laval", False)])):
        db = tmp_path / f"{path.stem}.duckdb"
        code, _, err = run(capsys, path, "--db", db)
        assert code == 0, err
        assert rows(db, sql) == expected


# --------------------------------------------------------------------------- mapping: proposal, flags, YAML


def test_dry_run_writes_nothing_and_mapping_yaml_round_trips(tmp_path, capsys):
    files = write_crm(tmp_path / "in", "csv")
    db, mapping = tmp_path / "crm.duckdb", tmp_path / "mapping.yaml"
    code, out, err = run(capsys, *files, "--db", db, "--dry-run", "--save-mapping", mapping)
    assert code == 0, err
    assert not db.exists() and leftovers(tmp_path) == []
    assert "Contact ID" in out and "number_of_page_views" in out and "integer" in out
    data = yaml.safe_load(mapping.read_text())
    assert data["files"][0]["file"] == "in/contacts.csv"  # relative to the mapping file
    data["files"][0]["outcome"]["won"] = ["Closed Won", "Negotiation"]  # an edit: negotiation counts as won
    data["files"][0]["fit"] = ["Job Title"]
    mapping.write_text(yaml.safe_dump(data))
    code, out, err = run(capsys, "--mapping", mapping, "--db", db)
    assert code == 0, err
    assert rows(db, "SELECT count(*) FROM leads WHERE converted") == [(5,)]
    assert yaml.safe_load(importer.last_import(db)["mapping_yaml"])["files"][0]["fit"] == ["Job Title"]


def test_flags_edit_the_proposal(tmp_path, capsys):
    files = write_crm(tmp_path, "csv")
    db, starter = tmp_path / "crm.duckdb", tmp_path / "s.yaml"
    code, out, err = run(capsys, files[0], "--db", db, "--starter-config", starter, "--outcome", "Opted In?",
                         "--converted-date", "none", "--created", "none", "--fit", "LeadSource", "--activity",
                         "# of Page Views", "--deal-value", "none")
    assert code == 0, err
    assert dict(rows(db, "SELECT lead_id, converted FROM leads")) == {
        k: v[4] for k, v in EXPECTED_LEADS.items()}
    config = load_config(starter)
    assert [r.column for r in config.fit] == ["lead_source"] and config.source.leads.created_at is None
    assert config.source.outcome.deal_value is None


# --------------------------------------------------------------------------- errors: named, exit 1, nothing written


def _garbage(path: Path) -> Path:
    path.write_bytes(b"PAR1 this is not really parquet")
    return path


ERRORS = {
    "missing file": (lambda d, f: [d / "nope.csv"], ["nope.csv", "file not found"]),
    "unreadable file": (lambda d, f: [_garbage(d / "broken.parquet")], ["broken.parquet", "not a readable Parquet"]),
    "no outcome": (lambda d, f: [write_table(d / "plain.csv", ["Lead ID", "Title"], [["1", "VP"], ["2", "CEO"]],
                                             "csv")], ["plain.csv", "no column could be the outcome", "'Title'"]),
    "one class": (lambda d, f: [write_flat(d, "csv", outcome=["Yes"] * 6)],
                  ["flat.csv", "'Converted'", "one class only: 6 converted, 0 lost"]),
    "id not unique": (lambda d, f: [write_table(d / "dup.csv", ["Lead ID", "Converted"],
                                                [["7", "yes"], ["8", "no"], ["7", "no"]], "csv")],
                      ["dup.csv", "'Lead ID'", "not unique", "'7' (2 rows)"]),
    "mapping column missing": (lambda d, f: [*f, "--outcome", "Stagee"], ["contacts.csv", "'Stagee'", "outcome"]),
    "fit column missing": (lambda d, f: [*f, "--fit", "Job Tittle"], ["contacts.csv", "'Job Tittle'", "fit"]),
    "attribute key not unique": (
        lambda d, f: [f[0], write_table(d / "firms.csv", ["Company Name", "Industry"],
                                        [["Acme", "Software"], ["acme ", "Retail"], ["Globex", "Retail"]], "csv"),
                      "--role", "firms.csv=attributes"],
        ["firms.csv", "'Company Name'", "not unique", "one row per key"]),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_name_file_and_column_and_leave_the_target_untouched(crm, tmp_path, capsys, case):
    good = write_crm(tmp_path / "good", "csv")
    db = tmp_path / "target.duckdb"
    shutil.copyfile(crm["csv"][2], db)  # an earlier, successful import
    digest = file_digest(db)
    args, words = ERRORS[case]
    bad = tmp_path / "bad"
    bad.mkdir()
    code, out, err = run(capsys, *args(bad, good), "--db", db)
    assert code == 1
    assert err.startswith("error: ") and "Traceback" not in err
    for word in words:
        assert word in err, (word, err)
    assert file_digest(db) == digest
    assert leftovers(tmp_path) == []
    # and into a new target: nothing at all is created
    fresh = tmp_path / "fresh.duckdb"
    assert run(capsys, *args(bad, good), "--db", fresh)[0] == 1
    assert not fresh.exists() and leftovers(tmp_path) == []


def test_a_failure_late_in_the_import_leaves_the_target_as_it_was(tmp_path, monkeypatch):
    files = write_crm(tmp_path, "csv")
    db = tmp_path / "crm.duckdb"
    run_import(files, db)
    digest = file_digest(db)

    def broken(*a, **k):
        raise importer.DataImportError("starter config", ["disk full (simulated)"])

    monkeypatch.setattr(importer, "starter_config", broken)
    with pytest.raises(importer.DataImportError, match="disk full"):
        run_import(files, db)
    assert file_digest(db) == digest and leftovers(tmp_path) == []


def test_reimport_replaces_its_own_tables_and_never_touches_others(tmp_path, capsys):
    files = write_crm(tmp_path, "csv")
    db = tmp_path / "crm.duckdb"
    run_import(files, db)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE my_notes AS SELECT 1 AS x")
    con.close()
    result = run_import(files[:2], db)  # again, without the companies file
    assert "companies" in " ".join(result.report["notes"])  # dropped: this import does not make it
    tables = {r[0] for r in rows(db, "SELECT table_name FROM information_schema.tables")}
    assert tables == {"leads", "events", "my_notes", "leadcal_import", "leadcal_columns"}
    assert rows(db, "SELECT count(*), max(import_id) FROM leadcal_import") == [(2, 2)]
    assert rows(db, "SELECT * FROM my_notes") == [(1,)]
    theirs = tmp_path / "theirs.duckdb"  # e.g. the demo database: its tables were not made by an import
    con = duckdb.connect(str(theirs))
    con.execute("CREATE TABLE leads AS SELECT 1 AS lead_id")
    con.close()
    digest = file_digest(theirs)
    code, out, err = run(capsys, *files, "--db", theirs)
    assert code == 1 and "table 'leads' exists and was not made by leadcal import" in err
    assert file_digest(theirs) == digest


def test_target_is_never_an_input(tmp_path, capsys):
    flat = write_flat(tmp_path, "parquet")
    digest = file_digest(flat)
    code, out, err = run(capsys, flat, "--db", flat)
    assert code == 1 and "is one of the input files" in err and file_digest(flat) == digest


# --------------------------------------------------------------------------- the store and the app


def test_starter_saved_to_the_store_is_the_models_starting_point(tmp_path):
    files = write_crm(tmp_path, "csv")
    result = run_import(files, tmp_path / "crm.duckdb", model="crm")
    store = ConfigStore(tmp_path / "store")
    version, seed = save_starter(store, "crm", result.config)
    assert version.ref == "crm@1" and store.load("crm", 1) == result.config
    assert seed == tmp_path / "store" / "crm.yaml"
    assert store.approved_config("crm").source == result.config.source  # the app compares with it
    again, seed = save_starter(store, "crm", result.config)
    assert again.ref == "crm@2" and seed is None  # the starting point is never overwritten


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """LEADCAL_DB = an imported CRM database whose starter config is the store's default model."""
    files = write_crm(tmp_path / "crm", "csv")
    db = tmp_path / "crm.duckdb"
    result = run_import(files, db, model="default")
    store = tmp_path / "store"
    store.mkdir()
    (store / "default.yaml").write_text(result.config_yaml)
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(store))
    monkeypatch.setenv("LEADCAL_DATA", str(tmp_path / "data"))  # leadcal's own folder: imports go there
    monkeypatch.setenv("LEADCAL_DATA_DIRS", str(tmp_path / "upload"))  # exports the browser may pick
    return tmp_path, db


def test_calibrate_page_opens_on_the_imported_data(app_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any(m.label == "AUC" for m in shown_kpis(at))
    assert any("8** leads, **6** mature" in m.value for m in at.sidebar.markdown)


def test_import_page_previews_imports_and_saves_the_starter(app_env):
    from streamlit.testing.v1 import AppTest

    tmp_path, _ = app_env
    flat = write_flat(tmp_path / "upload", "csv")
    at = AppTest.from_file(str(ROOT / "pages" / "import_data.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    next(m for m in at.multiselect if m.key == "import_picks").set_value([os.path.realpath(flat)])
    at.run()
    assert not at.exception, at.exception
    columns = next(d.value for d in at.dataframe if "clean name" in d.value.columns)  # tables carry no key
    assert columns["clean name"].tolist() == ["email", "job_level", "country", "webinars_attended",
                                              "emails_opened", "converted"]
    assert any("no creation times" in i.value.lower() for i in at.info)
    target = tmp_path / "data" / "mine.duckdb"  # a name, written to leadcal's data folder only
    next(t for t in at.text_input if t.key == "import_db").input("mine")
    at.run()
    next(b for b in at.button if b.key == "import_run").click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Imported into" in s.value for s in at.success)
    assert dict(rows(target, "SELECT lead_id, converted FROM leads")) == FLAT_CONVERTED
    next(b for b in at.button if b.key == "starter_save").click()
    at.run()
    assert not at.exception, at.exception
    store = ConfigStore(tmp_path / "store")
    assert store.models() == ["mine"] and store.load("mine").source.leads.created_at is None
    assert any(b.key == "open_calibrate" for b in at.button)
