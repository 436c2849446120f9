"""`leadcal abtest`: plan (signed off, recorded once), show, readout and the routing SQL, on the
demo with a known effect; every refusal is one line and leaves the store and the database as they were."""

from __future__ import annotations

import json
import os
import stat

import pytest

from scoring.cli import main
from scoring.registry.store import ConfigStore, tree_digest

from .conftest import DEFAULT_CONFIG, file_digest

SIGN = ["--signoff", "Ann Lee:sales", "--signoff", "Bo Mark:marketing", "--rationale", "lower MQL line"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from scoring.data.demo import generate

    path = tmp_path_factory.mktemp("abtest-cli") / "demo.duckdb"
    generate(path, leads=20_000, seed=7, test_effect=0.8)
    return path


@pytest.fixture
def store(tmp_path, demo, capsys):
    root = tmp_path / "store"
    champ = tmp_path / "champ.yaml"
    champ.write_text(open(DEFAULT_CONFIG).read())
    chal = tmp_path / "chal.yaml"
    chal.write_text(champ.read_text().replace("thresholds: {mql: 40, sql: 60}", "thresholds: {mql: 35, sql: 60}"))
    assert "mql: 35" in chal.read_text()
    for argv in (["configs", "save", "default", "--file", champ], ["configs", "save", "default", "--file", chal]):
        assert _run(capsys, *argv, "--store", root)[0] == 0
    assert _run(capsys, "configs", "approve", "default@1", *SIGN[:4], "--rationale", "ok", "--db", demo,
                "--store", root)[0] == 0
    return root


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _plan(capsys, store, demo, *extra, test="spring"):
    return _run(capsys, "abtest", "plan", test, "--champion", "default", "--challenger", "default@2",
                "--metric", "mql_conversion", "--min-effect", "0.1", "--salt", "demo-test", "--start", "2025-10-01",
                "--db", demo, "--store", store, *extra)


def test_plan_record_show_readout_and_sql(capsys, store, demo, tmp_path):
    before_db = file_digest(demo)
    before = tree_digest(store)
    code, out, err = _plan(capsys, store, demo, "--dry-run")
    assert code == 0 and "dry run: nothing recorded" in out and "MQLs on the champion" in out
    assert tree_digest(store) == before

    code, out, err = _plan(capsys, store, demo, *SIGN)
    assert code == 0, err
    assert "recorded test spring" in out
    path = store / "abtests" / "spring.json"
    record = json.loads(path.read_text())
    assert record["plan"]["champion"] == "default@1" and record["plan"]["challenger"] == "default@2"
    assert {s["role"] for s in record["signoffs"]} == {"sales", "marketing"}
    assert not os.stat(path).st_mode & stat.S_IWUSR  # final: written read-only
    audit = [json.loads(line) for line in (store / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["action"] == "abtest" and audit[-1]["test"] == "spring"
    from scoring.registry.audit import audit_rows

    row = audit_rows(audit)[0]
    assert (row.action, row.version) == ("abtest", "default@1")
    assert row.details == "test spring: champion vs challenger default@2, signed by Ann Lee (sales), Bo Mark (marketing)"
    assert ConfigStore(store).verify().ok

    again = tree_digest(store)
    code, _, err = _plan(capsys, store, demo, *SIGN)
    assert code == 1 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert tree_digest(store) == again

    code, out, _ = _run(capsys, "abtest", "show", "spring", "--store", store)
    assert code == 0 and "signed off by Ann Lee (sales), Bo Mark (marketing)" in out
    code, out, _ = _run(capsys, "abtest", "show", "spring", "--format", "json", "--store", store)
    assert json.loads(out) == record

    code, out, err = _run(capsys, "abtest", "readout", "spring", "--db", demo, "--store", store)
    assert code == 0, err
    assert "verdict: challenger better" in out and "never counted" in out
    code, out, _ = _run(capsys, "abtest", "readout", "spring", "--db", demo, "--format", "json", "--store", store)
    result = json.loads(out)
    assert result["verdict"]["verdict"] == "challenger better" and result["sample_reached"]
    assert result["difference"]["ci_low"] > 0 and not result["sample_ratio"]["mismatch"]
    assert result["challenger"]["units"] >= result["challenger"]["planned_units"]

    out_file = tmp_path / "routing.sql"
    code, out, err = _run(capsys, "abtest", "sql", "spring", "--dialect", "postgres", "--out", out_file,
                          "--store", store)
    assert code == 0, err
    assert "md5('demo-test:' || lead_id as text)" in out_file.read_text() and "'80000000'" in out_file.read_text()
    code, printed, _ = _run(capsys, "abtest", "sql", "spring", "--dialect", "postgres", "--store", store)
    assert printed == out_file.read_text()
    assert json.loads((store / "audit.jsonl").read_text().splitlines()[-1])["action"] == "export"
    assert file_digest(demo) == before_db  # the user's database is never written to


@pytest.mark.parametrize("argv,message", [
    (["--champion", "default@2"], "champion default@2 is not approved"),
    (["--challenger", "other@1"], "challenger other@1: no model named 'other'"),
    (["--challenger", "default@1"], "is the champion itself"),
    (["--signoff", "Ann Lee:sales"], "missing sign-off from: marketing"),
    (["--min-effect", "0.9"], "not a rate between 0 and 1"),
    (["--share", "1.5"], "between 0 and 1"),
    (["--salt", "x y"], "test salt"),
])
def test_bad_plans_are_one_line_and_record_nothing(capsys, store, demo, argv, message):
    base = {"--champion": "default", "--challenger": "default@2", "--metric": "mql_conversion",
            "--min-effect": "0.1", "--share": "0.5", "--salt": "demo-test", "--start": "2025-10-01",
            "--signoff": None, "--rationale": "why"}
    args = ["abtest", "plan", "t"]
    given = dict(zip(argv[::2], argv[1::2]))
    for key, value in base.items():
        if key == "--signoff":
            continue
        args += [key, given.get(key, value)]
    args += (["--signoff", given["--signoff"]] if "--signoff" in given
             else ["--signoff", "Ann Lee:sales", "--signoff", "Bo Mark:marketing"])
    before = tree_digest(store)
    code, out, err = _run(capsys, *args, "--db", demo, "--store", store)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and tree_digest(store) == before


def test_unknown_test_and_a_changed_version_are_refused(capsys, store, demo):
    code, _, err = _run(capsys, "abtest", "readout", "nope", "--db", demo, "--store", store)
    assert code == 1 and "no test named 'nope'" in err and len(err.strip().splitlines()) == 1
    assert _plan(capsys, store, demo, *SIGN)[0] == 0
    chal = store / "models" / "default" / "v0002.yaml"
    os.chmod(chal, 0o644)
    chal.write_text(chal.read_text().replace("mql: 35", "mql: 30"))
    code, _, err = _run(capsys, "abtest", "readout", "spring", "--db", demo, "--store", store)
    assert code == 1 and "the challenger default@2 changed or is gone since the plan was signed" in err


@pytest.mark.parametrize("step", ["journal", "written", "linked", "audited"])
def test_a_plan_killed_at_any_step_is_whole_or_absent(capsys, store, demo, step):
    """Killed at each step of its commit (as `kill -9`), the next `configs check` recovers: the plan
    is recorded with its audit line (after the link) or absent (before it), and the store is sound."""
    from .test_atomicity import DONE, _killed

    argv = ["abtest", "plan", "spring", "--champion", "default", "--challenger", "default@2", "--metric",
            "mql_conversion", "--min-effect", "0.1", "--salt", "demo-test", "--start", "2025-10-01",
            "--db", demo, "--store", store, *SIGN]
    from scoring.base.crash import CRASH_EXIT

    assert _killed(argv, f"abtest:{step}") == CRASH_EXIT
    code, out, err = _run(capsys, "configs", "check", "--store", store)
    assert code == 0, out + err
    kept = step in DONE
    assert ("completed an interrupted test plan spring" if kept else "rolled back an interrupted test plan spring") in out
    assert (store / "abtests" / "spring.json").exists() == kept
    actions = [json.loads(line).get("action") for line in (store / "audit.jsonl").read_text().splitlines()]
    assert actions.count("abtest") == (1 if kept else 0)
    assert not [p for p in store.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or ".journal" in p.parts)]
    if not kept:  # nothing of it was kept: the same plan can be recorded now
        assert _plan(capsys, store, demo, *SIGN)[0] == 0
