"""Champion vs challenger routing on real engines: the exported SQL puts every lead in the arm
leadcal's readout counts it in (same md5 split in PostgreSQL and Spark as in the engine), with
the tier of the arm's model; and the bucket of text ids is the same text everywhere."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sqlglot import exp

from scoring.analysis.abtest import score_both
from scoring.data.routing import challenger_mask
from scoring.data.source import open_source
from scoring.export.abtest_sql import bucket_text, export_test_sql
from scoring.model.config import load_config
from scoring.model.engine import TIERS
from scoring.export.sql import render

from .cases import DEFAULT_CONFIG
from .loading import use_spark

SALT, SHARE = "spring-2026", 0.3
IDS = ["0031X00000abcDEF", "lead 7", "Ünïcode-é", "42", "O'Brien", ""]


def _configs():
    champion = load_config(DEFAULT_CONFIG)
    return champion, champion.model_copy(update={"thresholds": champion.thresholds.model_copy(update={"mql": 35})})


def _check(rows, db):
    champion, challenger = _configs()
    with open_source(db) as source:
        data = score_both(source, champion, challenger)
    ids = data.features.lead_id
    by_id = {int(r[0]): r for r in rows}
    assert len(by_id) == len(rows) == len(ids)
    mask = challenger_mask(ids, SALT, SHARE)
    arm = np.array([by_id[i][1] for i in ids.tolist()])
    assert ((arm == "challenger") == mask).all() and 0.25 < mask.mean() < 0.35
    tier = np.array([by_id[i][4] for i in ids.tolist()])
    assert (tier == np.array(TIERS)[np.where(mask, data.challenger.tier, data.champion.tier)]).all()
    np.testing.assert_allclose([float(by_id[i][5]) for i in ids.tolist()], data.champion.total, atol=1e-9)
    np.testing.assert_allclose([float(by_id[i][7]) for i in ids.tolist()], data.challenger.total, atol=1e-9)


def _sql(dialect: str) -> str:
    champion, challenger = _configs()
    return export_test_sql("spring", "default@1", "default@2", champion, challenger, SALT, SHARE, dialect)


def _buckets_query(dialect: str) -> str:
    selects = [exp.select(exp.Literal.number(i).as_("i"), bucket_text(exp.Literal.string(v), SALT).as_("b"))
               for i, v in enumerate(IDS)]
    union = selects[0]
    for s in selects[1:]:
        union = exp.union(union, s, distinct=False)
    return render(union, dialect)


def _expected_buckets() -> list[str]:
    return [hashlib.md5(f"{SALT}:{v}".encode()).hexdigest()[:8] for v in IDS]


def test_postgres_routes_every_lead_like_the_engine(postgres, pg_data, engine_demo):
    with postgres.connect(pg_data["demo"]) as con:
        rows = con.execute(_sql("postgres")).fetchall()
        buckets = [b for _, b in sorted(con.execute(_buckets_query("postgres")).fetchall())]
    _check(rows, engine_demo.db)
    assert buckets == _expected_buckets()


def test_spark_routes_every_lead_like_the_engine(spark, engine_demo):
    use_spark(spark, engine_demo)
    rows = [tuple(r) for r in spark.sql(_sql("spark")).collect()]
    _check(rows, engine_demo.db)
    buckets = [r[1] for r in sorted(tuple(r) for r in spark.sql(_buckets_query("spark")).collect())]
    assert buckets == _expected_buckets()


def test_dbt_routing_model_builds_and_routes_like_the_engine(tmp_path, engine_demo):
    """`leadcal abtest dbt` of a recorded test, then `dbt build` (dbt-duckdb) on a copy of the demo:
    the model's tests pass and every lead is in the engine's arm with the arm's tier."""
    import shutil

    import duckdb
    import yaml

    from scoring.cli import main

    from .test_dbt import _dbt, _results, _run_dbt

    exe = _dbt()
    store = tmp_path / "store"
    champ, chal = tmp_path / "champ.yaml", tmp_path / "chal.yaml"
    champ.write_text(open(DEFAULT_CONFIG).read())
    chal.write_text(champ.read_text().replace("thresholds: {mql: 40, sql: 60}", "thresholds: {mql: 35, sql: 60}"))
    sign = ["--signoff", "Ann Lee:sales", "--signoff", "Bo Chan:marketing"]
    for argv in (["configs", "save", "default", "--file", champ],
                 ["configs", "approve", "default@1", *sign, "--rationale", "ok", "--db", engine_demo.db],
                 ["configs", "save", "default", "--file", chal],
                 ["abtest", "plan", "spring", "--champion", "default", "--challenger", "default@2", "--metric",
                  "mql_conversion", "--min-effect", "0.1", "--share", str(SHARE), "--salt", SALT,
                  "--start", "2025-10-01", "--db", engine_demo.db, *sign, "--rationale", "a {{ jinja }} test"],
                 ["abtest", "dbt", "spring", "--out", tmp_path / "export"]):
        assert main([str(a) for a in argv + ["--store", store]]) == 0
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(engine_demo.db, db)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "profiles.yml").write_text(yaml.safe_dump(
        {"leadcal": {"target": "test", "outputs": {"test": {"type": "duckdb", "path": str(db), "threads": 1}}}}))
    done = _run_dbt(exe, "build", tmp_path / "export", tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    results = _results(tmp_path)
    assert len(results) >= 10 and set(results.values()) == {"success", "pass"}, results
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.sql("SELECT lead_id, arm, scored_at, score, tier, champion_score, champion_tier, "
                       "challenger_score, challenger_tier FROM leadcal_abtest_spring").fetchall()
    finally:
        con.close()
    _check(rows, engine_demo.db)
