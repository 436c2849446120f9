"""The exported account SQL gives the engine's account score on every account (issue 22): DuckDB on the demo
with its companies for each method, every other dialect read back, and messy account keys."""

from __future__ import annotations

import numpy as np
import pytest
import sqlglot

from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.export.sql import DIALECTS, export_account_sql
from scoring.model.accounts import account_index, account_scores
from scoring.model.config import config_from_dict, config_to_dict, load_config
from scoring.model.engine import score

from .conftest import DAY, DEFAULT_CONFIG, T0, file_digest

TOL = 1e-9


def _config(accounts: dict, **source):
    data = config_to_dict(load_config(DEFAULT_CONFIG))
    data["source"]["leads"]["account"] = "company"
    data["accounts"] = accounts
    return config_from_dict(data)


def _compare(db, config, sql: str | None = None) -> int:
    """Account SQL vs engine on ``db``: same accounts, scoring points, scores and tiers; the number of accounts."""
    sql = sql or export_account_sql(config)
    with open_source(db) as source:
        features = extract_features(source, config)
        got = source.con.sql(sql).fetchnumpy()
    index = account_index(config, features)
    engine = account_scores(config, features, score(config, features).total, index)
    ids = np.asarray(got["account"], dtype=object)
    assert len(ids) == len(set(ids.tolist())), "one row per account"
    assert sorted(ids.tolist()) == sorted(index.ids.tolist()), "the same accounts"
    mine, theirs = np.argsort(ids.astype(str)), np.argsort(index.ids.astype(str))
    np.testing.assert_array_equal(np.asarray(got["scored_at"]).astype("datetime64[us]")[mine],
                                  index.scoring_at[theirs])
    values = np.asarray(got["account_score"], dtype=np.float64)[mine]
    assert np.max(np.abs(values - engine.total[theirs])) <= TOL
    th = config.accounts.thresholds
    names = np.array(["below_mqa", "mqa", "sqa"], dtype=object)[engine.tier[theirs]]
    clear = (np.abs(engine.total[theirs] - th.mql) > TOL) & (np.abs(engine.total[theirs] - th.sql) > TOL)
    assert (np.asarray(got["tier"], dtype=object)[mine][clear] == names[clear]).all()
    return len(ids)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("accounts") / "demo.duckdb"
    generate(path, leads=20_000, seed=3)
    return path


@pytest.mark.parametrize("accounts", [
    {"method": "max"},
    {"method": "sum", "cap": 120, "scoring_point_days": 21},
    {"method": "top_k_mean", "k": 3, "scoring_point_days": 45, "thresholds": {"mql": 30, "sql": 50}},
])
def test_account_sql_equals_engine_on_every_demo_account(demo_db, accounts):
    before = file_digest(demo_db)
    n = _compare(demo_db, _config(accounts))
    assert n > 3000
    assert file_digest(demo_db) == before


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "duckdb"])
def test_account_sql_of_other_dialects_reads_back_as_the_same_query(demo_db, dialect):
    config = _config({"method": "top_k_mean", "k": 2})
    back = sqlglot.transpile(export_account_sql(config, dialect), read=dialect, write="duckdb")[0]
    _compare(demo_db, config, sql=back)


def test_messy_account_keys_match_the_engine(tmp_path):
    import duckdb

    db = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(db))
    con.execute('CREATE TABLE contacts ("Contact ID" VARCHAR, "Create Date" TIMESTAMP, "Company Name" VARCHAR, '
                '"Job Title" VARCHAR, "Became Customer" TIMESTAMP)')
    rows = [("c1", T0, " Acme Ltd", "VP", T0 + 9 * DAY), ("c2", T0 + DAY, "Acme Ltd ", "Student", None),
            ("c3", T0 + 2 * DAY, "acme ltd", "VP", None), ("c4", T0 + 3 * DAY, "Select", "VP", T0 + 5 * DAY),
            ("c5", T0 + 4 * DAY, "", "Manager", None), ("c6", T0 + 5 * DAY, None, "VP", None),
            ("c7", T0 + 30 * DAY, "Acme Ltd", "VP", None),  # after Acme Ltd's scoring point: never counts
            ("c8", T0 + 6 * DAY, "O'Brien & Sons", "Manager", None), ("c8", T0 + 60 * DAY, "Other", "VP", None)]
    con.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?)", rows)
    con.close()
    config = config_from_dict({
        "name": "crm",
        "source": {"leads": {"table": "contacts", "id": "Contact ID", "created_at": "Create Date",
                             "account": "Company Name"},
                   "outcome": {"converted_at": "Became Customer"}},
        "evaluation": {"scoring_point_days": 7, "outcome_window_days": 30},
        "fit": [{"type": "categorical", "column": "Job Title", "points": {"VP": 30, "Manager": 10, "Student": -5}}],
        "thresholds": {"mql": 20, "sql": 40}, "bands": [20, 40],
        "accounts": {"method": "sum", "scoring_point_days": 14, "thresholds": {"mql": 30, "sql": 50}},
    })
    assert _compare(db, config) == 3  # 'Acme Ltd' (c1, c2), 'acme ltd' (c3), "O'Brien & Sons" (c8's first row)
    with open_source(db) as source:
        features = extract_features(source, config)
    index = account_index(config, features)
    totals = dict(zip(index.ids.tolist(), account_scores(config, features, score(config, features).total,
                                                         index).total.tolist()))
    assert totals == {"Acme Ltd": 25.0, "acme ltd": 30.0, "O'Brien & Sons": 10.0}
