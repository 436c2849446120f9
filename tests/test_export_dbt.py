"""The dbt export's files, without dbt: sources, tests, description, Jinja safety, no overwriting.

tests/engines/test_dbt.py builds the export with dbt-core and dbt-duckdb for real.
"""

from __future__ import annotations

import json

import jinja2
import pytest
import sqlglot
import yaml
from sqlglot import exp

from scoring.cli import main
from scoring.export.dbt import VersionInfo, dbt_name, export_dbt, jinja_safe

from .conftest import DEFAULT_CONFIG
from .test_export_sql import _messy_config

DRAFT = VersionInfo("messy", 2, "ann", "2026-01-02T03:04:05+00:00", "first try")


def _source_calls(sql: str) -> set[tuple[str, str]]:
    env = jinja2.Environment()
    calls = set()
    env.globals["source"] = lambda s, t: calls.add((s, t)) or f'"{s}"."{t}"'
    env.globals["config"] = lambda **kw: ""
    env.from_string(sql).render()
    return calls


@pytest.mark.parametrize("text", ["plain", "{{ x }}", "{% raw %}", "{#", "a { b } c", "}}{{", "{{ '{' }}", "{"])
def test_jinja_safe_renders_back_to_the_text(text):
    assert jinja2.Environment().from_string(jinja_safe(text)).render() == text


def test_model_reads_every_mapped_table_through_source():
    config = _messy_config(7)  # "lead list" holds the outcome too; events
    export = export_dbt(config, DRAFT, None, "duckdb")
    assert export.model == "leadcal_messy" and dbt_name("Big-Deal_2") == "leadcal_big_deal_2"
    assert sorted(export.files) == ["dbt_project.yml", "macros/leadcal_between.sql", "models/leadcal_messy.sql",
                                    "models/schema.yml", "models/sources.yml"]
    sql = export.files["models/leadcal_messy.sql"]
    assert sql.startswith("{{ config(materialized='table') }}")
    assert _source_calls(sql) == {("leadcal_messy", "leads"), ("leadcal_messy", "events")}
    assert '"lead list"' not in sql and '"events"' not in sql  # no table name is pasted
    # what dbt would run is the export_sql query, with the tables read from the sources
    env = jinja2.Environment()
    env.globals.update(source=lambda s, t: {"leads": '"lead list"', "events": '"events"'}[t], config=lambda **kw: "")
    rendered = env.from_string(sql).render()
    from scoring.export.sql import export_sql

    assert sqlglot.parse_one(rendered, read="duckdb") == sqlglot.parse_one(export_sql(config), read="duckdb")
    sources = yaml.safe_load(export.files["models/sources.yml"])["sources"][0]
    assert sources["name"] == "leadcal_messy" and sources["quoting"] == {"identifier": True}
    assert sources["tables"] == [{"name": "leads", "identifier": "lead list"}, {"name": "events", "identifier": "events"}]
    assert sources["schema"] == "{{ var('leadcal_messy_schema', target.schema) }}"


@pytest.mark.parametrize("dialect", ["postgres", "snowflake", "bigquery", "spark"])
def test_model_in_each_dialect(dialect):
    from scoring.model.config import load_config

    config = load_config(DEFAULT_CONFIG)
    sql = export_dbt(config, DRAFT, None, dialect).files["models/leadcal_messy.sql"]
    env = jinja2.Environment()
    env.globals.update(source=lambda s, t: f"{s}.{t}", config=lambda **kw: "")
    tree = sqlglot.parse_one(env.from_string(sql).render(), read=dialect)
    assert {t.name for t in tree.find_all(exp.Table)} >= {"leads", "events", "outcomes"}
    assert f"for {dialect};" in sql


def test_schema_tests_follow_the_caps_and_a_draft_says_so():
    config = _messy_config(7)  # caps: fit max 12, engagement min -3, total min 0
    schema = yaml.safe_load(export_dbt(config, DRAFT, None).files["models/schema.yml"])["models"][0]
    tests = {c["name"]: c["data_tests"] for c in schema["columns"]}
    assert tests["lead_id"] == ["unique", "not_null"]
    assert tests["fit_score"] == [{"leadcal_between": {"arguments": {"max_value": 12.0}}}]
    assert tests["engagement_score"] == [{"leadcal_between": {"arguments": {"min_value": -3.0}}}]
    assert tests["score"] == [{"leadcal_between": {"arguments": {"min_value": 0.0}}}]
    assert tests["tier"][1] == {"accepted_values": {"arguments": {"values": ["below_mql", "mql", "sql"]}}}
    assert schema["description"].startswith("leadcal scoring model 'messy', version 2")
    assert "NOT APPROVED: version 2 of 'messy' is a draft" in schema["description"]
    assert schema["config"]["meta"]["leadcal"]["approved"] is False
    no_caps = config.model_copy(update={"caps": config.caps.model_copy(update={"fit": None})})
    tests = {c["name"]: c["data_tests"] for c in
             yaml.safe_load(export_dbt(no_caps, DRAFT, None).files["models/schema.yml"])["models"][0]["columns"]}
    assert tests["fit_score"] == ["not_null"]


def test_range_test_macro_is_a_dbt_generic_test():
    macro = export_dbt(_messy_config(7), DRAFT, None).files["macros/leadcal_between.sql"]
    env = jinja2.Environment(extensions=[])
    # dbt's {% test %} block is a macro; render its body as dbt would for one column
    body = macro.split("%}", 1)[1].rsplit("{% endtest %}", 1)[0]
    sql = env.from_string(body).render(model="m", column_name="score", min_value=0, max_value=100.0)
    assert " ".join(sql.split()) == "select score from m where score is null or score < 0 or score > 100.0"
    sql = env.from_string(body).render(model="m", column_name="score", min_value=None, max_value=5)
    assert " ".join(sql.split()) == "select score from m where score is null or score > 5"


def test_cli_export_dbt_writes_a_folder_and_never_overwrites(tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["configs", "save", "default", "--file", str(DEFAULT_CONFIG), "--store", str(store)]) == 0
    out = tmp_path / "dbt"
    assert main(["configs", "export", "default", "--format", "dbt", "--dialect", "postgres", "--out", str(out),
                 "--store", str(store)]) == 0
    model = out / "models" / "leadcal_default.sql"
    assert "EXTRACT(epoch FROM" in model.read_text()  # the PostgreSQL text
    audit = [json.loads(line) for line in (store / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["action"] == "export" and audit[-1]["format"] == "dbt" and audit[-1]["dialect"] == "postgres"

    model.write_text("-- my edits")
    capsys.readouterr()
    assert main(["configs", "export", "default", "--format", "dbt", "--out", str(out), "--store", str(store)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "dbt_project.yml exists; leadcal does not overwrite" in err and len(err.strip().splitlines()) == 1
    assert model.read_text() == "-- my edits"
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main(["configs", "export", "default", "--format", "dbt", "--out", str(a_file), "--store", str(store)]) == 1
    assert "is not a folder" in capsys.readouterr().err and a_file.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "dbt", "store"]  # no temp folder left
