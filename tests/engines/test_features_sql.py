"""The feature query run in the warehouse (Spark, PostgreSQL), its result as Parquet, and
leadcal calibrating on it: the same features as the DuckDB extraction, the same numbers."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from scoring.analysis.calibrate import calibration_view
from scoring.cli import main as leadcal
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.export.features_sql import export_features_sql
from scoring.model.config import ScoringConfig, load_config

from ..conftest import DEFAULT_CONFIG, ROOT
from ..test_app import _check_page_matches
from .. import crm_exports as ce
from ..test_feature_sql_outcomes import EXPECTED, _edge_config, _edge_db, _variant
from .cases import assert_same_features, config_for, engine_scores
from .loading import EngineData, load_postgres, parquet_dump, use_spark


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


# --------------------------------------------------------------------------- the three-state outcome

STATE_CASES = [("flag+time", False, None), ("flag+time", True, None), ("flag+time", True, 90), ("flag", True, None)]
STATE_IDS = [f"{f}-{'table' if s else 'leads'}" + (f"-stale{d}" if d else "") for f, s, d in STATE_CASES]


def _states_data(base, separate: bool, infinite: bool) -> EngineData:
    """The hand-worked edge leads of tests/test_feature_sql_outcomes.py as an engine dataset."""
    name = f"states_{'table' if separate else 'leads'}{'_inf' if infinite else ''}"
    db = _edge_db(base / f"{name}.duckdb", separate, infinite)
    return EngineData(name, db, parquet_dump(db, base / f"{name}-parquet"))


@pytest.fixture(scope="module")
def states_data(tmp_path_factory) -> dict[tuple[bool, bool], EngineData]:
    """(separate outcome table, with -infinity times) -> dataset."""
    base = tmp_path_factory.mktemp("states")
    return {(s, i): _states_data(base, s, i) for s in (False, True) for i in (False, True)}


def _check_states(folder, data: EngineData, config, expected) -> None:
    with open_source(data.db) as source:
        want = extract_features(source, config)
    with open_source(folder) as source:
        got = extract_features(source, config)
    assert_same_features(got, want)
    assert got.open is not None and got.open.tolist() == want.open.tolist()
    converted, mature, is_open = expected
    ids = got.lead_id.tolist()
    assert {i for i, v in zip(ids, got.converted.tolist()) if v} == converted
    assert {i for i, v in zip(ids, got.mature.tolist()) if v} == mature
    assert {i for i, v in zip(ids, got.open.tolist()) if v} == is_open


@pytest.mark.parametrize(("form", "separate", "stale"), STATE_CASES, ids=STATE_IDS)
def test_spark_features_follow_the_three_state_outcome(spark, states_data, tmp_path, form, separate, stale):
    """Won / lost / open with dates on Spark: a win after the window, a win without a date or dated after
    the data's end, several outcome rows per lead, unnamed leads, stale open leads counted lost when asked."""
    data = states_data[(separate, False)]  # Spark has no infinite timestamps
    config = _edge_config(form, separate, stale)
    use_spark(spark, data)
    folder = tmp_path / "spark"
    spark.sql(export_features_sql(config, "spark")).write.mode("overwrite").parquet(str(folder))
    _check_states(folder, data, config, EXPECTED[(form, separate, stale)])


@pytest.mark.parametrize(("form", "separate", "stale"), STATE_CASES, ids=STATE_IDS)
def test_postgres_features_follow_the_three_state_outcome(postgres, states_data, tmp_path, form, separate, stale):
    """The same on PostgreSQL, with -infinity creation and win times (read as missing, as the extraction does)."""
    data = states_data[(separate, True)]
    config = _edge_config(form, separate, stale)
    with postgres.connect() as con:
        load_postgres(con, data)
    with postgres.connect(data.name) as con:
        infinite = "SELECT count(*) FROM {} WHERE NOT isfinite({})"
        assert con.execute(infinite.format("leads", "created_at")).fetchone()[0] == 1  # lead k
        assert con.execute(infinite.format("deals" if separate else "leads", "won_at")).fetchone()[0] == 1  # lead j
        cur = con.execute(export_features_sql(config, "postgres"))
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    folder = tmp_path / "pg"
    folder.mkdir()
    pq.write_table(pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}), folder / "part-0.parquet")
    _check_states(folder, data, config, EXPECTED[(form, separate, stale)])


@pytest.fixture(scope="module")
def salesforce_data(tmp_path_factory) -> tuple[EngineData, ScoringConfig]:
    """A Salesforce-style export (leads + opportunities: open / won / lost stages with close dates, leads
    without an opportunity) imported with `leadcal import`; its two tables as an engine dataset."""
    base = tmp_path_factory.mktemp("salesforce")
    export = ce.write_salesforce(base / "files", n=800)
    imported, store = base / "import" / "salesforce.duckdb", base / "store"  # the model is named after the file
    imported.parent.mkdir()
    assert leadcal(["import", *map(str, export.files), "--db", str(imported), "--store", str(store)]) == 0
    db = base / "salesforce.duckdb"
    with duckdb.connect(str(db)) as con:  # only the data tables (the import's own tables hold lists)
        con.execute(f"ATTACH '{imported}' AS src (READ_ONLY)")
        con.execute("CREATE TABLE leads AS SELECT * FROM src.leads")
        con.execute("CREATE TABLE opportunities AS SELECT * FROM src.opportunities")
    config = _variant(load_config(store / "salesforce.yaml"), "flag+time", None)
    assert config.source.outcome.table == "opportunities"
    return EngineData("salesforce", db, parquet_dump(db, base / "parquet")), config


def _check_crm(folder, data: EngineData, config) -> None:
    with open_source(data.db) as source:
        want = extract_features(source, config)
    with open_source(folder) as source:
        got = extract_features(source, config)
    assert_same_features(got, want)
    assert got.open.tolist() == want.open.tolist()
    assert want.open.any() and want.converted.any() and (want.mature & ~want.converted).any()


def test_spark_features_of_a_salesforce_export(spark, salesforce_data, tmp_path):
    data, config = salesforce_data
    use_spark(spark, data)
    folder = tmp_path / "spark"
    spark.sql(export_features_sql(config, "spark")).write.mode("overwrite").parquet(str(folder))
    _check_crm(folder, data, config)


def test_postgres_features_of_a_salesforce_export(postgres, salesforce_data, tmp_path):
    data, config = salesforce_data
    with postgres.connect() as con:
        load_postgres(con, data)
    with postgres.connect(data.name) as con:
        cur = con.execute(export_features_sql(config, "postgres"))
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    folder = tmp_path / "pg"
    folder.mkdir()
    pq.write_table(pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}), folder / "part-0.parquet")
    _check_crm(folder, data, config)
