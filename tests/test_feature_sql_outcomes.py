"""The feature SQL follows the outcome in every form, as the extraction does, lead by lead.

Every outcome form (a conversion time alone; a won / lost / open column alone; both; each
on the leads table and in a separate outcome table; with ``open_lost_after_days``) runs as
DuckDB text on two kinds of data: CRM exports (tests/crm_exports.py) imported with
`leadcal import` as a user would (Pipedrive: states and dates on the deals themselves;
Salesforce: an opportunities table that does not name every lead; HubSpot: a deals table
with a lost and a won deal for some contacts), and a small hand-made set of every edge
(a win after the window, a win without a date, a conversion after the data's end,
``-infinity`` times, several outcome rows per lead, unnamed leads, duplicate ids), whose
expected values are worked out by hand below. The Parquet result, read back by leadcal,
must give the same converted / mature / open per lead (and the same activities, which a
dated outcome cuts) as ``extract_features`` on the tables.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from scoring.cli import main as leadcal
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import ScoringConfig, config_from_dict, config_to_dict, load_config

from . import crm_exports as ce
from .engines.cases import assert_same_features
from .test_feature_set import _feature_folder

T = dt.datetime
WINDOW, POINT = 60, 3

# --------------------------------------------------------------------------- every edge, by hand

# lead, created, won (True won / False lost / None open), outcome date (win or loss), plan
EDGE_LEADS = [
    ("a", T(2024, 1, 1), True, T(2024, 1, 20)),       # won inside the window (Jan 4 + 60 d = Mar 4)
    ("b", T(2024, 1, 1), True, T(2024, 6, 1)),        # won after its window
    ("c", T(2024, 1, 1), True, None),                 # won, no date: converted
    ("d", T(2024, 1, 1), False, None),                # lost, no date
    ("e", T(2024, 1, 1), None, None),                 # open for a year: immature, never lost (unless stale)
    ("f", T(2024, 2, 1), False, T(2024, 2, 3, 6)),    # lost on a date before its scoring point: cuts its events
    ("g", T(2024, 12, 20), True, T(2024, 12, 28)),    # won recently, inside its window
    ("h", T(2024, 12, 20), None, None),               # open, recent
    ("i", T(2024, 3, 1), True, T(2099, 1, 1)),        # a win dated after the data's end: that date is ignored
    ("j", T(2024, 3, 1), True, "-infinity"),          # a win dated -infinity: no date
    ("k", "-infinity", True, T(2024, 3, 5)),          # created -infinity: no creation time, left out
    ("a", T(2024, 5, 1), False, None),                # a later duplicate of 'a': the earliest row counts
    ("z", T(2024, 12, 31), None, None),               # the latest lead: sets the data's end
]
EDGE_END = T(2024, 12, 31)
# extra outcome rows (separate table only): several rows per lead, an unknown lead, a NULL id
EDGE_MORE_ROWS = [
    ("m", T(2024, 2, 1), [(False, T(2024, 2, 20)), (None, None)]),       # lost + open: open
    ("n", T(2024, 2, 1), [(None, None), (True, T(2024, 2, 25)), (False, T(2024, 2, 10))]),  # won (earliest date)
    ("p", T(2024, 2, 1), [(False, T(2024, 3, 1)), (False, None)]),       # lost twice: lost
    ("q", T(2024, 2, 1), [(True, T(2099, 1, 1)), (True, T(2024, 9, 1))]),  # won; only Sep 1 is in the data: late
    ("y", T(2024, 1, 1), []),                                            # not named, window long passed
    ("x", T(2024, 12, 15), []),                                          # not named, window still running
]
EVENTS = [("f", "Demo", T(2024, 2, 2)), ("f", "demo", T(2024, 2, 3)), ("f", "demo", T(2024, 2, 3, 12)),
          ("e", "demo", T(2024, 1, 2)), ("n", "demo", T(2024, 2, 3)), ("k", "demo", T(2024, 3, 1))]


def _edge_db(path: Path, separate: bool, infinite: bool = True) -> Path:
    """The edge leads (and, when ``separate``, their outcome rows in ``deals``); ``infinite=False``
    writes NULL for the ``-infinity`` times (the same outcome: both are missing), for engines without them."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE leads (lead_id VARCHAR, created_at TIMESTAMP, industry VARCHAR, won BOOLEAN, "
                "won_at TIMESTAMP)")
    con.execute("CREATE TABLE deals (lead_id VARCHAR, won BOOLEAN, won_at TIMESTAMP)")
    con.execute("CREATE TABLE events (lead_id VARCHAR, event_type VARCHAR, occurred_at TIMESTAMP)")
    for lead, created, won, at in EDGE_LEADS:
        if not infinite:
            created, at = (None if v == "-infinity" else v for v in (created, at))
        row = [lead, str(created) if created else None] + ([None, None] if separate else [won, str(at) if at else None])
        con.execute("INSERT INTO leads VALUES (?, CAST(? AS TIMESTAMP), 'Retail', ?, CAST(? AS TIMESTAMP))", row)
        if separate and lead != "z":
            con.execute("INSERT INTO deals VALUES (?, ?, CAST(? AS TIMESTAMP))", [lead, won, str(at) if at else None])
    if separate:
        for lead, created, rows in EDGE_MORE_ROWS:
            con.execute("INSERT INTO leads VALUES (?, ?, 'Software', NULL, NULL)", [lead, created])
            for won, at in rows:
                con.execute("INSERT INTO deals VALUES (?, ?, ?)", [lead, won, at])
        con.executemany("INSERT INTO deals VALUES (?, ?, ?)", [("unknown", True, T(2024, 3, 1)),
                                                              (None, True, T(2024, 3, 1))])
    con.executemany("INSERT INTO events VALUES (?, ?, ?)", EVENTS)
    con.close()
    return path


def _edge_config(form: str, separate: bool, stale_days: float | None = None) -> ScoringConfig:
    outcome: dict = {"time": {"converted_at": "won_at"}, "flag": {"converted": "won"},
                     "flag+time": {"converted": "won", "converted_at": "won_at"}}[form]
    if separate:
        outcome["table"] = "deals"
    if stale_days is not None:
        outcome["open_lost_after_days"] = stale_days
    return config_from_dict({
        "name": "edges", "source": {"leads": {}, "events": {}, "outcome": outcome},
        "evaluation": {"scoring_point_days": POINT, "outcome_window_days": WINDOW},
        "fit": [{"type": "categorical", "column": "industry", "points": {"Software": 5}}],
        "engagement": [{"event": "demo", "points": 3, "decay": {"kind": "none"}}],
        "thresholds": {"mql": 3, "sql": 6}, "bands": [3],
    })


def _both(db: Path, config: ScoringConfig, folder: Path):
    """(from the feature SQL's Parquet, from the tables) for ``config`` on ``db``."""
    with open_source(_feature_folder(db, config, folder)) as source:
        got = extract_features(source, config)
    with open_source(db) as source:
        want = extract_features(source, config)
    return got, want


def _check(got, want) -> None:
    """Same leads, outcome, attributes and activities; the same open leads when the outcome has states."""
    assert_same_features(got, want)
    if want.open is None:
        assert got.open is None
    else:
        assert got.open is not None and got.open.tolist() == want.open.tolist()


def _set(features, array) -> set[str]:
    return {lead for lead, v in zip(features.lead_id.tolist(), array.tolist()) if v}


EDGE_CASES = [  # (form, separate, stale days)
    ("time", False, None), ("time", True, None),
    ("flag", False, None), ("flag", True, None),
    ("flag+time", False, None), ("flag+time", True, None),
    ("flag", False, 90), ("flag+time", False, 90), ("flag+time", True, 90),
]
EXPECTED = {  # (form, separate, stale): (converted, mature, open) worked out by hand from the rows above
    # a date alone is a conversion, whatever the state: f, m and p "convert" on their loss dates (and g,
    # immature, has converted already)
    ("time", False, None): ({"a", "f", "g"}, {"a", "b", "c", "d", "e", "f", "i", "j"}, None),
    ("time", True, None): ({"a", "f", "g", "m", "n", "p"},
                           {"a", "b", "c", "d", "e", "f", "i", "j", "m", "n", "p", "q", "y"}, None),
    ("flag", False, None): ({"a", "b", "c", "g", "i", "j"}, {"a", "b", "c", "d", "f", "g", "i", "j"},
                            {"e", "h", "z"}),
    ("flag", True, None): ({"a", "b", "c", "g", "i", "j", "n", "q"},
                           {"a", "b", "c", "d", "f", "g", "i", "j", "n", "p", "q", "y"}, {"e", "h", "m"}),
    ("flag+time", False, None): ({"a", "c", "g", "i", "j"}, {"a", "b", "c", "d", "f", "g", "i", "j"},
                                 {"e", "h", "z"}),
    ("flag+time", True, None): ({"a", "c", "g", "i", "j", "n"},
                                {"a", "b", "c", "d", "f", "g", "i", "j", "n", "p", "q", "y"}, {"e", "h", "m"}),
    ("flag", False, 90): ({"a", "b", "c", "g", "i", "j"}, {"a", "b", "c", "d", "e", "f", "g", "i", "j"},
                          {"e", "h", "z"}),
    ("flag+time", False, 90): ({"a", "c", "g", "i", "j"}, {"a", "b", "c", "d", "e", "f", "g", "i", "j"},
                               {"e", "h", "z"}),
    ("flag+time", True, 90): ({"a", "c", "g", "i", "j", "n"},
                              {"a", "b", "c", "d", "e", "f", "g", "i", "j", "m", "n", "p", "q", "y"},
                              {"e", "h", "m"}),
}


@pytest.mark.parametrize(("form", "separate", "stale"), EDGE_CASES,
                         ids=[f"{f}-{'table' if s else 'leads'}" + (f"-stale{d}" if d else "")
                              for f, s, d in EDGE_CASES])
def test_every_edge_of_every_outcome_form(tmp_path, form, separate, stale):
    db = _edge_db(tmp_path / "edges.duckdb", separate)
    config = _edge_config(form, separate, stale)
    got, want = _both(db, config, tmp_path / "features")
    _check(got, want)
    assert want.data_end == EDGE_END
    assert "k" not in got.lead_id.tolist() and got.lead_id.tolist().count("a") == 1
    converted, mature, is_open = EXPECTED[(form, separate, stale)]
    assert _set(got, got.converted) == converted
    assert _set(got, got.mature) == mature
    assert (got.open is None) if is_open is None else _set(got, got.open) == is_open
    activity = dict(zip(got.lead_id.tolist(), next(iter(got.signals.values())).dense().tolist()))
    # f's outcome is dated Feb 3 06:00, before its scoring point (Feb 4): with the date mapped, its event
    # of Feb 3 12:00 does not count; e's one event counts; k is not a lead
    assert activity["f"] == (3 if form == "flag" else 2) and activity["e"] == 1


# --------------------------------------------------------------------------- CRM exports, imported


@pytest.fixture(scope="module")
def crm(tmp_path_factory) -> dict[str, tuple[Path, ScoringConfig]]:
    """Pipedrive, Salesforce and HubSpot exports imported with no flags: name -> (database, starter config)."""
    out = {}
    for name, n in (("pipedrive", 700), ("salesforce", 800), ("hubspot", 800)):
        folder = tmp_path_factory.mktemp(name)
        export = ce.WRITERS[name](folder / "files", n=n)
        db, store = folder / f"{name}.duckdb", folder / "store"
        assert leadcal(["import", *map(str, export.files), "--db", str(db), "--store", str(store)]) == 0
        out[name] = (db, load_config(store / f"{name}.yaml"))
    return out


def _variant(config: ScoringConfig, form: str, stale_days: float | None) -> ScoringConfig:
    data = config_to_dict(config)
    outcome = dict(data["source"]["outcome"])
    assert outcome["converted"] and outcome["converted_at"]  # the import mapped states and dates
    if form == "time":
        outcome.pop("converted")
    elif form == "flag":
        outcome["converted_at"] = None
    if stale_days is not None:
        outcome["open_lost_after_days"] = stale_days
    data["source"]["outcome"] = outcome
    data["evaluation"] = {"scoring_point_days": POINT, "outcome_window_days": WINDOW}
    return config_from_dict(data)


CRM_CASES = [(name, form, stale) for name in ("pipedrive", "salesforce", "hubspot")
             for form, stale in (("time", None), ("flag", None), ("flag+time", None), ("flag+time", 90))]


@pytest.mark.parametrize(("name", "form", "stale"), CRM_CASES,
                         ids=[f"{n}-{f}" + (f"-stale{d}" if d else "") for n, f, d in CRM_CASES])
def test_crm_exports_in_every_outcome_form(crm, tmp_path, name, form, stale):
    db, starter = crm[name]
    config = _variant(starter, form, stale)
    got, want = _both(db, config, tmp_path / "features")
    _check(got, want)
    assert want.converted.any() and want.mature.any() and (~want.mature).any()
    if form != "time":
        assert want.open.any()  # open deals are in the data, and the feature set counts them
        if stale is None:
            assert not (want.open & want.mature).any()  # never counted lost unless asked
        else:
            assert (want.open & want.mature).any()


# --------------------------------------------------------------------------- reading the set back


def test_the_report_on_a_feature_set_counts_open_leads_as_on_the_tables(tmp_path, capsys):
    """`leadcal report` on the Parquet folder: the same mature, converted and open counts as on the tables."""
    import json

    import yaml

    db = _edge_db(tmp_path / "edges.duckdb", separate=True)
    config = _edge_config("flag+time", True, 90)
    folder = _feature_folder(db, config, tmp_path / "features")
    config_file = tmp_path / "edges.yaml"
    config_file.write_text(yaml.safe_dump(config_to_dict(config)))
    reports = []
    for where in (folder, db):
        capsys.readouterr()
        assert leadcal(["report", "--db", str(where), "--config", str(config_file), "--format", "json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    on_features, on_tables = reports
    keys = ("leads", "mature_leads", "conversions", "open_leads", "open_counted_lost")
    assert {k: on_features[k] for k in keys} == {k: on_tables[k] for k in keys}
    # by hand (EXPECTED): 17 leads, 14 mature, 6 converted; e, h, m open, e and m open > 90 days
    assert (on_tables["mature_leads"], on_tables["open_leads"], on_tables["open_counted_lost"]) == (14, 3, 2)


def test_a_feature_set_judged_by_another_outcome_is_refused(tmp_path):
    """converted / mature were computed in the warehouse: a config that judges the outcome otherwise
    (another column or table, open_lost_after_days) would read wrong numbers, so it is refused."""
    from scoring.data.source import SourceError

    db = _edge_db(tmp_path / "edges.duckdb", separate=True)
    folder = _feature_folder(db, _edge_config("flag+time", True), tmp_path / "features")
    for other in (_edge_config("flag+time", True, 90), _edge_config("flag", True), _edge_config("time", True)):
        with open_source(folder) as source, pytest.raises(SourceError) as err:
            extract_features(source, other)
        text = str(err.value)
        assert ("the outcome was judged by won / lost / open from 'won', win dates from 'won_at' (table 'deals'); "
                "this config's is ") in text and "export the feature SQL of this config" in text
    assert "open leads lost after 90 days" in str(_refusal(folder, _edge_config("flag+time", True, 90)))
    # a set written before the feature SQL said how it judged the outcome: fine for a date alone, not for states
    older = tmp_path / "older"
    older.mkdir()
    time_only = _edge_config("time", True)
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * EXCLUDE (leadcal_outcome) FROM '{_feature_folder(db, time_only, tmp_path / 't')}"
                    f"/*.parquet') TO '{older / 'part-0.parquet'}' (FORMAT parquet)")
    with open_source(older) as source:
        assert extract_features(source, time_only).n == 17
    assert "does not say how its outcome was judged (no column 'leadcal_outcome')" in str(
        _refusal(older, _edge_config("flag+time", True)))


def _refusal(folder: Path, config: ScoringConfig) -> Exception:
    from scoring.data.source import SourceError

    with open_source(folder) as source, pytest.raises(SourceError) as err:
        extract_features(source, config)
    return err.value


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "snowflake", "bigquery", "spark"])
def test_every_dialect_renders_the_three_state_outcome(dialect):
    """Snowflake and BigQuery cannot run here: the text parses back; ISFINITE only where times can be infinite."""
    import sqlglot
    from sqlglot import exp

    from scoring.export.features_sql import export_features_sql

    sql = export_features_sql(_edge_config("flag+time", True, 90), dialect)
    tree = sqlglot.parse_one(sql, read=dialect)
    names = [s.alias_or_name for s in tree.selects]
    assert names[-2:] == ["leadcal_outcome", "leadcal_open"]
    assert ("ISFINITE(" in sql.upper()) == (dialect in ("duckdb", "postgres"))
    assert {"leads", "deals", "events"} <= {t.name for t in tree.find_all(exp.Table)}
