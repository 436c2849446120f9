"""The feature query run in the warehouse (Spark, PostgreSQL), its result as Parquet, and
leadcal calibrating on it: the same features as the DuckDB extraction, the same numbers."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from scoring.analysis.calibrate import calibration_view
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.export.features_sql import export_features_sql
from scoring.model.config import load_config

from ..conftest import DEFAULT_CONFIG, ROOT
from ..test_app import _check_page_matches
from .cases import assert_same_features, config_for, engine_scores
from .loading import use_spark


def _spark_features(spark, data, name, folder):
    use_spark(spark, data)
    spark.sql(export_features_sql(config_for(name), "spark")).write.mode("overwrite").parquet(str(folder))
    return folder


@pytest.fixture(scope="module")
def spark_folder(spark, engine_demo, tmp_path_factory):
    """The default model's features computed by Spark from the demo tables, written as Parquet by Spark."""
    return _spark_features(spark, engine_demo, "default", tmp_path_factory.mktemp("spark-features") / "default")


@pytest.mark.parametrize("name", ["default", "every-kind", "tight-caps"])
def test_spark_features_equal_the_duckdb_extraction(spark, engine_demo, tmp_path, name):
    folder = _spark_features(spark, engine_demo, name, tmp_path / name)
    assert any(folder.glob("part-*.parquet"))  # Spark's own files, read as they are
    want, _ = engine_scores(engine_demo.db, name)
    with open_source(folder) as source:
        got = extract_features(source, config_for(name))
    assert_same_features(got, want)
    assert want.converted.any() and (~want.mature).any() and want.mature.any()


def test_spark_features_of_messy_data_equal_the_duckdb_extraction(spark, engine_messy, tmp_path):
    """Outcome on the leads table, duplicate and NULL ids, missing markers, a quote in an event type."""
    for name in ("messy-seconds", "messy-microseconds"):
        folder = _spark_features(spark, engine_messy, name, tmp_path / name)
        want, _ = engine_scores(engine_messy.db, name)
        with open_source(folder) as source:
            assert_same_features(extract_features(source, config_for(name)), want)


def test_postgres_features_equal_the_duckdb_extraction(postgres, pg_data, engine_demo, tmp_path):
    config = config_for("every-kind")
    with postgres.connect(pg_data["demo"]) as con:
        cur = con.execute(export_features_sql(config, "postgres"))
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    folder = tmp_path / "pg"
    folder.mkdir()
    pq.write_table(pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}), folder / "part-0.parquet")
    want, _ = engine_scores(engine_demo.db, "every-kind")
    with open_source(folder) as source:
        assert_same_features(extract_features(source, config), want)


def test_calibrating_on_spark_features_gives_the_same_numbers(spark_folder, engine_demo):
    config = load_config(DEFAULT_CONFIG)
    want_features, _ = engine_scores(engine_demo.db, "default")
    with open_source(spark_folder) as source:
        got_features = extract_features(source, config)
    want = calibration_view(config, config, want_features, (0.10, 0.15), None)
    got = calibration_view(config, config, got_features, (0.10, 0.15), None)
    assert got.draft.result.bands == want.draft.result.bands
    assert got.draft.result.tiers == want.draft.result.tiers
    for key in ("auc", "gini", "ks"):
        assert getattr(got.draft.result, key) == pytest.approx(getattr(want.draft.result, key), abs=1e-12)
    got_kpis = got.draft.kpis.to_dict()
    for key, value in want.draft.kpis.to_dict().items():
        if key in ("auc", "gini"):
            assert got_kpis[key] == pytest.approx(value, abs=1e-12), key
        else:
            assert got_kpis[key] == value, key


def test_app_calibrates_on_a_spark_feature_folder(spark_folder, engine_demo, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADCAL_DB", str(spark_folder))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    want_features, _ = engine_scores(engine_demo.db, "default")
    config = load_config(DEFAULT_CONFIG)
    _check_page_matches(at, calibration_view(config, config, want_features, (0.10, 0.15), None),
                        revenue=False)  # a feature set carries no deal value
