"""The exported scoring SQL, run for real on PostgreSQL and Spark: the engine's scores on every lead.

The DuckDB text is proven in tests/test_export_sql.py; here the PostgreSQL and Spark
texts of the same sqlglot tree run on a real cluster and a real Spark session over the
same data (loaded from the DuckDB file), where quoting, timestamp arithmetic, integer
division, NULL ordering and CASE typing are the engine's own.
"""

from __future__ import annotations

import pytest

from scoring.export.sql import export_sql

from .cases import CONFIGS, assert_same_scores, caps_that_bite, config_for, engine_scores, rows_to_columns
from .loading import use_spark

CASES = [pytest.param(c, id=f"{c.name}") for c in CONFIGS]
COLUMNS = ["lead_id", "scored_at", "fit_score", "engagement_score", "score", "tier"]


def _data(case, engine_demo, engine_messy):
    return engine_demo if case.data == "demo" else engine_messy


@pytest.mark.parametrize("case", CASES)
def test_postgres_scores_equal_the_engine(case, postgres, pg_data, engine_demo, engine_messy):
    data = _data(case, engine_demo, engine_messy)
    sql = export_sql(config_for(case.name), "postgres")
    with postgres.connect(pg_data[case.data]) as con:
        rows = con.execute(sql).fetchall()
        assert con.execute("SHOW server_version").fetchone()[0].startswith(("15", "16", "17", "18"))
    result = assert_same_scores(data.db, case.name, rows_to_columns(COLUMNS, rows))
    assert result.leads == (8 if case.data == "messy" else engine_scores(data.db, case.name)[0].n)


@pytest.mark.parametrize("case", CASES)
def test_spark_scores_equal_the_engine(case, spark, engine_demo, engine_messy):
    data = _data(case, engine_demo, engine_messy)
    sql = export_sql(config_for(case.name), "spark")
    use_spark(spark, data)
    rows = [tuple(r) for r in spark.sql(sql).collect()]
    assert_same_scores(data.db, case.name, rows_to_columns(COLUMNS, rows))


def test_the_configs_are_not_vacuous(engine_demo):
    """What the engine comparisons cover on the demo: every tier, both segment kinds,
    negative engagement, and every cap biting somewhere."""
    bite = {}
    for case in CONFIGS:
        if case.data != "demo":
            continue
        features, scores = engine_scores(engine_demo.db, case.name)
        assert set(scores.tier.tolist()) == {0, 1, 2}, case.name
        bite[case.name] = caps_that_bite(config_for(case.name), features)
    assert bite["tight-caps"] == {"fit", "engagement", "total", "rule"}
    assert bite["default"] == {"fit", "engagement", "total", "rule"}
    assert {"total", "rule"} <= bite["every-kind"]
    assert bite["no-decay"] == {"engagement", "total", "rule"}
    _, every = engine_scores(engine_demo.db, "every-kind")
    assert set(every.segment.tolist()) == {-1, 0, 1} and every.engagement.min() < 0
    _, tight = engine_scores(engine_demo.db, "tight-caps")
    assert set(tight.segment.tolist()) == {-1, 0}
