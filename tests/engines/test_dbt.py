"""The dbt export, built for real with dbt-core 1.10 and dbt-duckdb: `dbt build` runs, its
tests pass, its scores are the engine's, and its range test fails when a score leaves the caps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from scoring.cli import main
from scoring.model.config import config_from_dict, config_to_dict, dump_config

from .cases import assert_same_scores, config_for, rows_to_columns
from .conftest import REQUIRED

COLUMNS = ["lead_id", "scored_at", "fit_score", "engagement_score", "score", "tier"]
ODD_EVENT = "{{ var('x') }} {% raw %}"
"""An event type that is Jinja syntax: it must reach the SQL as a plain string value."""


def _dbt() -> Path:
    exe = Path(sys.executable).parent / "dbt"
    try:
        import dbt.adapters.duckdb  # noqa: F401
        import dbt.version  # noqa: F401
    except ImportError:
        exe = None
    if exe is None or not exe.exists():
        if REQUIRED:
            pytest.fail("dbt-core / dbt-duckdb are not installed and LEADCAL_ENGINES=required: "
                        "pip install -e '.[engines]'")
        pytest.skip("dbt-core and dbt-duckdb not installed (pip install -e '.[engines]'); CI requires these tests")
    return exe


def _run_dbt(exe: Path, command: str, project: Path, work: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_NO_PRINT": "false"}
    return subprocess.run(
        [str(exe), command, "--project-dir", str(project), "--profiles-dir", str(work / "profiles"),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        capture_output=True, text=True, env=env, timeout=300, cwd=work)


def _results(work: Path) -> dict[str, str]:
    """Test or model name -> status, from dbt's run_results.json."""
    data = json.loads((work / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[-2] if r["unique_id"].startswith("test.") else r["unique_id"]: r["status"]
            for r in data["results"]}


@pytest.fixture(scope="module")
def dbt_build(tmp_path_factory, engine_demo):
    """every-kind (plus a rule whose event type is Jinja) saved, approved and exported with the
    CLI, then `dbt build` on a copy of the demo database."""
    exe = _dbt()
    work = tmp_path_factory.mktemp("dbt")
    config = config_to_dict(config_for("every-kind"))
    config["engagement"].append({"event": ODD_EVENT, "points": 7})  # no such events: scores unchanged
    (work / "model.yaml").write_text(dump_config(config_from_dict(config)))
    store = work / "store"
    assert main(["configs", "save", "every-kind", "--file", str(work / "model.yaml"), "--store", str(store),
                 "--note", "for the {{ warehouse }}"]) == 0
    assert main(["configs", "approve", "every-kind@1", "--signoff", "Ann Lee:sales", "--signoff",
                 "Bo Chan:marketing", "--rationale", "AUC up {% if %} on Q3", "--db", str(engine_demo.db),
                 "--store", str(store)]) == 0
    export = work / "export"
    assert main(["configs", "export", "every-kind", "--format", "dbt", "--out", str(export),
                 "--store", str(store)]) == 0
    db = work / "warehouse.duckdb"
    shutil.copy(engine_demo.db, db)  # dbt writes its model table into the database
    (work / "profiles").mkdir()
    (work / "profiles" / "profiles.yml").write_text(yaml.safe_dump(
        {"leadcal": {"target": "test", "outputs": {"test": {"type": "duckdb", "path": str(db), "threads": 1}}}}))
    done = _run_dbt(exe, "build", export, work)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return {"exe": exe, "work": work, "db": db, "export": export, "build": done, "results": _results(work)}


def test_dbt_build_runs_every_test_and_passes(dbt_build):
    results = dbt_build["results"]
    assert results.pop("model.leadcal_every_kind.leadcal_every_kind") == "success"
    assert set(results.values()) == {"pass"}
    names = set(results)
    assert "unique_leadcal_every_kind_lead_id" in names and "not_null_leadcal_every_kind_lead_id" in names
    assert any(n.startswith("accepted_values_leadcal_every_kind_tier") for n in names)
    # every-kind's caps: fit >= -5, engagement <= 50, total 0..100: one range test each
    between = sorted(n for n in names if n.startswith("leadcal_between_"))
    assert [n.split("leadcal_every_kind_")[1].split("__")[0] for n in between] == \
        ["engagement_score", "fit_score", "score"]


def test_dbt_model_scores_equal_the_engine(dbt_build, engine_demo):
    with duckdb.connect(str(dbt_build["db"]), read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM main.leadcal_every_kind").fetchall()
    result = assert_same_scores(engine_demo.db, "every-kind", rows_to_columns(COLUMNS, rows))
    assert result.leads > 2_000


def test_dbt_model_reads_sources_and_keeps_jinja_text_as_text(dbt_build):
    compiled = next((dbt_build["work"] / "target" / "compiled").rglob("leadcal_every_kind.sql")).read_text()
    assert "'" + ODD_EVENT.replace("'", "''") + "'" in compiled  # the event type, verbatim, as a SQL string
    assert '"main"."leads"' in compiled and '"main"."events"' in compiled and '"main"."outcomes"' in compiled
    manifest = json.loads((dbt_build["work"] / "target" / "manifest.json").read_text())
    model = manifest["nodes"]["model.leadcal_every_kind.leadcal_every_kind"]
    assert "version 1" in model["description"]
    assert "signed off by Ann Lee (sales), Bo Chan (marketing)" in model["description"]
    assert "Rationale: AUC up {% if %} on Q3" in model["description"]
    assert "Note: for the {{ warehouse }}" in model["description"]
    assert model["config"]["meta"]["leadcal"]["approved"] is True
    assert sorted(s["name"] for s in manifest["sources"].values()) == ["events", "leads", "outcomes"]


def test_dbt_range_test_fails_when_a_score_leaves_the_caps(dbt_build):
    table = "main.leadcal_every_kind"
    with duckdb.connect(str(dbt_build["db"])) as con:
        lead, score = con.execute(f"SELECT lead_id, score FROM {table} ORDER BY lead_id LIMIT 1").fetchone()
        con.execute(f"UPDATE {table} SET score = 100.5 WHERE lead_id = ?", [lead])
    try:
        done = _run_dbt(dbt_build["exe"], "test", dbt_build["export"], dbt_build["work"])
        assert done.returncode == 1
        failed = {n for n, status in _results(dbt_build["work"]).items() if status == "fail"}
        assert failed == {"leadcal_between_leadcal_every_kind_score__100_0__0_0"}
    finally:
        with duckdb.connect(str(dbt_build["db"])) as con:  # leave the built table as dbt made it
            con.execute(f"UPDATE {table} SET score = ? WHERE lead_id = ?", [score, lead])
