"""The feature query on DuckDB and calibrating from its Parquet result (no warehouse needed).

tests/engines/test_features_sql.py runs the same query on Spark and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import pytest
import yaml

from scoring.cli import main
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.feature_set import FIXED, OUTCOME, activity_column
from scoring.data.source import SourceError, open_source
from scoring.export.features_sql import export_features_sql
from scoring.model.config import config_from_dict, config_to_dict, load_config
from scoring.model.features import Signal

from .conftest import DAY, DEFAULT_CONFIG, T0
from .engines.cases import assert_same_features
from .test_export_sql import EVERY_KIND, MESSY_EVENTS, MESSY_LEADS, _messy_config, _messy_db


def _feature_folder(db, config, folder, dialect_sql=None):
    """Run the DuckDB feature SQL on ``db`` and store the result as Parquet in ``folder``."""
    folder.mkdir(parents=True)
    sql = dialect_sql or export_features_sql(config, "duckdb")
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"COPY ({sql}) TO '{folder / 'part-0.parquet'}' (FORMAT parquet)")
    return folder


def _extract(path, config):
    with open_source(path) as source:
        return extract_features(source, config)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("fs-demo") / "demo.duckdb"
    generate(path, leads=2_000, seed=3)
    return path


@pytest.mark.parametrize("which", ["default", "every-kind"])
def test_duckdb_feature_set_equals_the_extraction(demo, tmp_path, which):
    config = load_config(DEFAULT_CONFIG) if which == "default" else config_from_dict(yaml.safe_load(EVERY_KIND))
    folder = _feature_folder(demo, config, tmp_path / "features")
    assert_same_features(_extract(folder, config), _extract(demo, config))


@pytest.mark.parametrize("scoring_point_days", [7, 7.0000001])
def test_messy_data_feature_set_equals_the_extraction(tmp_path, scoring_point_days):
    db = _messy_db(tmp_path / "messy.duckdb", MESSY_LEADS, MESSY_EVENTS)
    config = _messy_config(scoring_point_days)
    got = _extract(_feature_folder(db, config, tmp_path / "f"), config)
    assert_same_features(got, _extract(db, config))
    assert sorted(got.lead_id.tolist()) == list(range(1, 9))


@pytest.mark.parametrize("outcome_on", ["leads", "table"])
def test_yes_no_outcome(tmp_path, outcome_on):
    """A yes/no outcome: won and lost are mature, an open (NULL) lead is not; converted only when yes."""
    db = tmp_path / "flags.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE leads (lead_id VARCHAR, created_at TIMESTAMP, tier VARCHAR, won BOOLEAN)")
    con.execute("CREATE TABLE deals (lead_id VARCHAR, won BOOLEAN)")
    con.execute("CREATE TABLE events (lead_id VARCHAR, event_type VARCHAR, occurred_at TIMESTAMP)")
    leads = [("00Q1", T0, "Gold", True), ("00Q2", T0 + DAY, "silver ", False), ("00Q3", T0 + 2 * DAY, None, None),
             ("00Q4", T0 + 3 * DAY, "Select", None)]
    con.executemany("INSERT INTO leads VALUES (?, ?, ?, ?)", leads)
    con.executemany("INSERT INTO deals VALUES (?, ?)", [("00Q1", False), ("00Q1", True), ("00Q2", False)])
    con.executemany("INSERT INTO events VALUES (?, ?, ?)",
                    [("00Q1", "Demo", T0 + DAY), ("00Q3", "demo", T0 + 5 * DAY), ("00Q3", "demo", T0 + 9 * DAY)])
    con.close()
    outcome = {"converted_at": None, "converted": "won"}
    if outcome_on == "table":
        outcome["table"] = "deals"
    config = config_from_dict({
        "source": {"leads": {}, "events": {}, "outcome": outcome},
        "evaluation": {"scoring_point_days": 7, "outcome_window_days": 30},
        "fit": [{"type": "categorical", "column": "tier", "points": {"gold": 5}}],
        "engagement": [{"event": "demo", "points": 3, "decay": {"kind": "linear", "lifespan_days": 10}}],
        "thresholds": {"mql": 3, "sql": 6}, "bands": [3],
    })
    want = _extract(db, config)
    got = _extract(_feature_folder(db, config, tmp_path / "f"), config)
    assert_same_features(got, want)
    assert got.lead_id.tolist() == ["00Q1", "00Q2", "00Q3", "00Q4"]
    assert got.converted.tolist() == [True, False, False, False]
    assert got.mature.tolist() == [True, True, False, False]
    assert got.categorical["tier"].values().tolist() == ["Gold", "silver", None, None]
    sig = Signal(("demo",), ("linear", 10.0))
    assert got.signals[sig.key].dense().tolist() == pytest.approx([0.4, 0.0, 0.6, 0.0])  # ages 6 and 4 days (day 9 is the scoring point: left out)


def test_the_features_sql_names_every_column(demo):
    config = config_from_dict(yaml.safe_load(EVERY_KIND))
    sql = export_features_sql(config)
    with duckdb.connect(str(demo), read_only=True) as con:
        columns = [d[0] for d in con.execute(f"SELECT * FROM ({sql}) LIMIT 0").description]
    spec_signals = {activity_column(Signal(("demo_request",), ("window", 7.0))),
                    activity_column(Signal(("email_click", "email_open"), ("linear", 45.0)))}
    assert columns[: len(FIXED)] == list(FIXED)
    assert {"seniority", "email_domain_type", "industry", "segment", "company_size"} <= set(columns)
    assert spec_signals <= set(columns) and len(columns) == len(set(columns))
    assert "leadcal_act_" + "0" * 16 not in columns
    assert "demo_request | window:7.0" in sql  # the header says what each activity column is


def test_a_config_the_feature_set_cannot_serve_is_refused(demo, tmp_path):
    config = load_config(DEFAULT_CONFIG)
    folder = _feature_folder(demo, config, tmp_path / "f")
    other_decay = config_from_dict({**config_to_dict(config), "decay": {"kind": "window", "days": 30}})
    with pytest.raises(SourceError) as err:
        _extract(folder, other_decay)
    text = str(err.value)
    assert "no column 'leadcal_act_" in text and "demo_request decayed window:30.0" in text
    assert "--format features-sql" in text
    other_window = config_from_dict({**config_to_dict(config), "evaluation": {"scoring_point_days": 7,
                                                                              "outcome_window_days": 60}})
    with pytest.raises(SourceError, match="window of 90 days; this config's is 60 days"):
        _extract(folder, other_window)
    other_point = config_from_dict({**config_to_dict(config), "evaluation": {"scoring_point_days": 3,
                                                                             "outcome_window_days": 90}})
    with pytest.raises(SourceError, match="2,000 leads are not scored 3 days after creation"):
        _extract(folder, other_point)
    new_column = config_to_dict(config)
    new_column["fit"].append({"type": "categorical", "column": "country", "points": {"DE": 1}})
    with pytest.raises(SourceError, match="no column 'country'"):
        _extract(folder, config_from_dict(new_column))


def test_folders_that_are_not_feature_sets(tmp_path, demo):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="directory without .parquet files"):
        open_source(empty)
    other = tmp_path / "other"
    other.mkdir()
    with duckdb.connect(str(demo), read_only=True) as con:
        con.execute(f"COPY leads TO '{other / 'leads.parquet'}' (FORMAT parquet)")
    with pytest.raises(SourceError, match="no column 'leadcal_lead_id': not a leadcal feature set"):
        _extract(other, load_config(DEFAULT_CONFIG))
    config = load_config(DEFAULT_CONFIG)
    dup = _feature_folder(demo, config, tmp_path / "dup")
    with duckdb.connect(str(demo), read_only=True) as con:  # the same rows twice: duplicate ids
        con.execute(f"COPY ({export_features_sql(config)}) TO '{dup / 'part-1.parquet'}' (FORMAT parquet)")
    with pytest.raises(SourceError, match="2,000 duplicate lead ids"):
        _extract(dup, config)


def test_reserved_column_names_are_refused():
    config = config_to_dict(load_config(DEFAULT_CONFIG))
    config["fit"].append({"type": "numeric", "column": "leadcal_mature", "bins": [{"min": 0, "points": 1}]})
    with pytest.raises(ValueError, match="column 'leadcal_mature': names starting with 'leadcal_' are leadcal's own"):
        export_features_sql(config_from_dict(config))


def test_cli_exports_the_feature_sql_and_reports_on_the_folder(demo, tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["configs", "save", "default", "--file", str(DEFAULT_CONFIG), "--store", str(store)]) == 0
    out = tmp_path / "features.sql"
    assert main(["configs", "export", "default", "--format", "features-sql", "--dialect", "duckdb",
                 "--out", str(out), "--store", str(store)]) == 0
    assert out.read_text() == export_features_sql(load_config(DEFAULT_CONFIG), "duckdb")
    assert main(["configs", "export", "default", "--format", "features-sql", "--dialect", "spark",
                 "--out", str(tmp_path / "spark.sql"), "--store", str(store)]) == 0
    assert "TIMESTAMPDIFF(MICROSECOND" in (tmp_path / "spark.sql").read_text()
    folder = tmp_path / "features"
    folder.mkdir()
    with duckdb.connect(str(demo), read_only=True) as con:
        con.execute(f"COPY ({out.read_text()}) TO '{folder / 'part-0.parquet'}' (FORMAT parquet)")
    capsys.readouterr()
    assert main(["report", "--db", str(folder), "--format", "json"]) == 0
    on_features = json.loads(capsys.readouterr().out)
    assert main(["report", "--db", str(demo), "--format", "json"]) == 0
    on_tables = json.loads(capsys.readouterr().out)
    assert on_features.pop("quality") == {"rows": {"leadcal_features": 2000}, "findings": []}
    on_tables.pop("quality")
    # a feature set carries no deal value and no conversion times: no revenue, no account view, each said why
    assert not on_features.pop("revenue")["available"] and on_tables.pop("revenue")["available"]
    assert "no conversion times" in on_features.pop("accounts")["reason"] and on_tables.pop("accounts")["accounts"]
    assert on_features == on_tables
    assert dt.datetime.fromisoformat(on_features["data"]["data_end"]) > dt.datetime(2025, 1, 1)


def test_raw_data_checks_say_they_need_the_tables(demo, tmp_path, capsys):
    """Drift and data quality read the raw tables: on a feature set they say so (exit 3: could not check)."""
    config = load_config(DEFAULT_CONFIG)
    folder = _feature_folder(demo, config, tmp_path / "f")
    capsys.readouterr()
    assert main(["drift", "--db", str(folder), "--config", str(DEFAULT_CONFIG)]) == 3
    err = capsys.readouterr().err
    assert "read the raw leads, events and outcome tables; this is a feature set" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("dialect", ["postgres", "snowflake", "bigquery", "spark"])
def test_every_dialect_parses_with_every_column(dialect):
    """Snowflake and BigQuery cannot run here: their text is parsed back (Spark and PostgreSQL run in tests/engines)."""
    import sqlglot
    from sqlglot import exp

    config = config_from_dict(yaml.safe_load(EVERY_KIND))
    tree = sqlglot.parse_one(export_features_sql(config, dialect), read=dialect)
    assert {"leads", "events", "outcomes"} <= {t.name for t in tree.find_all(exp.Table)}
    names = [s.alias_or_name for s in tree.selects]
    spec_columns = ["company_size", "email_domain_type", "industry", "segment", "seniority"]
    assert names[: len(FIXED)] == list(FIXED) and sorted(names[len(FIXED):len(FIXED) + 5]) == spec_columns
    from scoring.model.features import feature_spec

    assert names[len(FIXED) + 5:] == [activity_column(s) for s in feature_spec(config).signals] + [OUTCOME]
    strings = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
    assert {"demo_request", "email_open", "email_click", "trial_signup"} <= strings


def _shown(markdown: str) -> str:
    """Text as the browser shows it: user data is escaped Markdown (ui.text.plain)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def test_the_app_on_a_feature_folder(demo, tmp_path, monkeypatch):
    """Calibrate shows the numbers of the tables; what needs events or raw tables says so."""
    from streamlit.testing.v1 import AppTest

    from scoring.analysis.calibrate import calibration_view

    from .conftest import ROOT
    from .test_app import _check_page_matches

    config = load_config(DEFAULT_CONFIG)
    folder = _feature_folder(demo, config, tmp_path / "f")
    monkeypatch.setenv("LEADCAL_DB", str(folder))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    _check_page_matches(at, calibration_view(config, config, _extract(demo, config), (0.10, 0.15), None),
                        revenue=False)  # a feature set carries no deal value

    attributes = at.switch_page("pages/attributes.py")
    attributes.session_state["attributes_tab"] = "Decay"  # only the open tab runs
    attributes.run()
    next(t for t in attributes.toggle if t.key == "attr_decays").set_value(True).run()
    assert not attributes.exception, attributes.exception
    assert any("hold the decayed sums they were computed with" in _shown(e.value) for e in attributes.error)

    for page in ("pages/data_quality.py", "pages/drift.py"):
        other = attributes.switch_page(page)
        other.run()
        assert not other.exception, other.exception
        assert any("this is a feature set computed in the warehouse" in _shown(e.value) for e in other.error), page

    at = other.switch_page("pages/calibrate.py")
    at.session_state["controls_section:more"] = True  # open "Decay, caps, bands and evaluation", as a person would
    at.run()
    decay = next(s for s in at.selectbox if s.key and s.key.endswith("decay:kind"))
    decay.set_value("window").run()
    assert not at.exception, at.exception
    assert any("decayed window:" in _shown(e.value) and "--format features-sql" in _shown(e.value) for e in at.error)
