"""The store keeps its promises: approvals bind to content, one bad file does not take the
store down, the approval policy holds, exports never overwrite, and `configs check` says
when something is wrong."""

from __future__ import annotations

import datetime as dt
import json
import os

import pyarrow.csv as pacsv
import pytest
import yaml

from scoring.cli import main
from scoring.model.config import config_from_dict
from scoring.registry.store import ConfigStore, SignOff, StoreError, tree_digest

from .conftest import DAY, SMALL_CONFIG, T0, make_db

SALES, MARKETING = SignOff("Sam Sales", "sales"), SignOff("Mia Marketing", "marketing")


def _config(mql: float = 10):
    data = yaml.safe_load(SMALL_CONFIG)
    data["thresholds"]["mql"] = mql
    return config_from_dict(data)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(tmp_path):
    return ConfigStore(tmp_path / "store")


def _writable(path):
    os.chmod(path, 0o644)
    return path


# ---------------------------------------------------------------- approvals bind to content


def test_an_approval_records_the_version_files_hash(store):
    import hashlib

    v = store.save("m", _config())
    record = store.approve("m", 1, [SALES, MARKETING], "ok")
    assert record["version_sha256"] == hashlib.sha256(v.path.read_bytes()).hexdigest()
    assert store.approval_state("m", 1).status == "approved" and store.status("m", 1) == "champion"


def test_a_version_edited_after_approval_is_tampered_never_approved(store, capsys):
    store.save("m", _config(10))
    store.save("m", _config(12))
    store.approve("m", 1, [SALES, MARKETING], "ok")
    store.approve("m", 2, [SALES, MARKETING], "ok")
    path = _writable(store.get("m", 2).path)
    path.write_text(path.read_text().replace("mql: 12", "mql: 5"))
    assert store.status("m", 2) == "tampered"
    assert store.approval("m", 2) is None
    assert store.champion("m").version == 1  # the tampered version is never the champion
    assert store.approved_config("m").thresholds.mql == 10
    with pytest.raises(StoreError, match="changed after it was approved"):
        store.check_approvable("m", 2, [SALES, MARKETING], "again")
    code, out, err = _run(capsys, "configs", "show", "m@2", "--store", store.root)
    assert code == 0 and "(tampered)" in out and "# NOT APPROVED: models/m/v0002.yaml: changed after" in out
    code, out, err = _run(capsys, "configs", "list", "--store", store.root)
    assert [line.split()[:2] for line in out.splitlines()[1:]] == [["m@1", "champion"], ["m@2", "tampered"]]
    code, out, err = _run(capsys, "configs", "check", "--store", store.root)
    assert code == 1 and "problem: models/m/v0002.yaml: changed after it was approved" in out


def test_an_approval_is_refused_when_the_file_changed_since_its_result_was_computed(store):
    store.save("m", _config())
    seen = store.read_version("m", 1)
    path = _writable(store.get("m", 1).path)
    path.write_text(path.read_text().replace("mql: 10", "mql: 9"))
    before = tree_digest(store.root)
    with pytest.raises(StoreError, match="changed on disk after its result was computed"):
        store.approve("m", 1, [SALES, MARKETING], "ok", version_sha256=seen.sha256)
    assert tree_digest(store.root) == before


# ---------------------------------------------------------------- one bad file


@pytest.mark.parametrize("text, message", [
    ("config: {}\n", "models/m/v0002.yaml: not a leadcal version: missing 'version'"),
    ("version: {name: m, version: 2}\n", "models/m/v0002.yaml: not a leadcal version: missing 'config'"),
    ("{{{ not yaml", "models/m/v0002.yaml: not a leadcal version: line"),
    ("- a list\n", "models/m/v0002.yaml: not a leadcal version: expected keys"),
    ("version: {name: m, version: 7}\nconfig: {}\n", "it says it is 'm'@7, not m@2"),
    ("\udcff", "not UTF-8"),
])
def test_one_bad_version_file_is_named_and_the_rest_stays_usable(store, capsys, text, message):
    store.save("m", _config(10))
    store.save("m", _config(11))
    store.save("m", _config(12))
    path = _writable(store.get("m", 2).path)
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert [v.version for v in store.versions("m")] == [1, 3]
    assert store.load("m", 3).thresholds.mql == 12
    with pytest.raises(StoreError) as info:
        store.load("m", 2)
    assert message in str(info.value)
    code, out, err = _run(capsys, "configs", "list", "--store", store.root)
    assert code == 1 and "m@1" in out and "m@3" in out
    assert message in err and "Traceback" not in err
    code, out, err = _run(capsys, "configs", "show", "m@3", "--store", store.root)
    assert code == 0 and "mql: 12" in out
    assert store.save("m", _config(13)).version == 4  # the bad file keeps its number
    code, out, err = _run(capsys, "configs", "check", "--store", store.root)
    assert code == 1 and message in out


def test_a_corrupt_approval_file_is_reported_not_trusted(store, capsys):
    store.save("m", _config())
    store.approve("m", 1, [SALES, MARKETING], "ok")
    path = _writable(store.root / "models" / "m" / "v0001.approval.json")
    path.write_text("{ not json")
    assert store.status("m", 1) == "unreadable" and store.champion("m") is None
    code, out, err = _run(capsys, "configs", "list", "--store", store.root)
    assert code == 0 and "unreadable" in out
    code, out, err = _run(capsys, "configs", "check", "--store", store.root)
    assert code == 1 and "models/m/v0001.approval.json: not a leadcal approval: not JSON" in out


def test_check_passes_on_a_sound_store_and_finds_missing_audit_lines(store, capsys):
    store.save("m", _config())
    store.approve("m", 1, [SALES, MARKETING], "ok")
    code, out, err = _run(capsys, "configs", "check", "--store", store.root)
    assert code == 0 and out.strip().endswith("ok (1 model(s), 1 readable version(s), 1 approval(s), "
                                              "2 audit line(s))")
    audit = store.root / "audit.jsonl"
    audit.write_text(audit.read_text().splitlines()[1] + "\n")  # the save line lost
    code, out, err = _run(capsys, "configs", "check", "--store", store.root)
    assert code == 1 and "problem: models/m/v0001.yaml: no 'save' line in audit.jsonl" in out


# ---------------------------------------------------------------- approval policy


def test_one_person_cannot_sign_for_two_roles(store):
    store.save("m", _config())
    before = tree_digest(store.root)
    for people in ([SignOff("Ann Lee", "sales"), SignOff("Ann Lee", "marketing")],
                   [SignOff("Ann  Lee", "sales"), SignOff("ann lee", "marketing")]):
        with pytest.raises(StoreError, match="signs more than once .* each required role needs a different person"):
            store.approve("m", 1, people, "ok")
    with pytest.raises(StoreError, match="listed twice for sales"):
        store.approve("m", 1, [SALES, SALES, MARKETING], "ok")
    assert tree_digest(store.root) == before


@pytest.mark.parametrize("settings, message", [
    ("required_roles: []\n", "required_roles: List should have at least 1 item"),
    ("required_role: [sales, legal]\n", "required_role: unknown key"),
    ("required_roles: [sales]\nrequired_roles: [legal]\n", "key 'required_roles' appears twice"),
    ("required_roles: [sales, Sales]\n", "a role is listed twice"),
    ("required_roles: sales\n", "required_roles: Input should be a valid list"),
    ("required_roles: [sales, yes]\n", "expected text, got true"),
    ('required_roles: ["sales\\n"]\n', "is not a role name"),
    ("- sales\n", "expected keys and values"),
])
def test_store_settings_are_validated_like_a_config(store, settings, message):
    store.save("m", _config())
    (store.root / "store.yaml").write_text(settings)
    before = tree_digest(store.root)
    with pytest.raises(StoreError) as info:
        store.approve("m", 1, [SALES, MARKETING, SignOff("Lee", "legal")], "ok")
    assert str(info.value).startswith(f"{store.root / 'store.yaml'}: ") and message in str(info.value)
    assert tree_digest(store.root) == before


def test_a_required_role_in_store_yaml_is_required(store):
    store.save("m", _config())
    (store.root / "store.yaml").write_text("required_roles: [sales, legal]\n")
    with pytest.raises(StoreError, match="missing sign-off from: legal"):
        store.approve("m", 1, [SALES, MARKETING], "ok")
    store.approve("m", 1, [SALES, SignOff("Lee", "legal")], "ok")


# ---------------------------------------------------------------- approve computes and validates first


def _mature_db(path, converted: str):
    """Six mature leads: every one converted ('all'), none ('none'), or every creation time NULL ('null')."""
    leads = [(i, None if converted == "null" else T0 + i * DAY, "VP", 10, "x") for i in range(1, 7)]
    if converted != "null":
        leads.append((99, T0 + 200 * DAY, "VP", 10, "x"))  # moves the data's end: the six are mature
    outcomes = [(i, T0 + (i + 2) * DAY, 1.0) for i in range(1, 7)] if converted == "all" else []
    return make_db(path, leads, [], outcomes)


@pytest.mark.parametrize("kind", ["all", "none", "null"])
def test_approve_on_one_class_or_no_times_never_leaves_a_half_approval(capsys, tmp_path, kind):
    store, cfg = tmp_path / "store", tmp_path / "c.yaml"
    cfg.write_text(SMALL_CONFIG)
    db = _mature_db(tmp_path / f"{kind}.duckdb", kind)
    assert _run(capsys, "configs", "save", "m", "--file", cfg, "--store", store)[0] == 0
    before = tree_digest(store)
    code, out, err = _run(capsys, "configs", "approve", "m@1", "--signoff", "A:sales", "--signoff", "B:marketing",
                          "--rationale", "ok", "--db", db, "--store", store)
    assert "Traceback" not in err
    approvals = [e for e in ConfigStore(store).audit() if e["action"] == "approve"]
    if kind == "null":
        assert code == 1 and err.startswith(f"error: {db}") and "creation time" in err
        assert tree_digest(store) == before and not approvals
    else:
        word = "converted" if kind == "all" else "did not convert"
        assert code == 0 and f"AUC not computable (every mature lead {word}) on 7 leads (6 mature)" in out
        assert ConfigStore(store).status("m", 1) == "champion" and len(approvals) == 1


# ---------------------------------------------------------------- exports never overwrite


@pytest.fixture
def exported(capsys, tmp_path, small_db):
    store, cfg = tmp_path / "store", tmp_path / "c.yaml"
    cfg.write_text(SMALL_CONFIG)
    assert _run(capsys, "configs", "save", "m", "--file", cfg, "--store", store)[0] == 0
    assert _run(capsys, "configs", "approve", "m@1", "--signoff", "A:sales", "--signoff", "B:marketing",
                "--rationale", "ok", "--db", small_db, "--store", store)[0] == 0
    return store, small_db


@pytest.mark.parametrize("target", ["models/m/v0001.yaml", "models/m/v0001.approval.json", "audit.jsonl",
                                    "store.yaml", "models/m/new.sql", "default.yaml"])
@pytest.mark.parametrize("force", [False, True])
def test_an_export_never_writes_inside_the_store(capsys, tmp_path, exported, target, force):
    store, db = exported
    before = tree_digest(tmp_path)
    argv = ["configs", "export", "m", "--version", "1", "--format", "sql", "--out", store / target,
            "--store", store] + (["--force"] if force else [])
    code, out, err = _run(capsys, *argv)
    assert code == 1 and "is inside the config store" in err and "Traceback" not in err
    assert tree_digest(tmp_path) == before


def test_an_export_never_writes_over_a_database_even_with_force(capsys, tmp_path, exported):
    store, db = exported
    other = make_db(tmp_path / "other.db", [(1, T0, "VP", 1, "x")])  # a DuckDB file under any name
    before = tree_digest(tmp_path)
    for out in (db, other):
        code, out_text, err = _run(capsys, "configs", "export", "m", "--format", "yaml", "--out", out, "--force",
                                   "--store", store)
        assert code == 1 and "is a DuckDB database; leadcal never writes to it" in err
    assert tree_digest(tmp_path) == before


def test_an_export_writes_only_new_files_unless_forced(capsys, tmp_path, exported):
    store, db = exported
    out = tmp_path / "mine.sql"
    out.write_text("my own file")
    before = tree_digest(tmp_path)
    code, _, err = _run(capsys, "configs", "export", "m", "--format", "sql", "--out", out, "--store", store)
    assert code == 1 and "already exists; choose another name (or --force to replace it)" in err
    assert tree_digest(tmp_path) == before
    code, _, err = _run(capsys, "configs", "export", "m", "--format", "sql", "--out", out, "--force",
                        "--store", store)
    assert code == 0 and out.read_text().startswith(("--", "WITH", "SELECT", "with", "select"))
    assert ConfigStore(store).audit()[-1]["out"] == str(out.resolve())


def test_an_export_with_a_read_only_audit_trail_writes_nothing(capsys, tmp_path, exported):
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only files")
    store, db = exported
    os.chmod(store / "audit.jsonl", 0o444)
    before = tree_digest(tmp_path)
    code, _, err = _run(capsys, "configs", "export", "m", "--format", "sql", "--out", tmp_path / "x.sql",
                        "--store", store)
    assert code == 1 and "cannot append to the audit trail" in err
    assert tree_digest(tmp_path) == before and not (tmp_path / "x.sql").exists()


def test_an_export_with_an_unwritable_audit_trail_writes_nothing(capsys, tmp_path, exported):
    """As the read-only case, for root too: the audit trail is a directory, so it cannot be opened."""
    store, db = exported
    audit = store / "audit.jsonl"
    audit.rename(store / "audit.old")
    audit.mkdir()
    before = tree_digest(tmp_path)
    code, _, err = _run(capsys, "configs", "export", "m", "--format", "sql", "--out", tmp_path / "x.sql",
                        "--store", store)
    assert code == 1 and "cannot append to the audit trail" in err
    assert tree_digest(tmp_path) == before and not (tmp_path / "x.sql").exists()


# ---------------------------------------------------------------- score --out


def _formula_db(path):
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE leads (lead_id VARCHAR, created_at TIMESTAMP, seniority VARCHAR, "
                "company_size INTEGER, email_domain_type VARCHAR)")
    con.execute("CREATE TABLE outcomes (lead_id VARCHAR, converted_at TIMESTAMP, deal_value DOUBLE)")
    ids = ['=HYPERLINK("http://x.example","click")', "+1+2", "-3", "@SUM(A1)", "\tx", "plain-id", "-cmd|' /C calc'!A0"]
    con.executemany("INSERT INTO leads VALUES (?, ?, 'VP', 10, 'x')",
                    [(i, T0 + n * DAY) for n, i in enumerate(ids)])
    con.close()
    return path, ids


FORMULA_CONFIG = SMALL_CONFIG.replace("  events: {}\n", "").replace(
    "engagement:\n  - {event: demo_request, points: 20, cap: 30}\n  - {event: [email_open, EMAIL_CLICK], points: 1}\n",
    "")


def test_score_csv_escapes_formula_cells_unless_asked_not_to(capsys, tmp_path):
    db, ids = _formula_db(tmp_path / "f.duckdb")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(FORMULA_CONFIG)
    out = tmp_path / "scores.csv"
    code, _, err = _run(capsys, "score", "--db", db, "--config", cfg, "--out", out)
    assert code == 0, err
    got = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(
        column_types={"lead_id": "string"})).column("lead_id").to_pylist()
    expected = ["'" + i if i[0] in "=+@\t" or i.startswith("-c") else i for i in ids]
    assert got == expected  # "-3" is a number, not a formula: left as it is
    raw = tmp_path / "raw.csv"
    code, _, err = _run(capsys, "score", "--db", db, "--config", cfg, "--out", raw, "--no-escape-formulas")
    assert code == 0, err
    assert pacsv.read_csv(raw, convert_options=pacsv.ConvertOptions(
        column_types={"lead_id": "string"})).column("lead_id").to_pylist() == ids


def test_score_out_is_a_new_file_unless_forced(capsys, tmp_path, small_db):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMALL_CONFIG)
    out = tmp_path / "scores.csv"
    out.write_text("keep me")
    code, _, err = _run(capsys, "score", "--db", small_db, "--config", cfg, "--out", out)
    assert code == 1 and "already exists" in err and out.read_text() == "keep me"
    code, _, err = _run(capsys, "score", "--db", small_db, "--config", cfg, "--out", out, "--force")
    assert code == 0 and out.read_text().startswith('"lead_id"')
    other = make_db(tmp_path / "db.csv", [(1, T0, "VP", 1, "x")])  # a database named .csv
    before = other.read_bytes()
    code, _, err = _run(capsys, "score", "--db", small_db, "--config", cfg, "--out", other, "--force")
    assert code == 1 and "DuckDB database" in err and other.read_bytes() == before


def test_audit_lines_carry_ids_and_hashes(store):
    v = store.save("m", _config())
    entry = store.audit()[0]
    import hashlib

    assert entry["sha256"] == hashlib.sha256(v.path.read_bytes()).hexdigest()
    assert len(entry["id"]) == 32 and dt.datetime.fromisoformat(entry["at"])
    assert json.loads((store.root / "audit.jsonl").read_text().splitlines()[0]) == entry


def test_the_configs_page_shows_a_tampered_version_as_tampered(tmp_path, monkeypatch):
    """The app reads the same store state: the version is 'tampered', no 'Approved' caption, not a draft to approve."""
    from streamlit.testing.v1 import AppTest

    from scoring.data.demo import generate
    from scoring.model.config import load_config

    from .conftest import DEFAULT_CONFIG, ROOT

    db = tmp_path / "demo.duckdb"
    generate(db, leads=2_000, seed=5)
    store = ConfigStore(tmp_path / "store")
    store.save("default", load_config(DEFAULT_CONFIG))
    store.approve("default", 1, [SALES, MARKETING], "ok")
    path = _writable(store.get("default", 1).path)
    path.write_text(path.read_text().replace("mql: 40", "mql: 41"))
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(store.root))
    at = AppTest.from_file(str(ROOT / "pages" / "configs.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    versions = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert versions.set_index("version").loc["default@1", "status"] == "tampered"
    captions = [c.value for c in at.caption]
    assert not [c for c in captions if c.startswith("Approved 20")]  # no "Approved <date> by ..." of the version
    assert any(c.startswith("Approved model: **shipped default**") for c in captions)  # not the champion
    assert not [s for s in at.selectbox if s.key == "approve_ref"]  # nothing offered for approval
