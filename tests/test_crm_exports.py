"""Realistic CRM exports (tests/crm_exports.py), imported with no flags, give the right numbers.

For each export: the mapping proposed with no flags (which file is the leads, the creation
time, the outcome, no id / constant / free text / post-outcome column as a rule), the
counts (leads, mature, converted, open) against the generator's truth with the README's
rules, no open lead counted lost, no post-outcome column in the suggestion, and `report`,
`suggest`, `drift` and `score` with no traceback; the suggestion's hold-out AUC is checked
against a plain scikit-learn logistic regression on the same columns and split. The app
with only LEADCAL_DB set is in test_crm_app.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pytest
import yaml

from scoring.cli import main as leadcal
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.imports.importer import inspect_files
from scoring.model.config import load_config
from scoring.model.features import rule_signal_key
from scoring.registry.store import ConfigStore

from . import crm_exports as ce
from .conftest import file_digest

NAMES = list(ce.WRITERS)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Each export imported once with `leadcal import FILES --db DB` and no flags: {name: Imported}."""
    out = {}
    for name, write in ce.WRITERS.items():
        folder = tmp_path_factory.mktemp(name)
        export = write(folder / "files")
        db, store = folder / f"{name}.duckdb", folder / "store"
        digests = [file_digest(f) for f in export.files]
        code = leadcal(["import", *map(str, export.files), "--db", str(db), "--store", str(store), "--format", "json"])
        assert code == 0
        assert [file_digest(f) for f in export.files] == digests  # the exports are only read
        config = ConfigStore(store).load(name)
        out[name] = (folder, export, db, store, config)
    return out


def _report_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def _clean(names) -> set[str]:
    from scoring.imports.read import clean_name

    return {clean_name(n) for n in names}


@pytest.mark.parametrize("name", NAMES)
def test_the_mapping_proposed_with_no_flags(imported, name):
    folder, export, _, _, _ = imported[name]
    ins = inspect_files(export.files)
    assert ins.ok, ins.problems
    files = {Path(f["file"]).name: f for f in ins.mapping["files"]}
    leads = next(f for f in files.values() if f["role"] == "leads")
    assert Path(leads["file"]).name == export.leads_file
    assert leads["created_at"] == export.created_column  # by evidence, not by name alone
    if export.outcome_file:
        assert files[export.outcome_file]["role"] == "outcome" and "outcome" not in leads
    else:
        assert "outcome" in leads
    fit, activity = _clean(leads["fit"]), _clean(leads["activity"])
    assert export.fit_expected <= fit, export.fit_expected - fit
    # the account key is proposed where the export has one (several leads per company), and only there
    assert (_clean([leads["account"]]) if "account" in leads else {None}) == {export.account}
    assert export.activity_expected <= activity, export.activity_expected - activity
    rules = fit | activity
    assert not rules & export.post_outcome and not rules & export.not_rules, (rules & export.post_outcome,
                                                                               rules & export.not_rules)
    # every post-outcome column was flagged with its reason; the report says why each file got its role
    assert {x["table_column"] for x in ins.leaks} == export.post_outcome
    assert any(export.leads_file in r and "leads file" in r for r in ins.reasons)


@pytest.mark.parametrize("name", NAMES)
def test_counts_and_no_open_lead_counted_lost(imported, name, capsys, tmp_path):
    folder, export, db, store, config = imported[name]
    starter = tmp_path / "starter.yaml"
    starter.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_unset=True)))
    assert leadcal(["report", "--db", str(db), "--config", str(starter), "--format", "json"]) == 0
    result = _report_json(capsys)
    ev = config.evaluation
    expected = export.expected_counts(ev.outcome_window_days, ev.scoring_point_days,
                                      export.data_end() or dt.datetime.now())
    got = {"leads": result["leads"], "mature": result["mature_leads"], "converted": result["conversions"],
           "open": result["open_leads"]}
    assert got == expected
    assert result["open_counted_lost"] in (0, None)
    # per lead, from `leadcal score`: an open lead (named, neither won nor lost) is never mature, never lost
    out = tmp_path / "scores.csv"
    assert leadcal(["score", "--db", str(db), "--config", str(starter), "--out", str(out)]) == 0
    scores = {str(r["lead_id"]): r for r in pacsv.read_csv(out).to_pylist()}
    named = export.named or [True] * len(export.lead_ids)
    open_ids = [i for i, s, n in zip(export.lead_ids, export.state, named) if s is None and n
                and not export.state_only_dates]
    assert open_ids or name in ("flat", "marketing")
    assert all(not scores[i]["mature"] and not scores[i]["converted"] for i in open_ids if i in scores)
    won = {i for i, s in zip(export.lead_ids, export.state) if s}
    assert {i for i, r in scores.items() if r["converted"] and r["mature"]} <= won


def _plain_auc(config, features, split) -> float:
    """A plain scikit-learn logistic regression on the same columns (one-hot categories with missing, numbers
    standardised with a missing flag, activities) and split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    cols = []
    for r in config.fit:
        if r.type == "categorical":
            v = pd.Series(features.categorical[r.column].values()).fillna("(missing)").astype(str).str.lower()
            cols.append(pd.get_dummies(v, prefix=r.column).astype(float))
        else:
            x = pd.Series(features.numeric[r.column])
            cols.append(pd.DataFrame({r.column: x.fillna(x.median()), f"{r.column} missing": x.isna() * 1.0}))
    for r in config.engagement:
        cols.append(pd.DataFrame({r.label: features.feature(rule_signal_key(config, r))}))
    X = pd.concat(cols, axis=1).to_numpy(float)
    train, hold = split.train, split.holdout
    scaler = StandardScaler().fit(X[train])
    model = LogisticRegression(max_iter=5000).fit(scaler.transform(X[train]), features.converted[train])
    return roc_auc_score(features.converted[hold], model.decision_function(scaler.transform(X[hold])))


@pytest.mark.parametrize("name", NAMES)
def test_suggestion_keeps_the_signal_and_leaves_post_outcome_columns_out(imported, name, capsys, tmp_path):
    from scoring.analysis.suggest import suggest_points

    folder, export, db, store, config = imported[name]
    with open_source(db) as source:
        features = extract_features(source, config)
    s = suggest_points(config, features)
    plain = _plain_auc(config, features, s.split)
    # whole points keep the signal: no more than 0.02 below the plain regression (on the pipeline export, with
    # 80 accounts as dummies, the plain one overfits and the WoE-encoded suggestion is 0.04 above it)
    assert s.auc.holdout >= plain - 0.02, (s.auc, plain)
    assert abs(s.auc.holdout - plain) <= 0.02 or name == "pipeline", (s.auc, plain)
    used = {r.column for r in s.config.fit} | {r.column for r in s.config.engagement if r.points}
    assert not used & export.post_outcome
    cap, th = s.config.caps.total, s.config.thresholds
    assert cap.min <= th.mql < th.sql <= cap.max
    # the CLI: text and JSON, no traceback
    starter = tmp_path / "starter.yaml"
    starter.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_unset=True)))
    code = leadcal(["suggest", "--db", str(db), "--config", str(starter), "--out", str(tmp_path / "s.yaml"),
                    "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["auc_before_rounding"]["holdout_auc"] == pytest.approx(s.model_auc.holdout)
    assert load_config(tmp_path / "s.yaml").thresholds == th


@pytest.mark.parametrize("name", NAMES)
def test_drift_checks_or_says_it_cannot(imported, name, capsys, tmp_path):
    folder, export, db, store, config = imported[name]
    starter = tmp_path / "starter.yaml"
    starter.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_unset=True)))
    code = leadcal(["drift", "--db", str(db), "--config", str(starter), "--format", "json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if export.created_column is None:  # no creation times: no cohorts to compare, exit 3 with the reason
        assert code == 3 and "no creation times" in captured.err
    else:
        result = json.loads(captured.out)
        assert code == result["exit_code"] and result["status"] in ("stable", "investigate", "shifted", "unchecked")


# --------------------------------------------------------------------------- post-outcome columns mapped by hand


def test_closed_deal_columns_mapped_by_hand_are_flagged_and_left_out(tmp_path, capsys, monkeypatch):
    """The marketing export with the closed-deals file joined as attributes and its columns as fit rules (the
    issue's AUC 1.000): the import flags them, `suggest` leaves them out by default and says so."""
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    export = ce.write_marketing(tmp_path / "files", n=2000)
    db = tmp_path / "m.duckdb"
    deal_columns = ["business_segment", "lead_type", "business_type"]
    code = leadcal(["import", *map(str, export.files), "--db", str(db), "--role", "closed_deals.csv=attributes",
                    "--outcome", "won_date", *[x for c in ["origin", *deal_columns] for x in ("--fit", c)],
                    "--format", "json", "--starter-config", str(tmp_path / "starter.yaml")])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    flagged = {x["column"]: x for x in report["leakage"]}
    assert set(deal_columns) <= set(flagged) and all(flagged[c]["kept"] for c in deal_columns)
    assert all(flagged[c]["reason"] == "converted only" for c in deal_columns)
    out = tmp_path / "s.yaml"
    assert leadcal(["suggest", "--db", str(db), "--config", str(tmp_path / "starter.yaml"), "--out", str(out),
                    "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {x["column"] for x in result["left_out"]} == set(deal_columns)
    assert any("Left out as possible leakage" in n for n in result["notes"])
    suggested = load_config(out)
    assert all(not any(r.points.values()) and not r.other and not r.missing
               for r in suggested.fit if r.column in deal_columns)
    auc = {r["model"]: r for r in result["auc"]}["suggested"]["holdout_auc"]
    assert auc < 0.8  # origin alone: no 1.000 from post-outcome columns
    # put back on purpose: the hold-out AUC jumps, which is what the flag warned about
    assert leadcal(["suggest", "--db", str(db), "--config", str(tmp_path / "starter.yaml"), "--out",
                    str(tmp_path / "s2.yaml"), "--include", "business_segment", "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["included"] == ["business_segment"]
    assert {r["model"]: r for r in again["auc"]}["suggested"]["holdout_auc"] > 0.95


def test_sales_filled_columns_mapped_by_hand_are_left_out_of_the_suggestion(tmp_path, capsys, monkeypatch):
    """The flat export with 'Tags' and 'Lead Quality' mapped as fit rules: flagged (IV above 1.0) at import and on
    the Attributes page's definition, left out of `suggest` in text and JSON unless --include."""
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    export = ce.write_flat(tmp_path / "files", n=2000)
    db = tmp_path / "f.duckdb"
    code = leadcal(["import", *map(str, export.files), "--db", str(db), "--fit", "Tags", "--fit", "Lead Quality",
                    "--fit", "Lead Origin", "--activity", "Total Time Spent on Website",
                    "--starter-config", str(tmp_path / "starter.yaml")])
    assert code == 0
    text = capsys.readouterr().out
    assert "Mapped, but looks post-outcome" in text and "tags: IV" in text
    out = tmp_path / "s.yaml"
    assert leadcal(["suggest", "--db", str(db), "--config", str(tmp_path / "starter.yaml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "left out (possible leakage): tags: IV" in text and "--include tags" in text
    assert "left out (possible leakage): lead_quality: IV" in text
    assert "suggested before rounding to whole points" in text
    from scoring.analysis.attributes import attribute_table

    config = load_config(tmp_path / "starter.yaml")
    with open_source(db) as source:
        features = extract_features(source, config)
    table = {a.attribute: a for a in attribute_table(config, features).attributes}
    assert table["tags"].leakage and table["lead_quality"].leakage  # the page flags the same columns
    assert not table["lead_origin"].leakage and not table["total_time_spent_on_website"].leakage


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("order", ["day", "month"])
def test_day_first_and_month_first_dates_are_read_from_the_values(tmp_path, order, monkeypatch):
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    export = ce.write_dates(tmp_path / "files", order)
    ins = inspect_files(export.files)
    assert ins.ok, ins.problems
    assert any(f"'Date Created': {order}-first" in r for r in ins.reasons)
    db = tmp_path / "d.duckdb"
    assert leadcal(["import", *map(str, export.files), "--db", str(db)]) == 0
    con = duckdb.connect(str(db), read_only=True)
    got = dict(con.execute("SELECT lead_id, created_at FROM leads").fetchall())
    con.close()
    assert got == dict(zip(export.lead_ids, export.created))


def test_dates_that_read_both_ways_are_asked_about(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    export = ce.write_dates(tmp_path / "files", "ambiguous")
    ins = inspect_files(export.files)
    assert any("read both day-first and month-first" in p and "--date-order" in p for p in ins.problems)
    db = tmp_path / "d.duckdb"
    assert leadcal(["import", *map(str, export.files), "--db", str(db)]) == 1
    assert "--date-order" in capsys.readouterr().err and not db.exists()  # nothing written
    assert leadcal(["import", *map(str, export.files), "--db", str(db), "--date-order", "day-first"]) == 0
    con = duckdb.connect(str(db), read_only=True)
    got = dict(con.execute("SELECT lead_id, created_at FROM leads").fetchall())
    con.close()
    # written day first: read as given
    assert got == {i: dt.datetime(t.year, t.month, t.day) for i, t in zip(export.lead_ids, export.created)}
    assert np.mean([t.day != t.month for t in export.created]) > 0.5  # the order matters for most of them


# --------------------------------------------------------------------------- every outcome form, every command


def _form_file(folder: Path, form: str, n: int) -> Path:
    """A leads export with creation times and the outcome in one form: yes/no, stage, date, stage + date, none."""
    rng = np.random.default_rng(21)
    start = dt.datetime(2024, 1, 1)
    created = sorted(start + dt.timedelta(minutes=int(m)) for m in rng.uniform(0, 540 * 1440, n))
    end = created[-1]
    source = rng.choice(["Web", "Event", "Partner"], n)
    visits = rng.poisson(2.0, n)
    p = 1 / (1 + np.exp(-(-1.2 + (source == "Partner") * 1.0 + 0.3 * visits)))
    win = rng.random(n) < p
    rows = []
    for i in range(n):
        closes = created[i] + dt.timedelta(days=int(rng.integers(5, 120)))
        state = ("Won" if win[i] else "Lost") if closes <= end else "Open"
        date = closes.strftime("%Y-%m-%d") if state == "Won" else ""
        outcome = {"yes/no": {"Won": "Yes", "Lost": "No", "Open": ""}[state], "stage": state, "date": date,
                   "stage+date": state}[form] if form != "none" else None
        row = [f"L{i:05d}", created[i].strftime("%Y-%m-%d %H:%M"), str(source[i]), str(visits[i])]
        if form == "stage+date":
            row += [outcome, closes.strftime("%Y-%m-%d") if state != "Open" else ""]
        elif outcome is not None:
            row.append(outcome)
        rows.append(row)
    header = ["Lead ID", "Created", "Lead Source", "Page Visits"] + {
        "yes/no": ["Converted"], "stage": ["Status"], "date": ["Converted Date"],
        "stage+date": ["Stage", "Close Date"], "none": []}[form]
    return ce._write(folder / "leads.csv", header, rows)


@pytest.mark.parametrize("form", ["yes/no", "stage", "date", "stage+date"])
@pytest.mark.parametrize("n", [800, 6000])
def test_every_outcome_form_in_every_command_without_a_traceback(tmp_path, capsys, monkeypatch, form, n):
    """The issue's crash: a creation time and a yes/no outcome made `drift` and the Data quality page raise
    (quote(None)) and exit 1. Every form now works in report, score, suggest and drift; drift checks (0/1/2)
    when cohorts are big enough and exits 3, saying why, when none can be judged."""
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    path = _form_file(tmp_path, form, n)
    db, starter = tmp_path / "f.duckdb", tmp_path / "starter.yaml"
    assert leadcal(["import", str(path), "--db", str(db), "--starter-config", str(starter)]) == 0
    capsys.readouterr()
    config = load_config(starter)
    assert (config.source.outcome.converted is not None) == (form != "date")
    assert (config.source.outcome.converted_at is not None) == (form in ("date", "stage+date"))
    for argv in (["report", "--format", "json"], ["score", "--out", str(tmp_path / "s.csv")],
                 ["suggest", "--out", str(tmp_path / "x.yaml")]):
        code = leadcal([argv[0], "--db", str(db), "--config", str(starter), *argv[1:]])
        err = capsys.readouterr().err
        assert code == 0 and "Traceback" not in err, (argv[0], err)
    code = leadcal(["drift", "--db", str(db), "--config", str(starter)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if n >= 6000:  # about 330 leads a month: cohorts are judged
        assert code in (0, 1, 2), out
    else:  # about 45 a month: no cohort can be judged, and drift says so instead of 'stable'
        assert code == 3 and "drift could not be checked" in out
    from scoring.analysis.dataquality import quality_report

    with open_source(db) as source:
        features = extract_features(source, config)
        report = quality_report(source, config, features).to_dict()
    assert report["cohorts"] and all(c["leads"] > 0 for c in report["cohorts"])


def test_no_outcome_at_all_is_one_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    path = _form_file(tmp_path, "none", 300)
    db = tmp_path / "f.duckdb"
    assert leadcal(["import", str(path), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "no column could be the outcome" in err and "leads.csv" in err and "Traceback" not in err
    assert not db.exists()


def test_a_per_second_activity_is_judged_by_how_much(imported):
    """The issue: 'Total Time Spent on Website' read as any activity or none had IV 0.006; read in ranges it
    carries the signal. The Attributes page's IV equals pandas' on the same ranges (none, then quintiles)."""
    from scoring.analysis.attributes import attribute_table

    _, _, db, _, config = imported["flat"]
    with open_source(db) as source:
        features = extract_features(source, config)
    table = {a.attribute: a for a in attribute_table(config, features).attributes}
    attr = table["total_time_spent_on_website"]
    m = features.mature
    seconds = features.numeric["total_time_spent_on_website"]
    y = pd.Series(features.converted[m])
    positive = pd.Series(seconds[seconds > 0])
    cuts = [c for c in sorted(set(positive.quantile([0.2, 0.4, 0.6, 0.8], interpolation="higher")))
            if c > positive.min()]
    binned = pd.cut(pd.Series(seconds[m]), [0.0, *cuts, np.inf], right=False).astype(str)
    keys = pd.Series(np.where(seconds[m] > 0, binned, "none"))

    def iv(keys: pd.Series) -> float:
        t = pd.DataFrame({"k": keys, "y": y}).groupby("k")["y"].agg(["sum", "count"])
        c, o = t["sum"].astype(float), (t["count"] - t["sum"]).astype(float)
        pc, po = c.where(c > 0, 0.5) / c.sum(), o.where(o > 0, 0.5) / o.sum()
        return float(((pc - po) * np.log(pc / po)).sum())

    assert len(attr.rows) == len(cuts) + 2
    assert attr.iv == pytest.approx(iv(keys), rel=1e-9)
    any_or_none = iv(pd.Series(np.where(seconds[m] > 0, "any", "none")))
    assert attr.iv > 5 * any_or_none and attr.iv > 0.1


def test_no_date_qualifies_as_creation_time_and_the_import_says_so(tmp_path):
    """Dates filled on part of the rows only (a last-activity date) are no creation time: the proposal imports
    without one and says which dates it checked and how to give one, instead of nothing."""
    rows = [[f"P{i}", "Yes" if i % 3 == 0 else "No", "2024-03-0%d" % (1 + i % 9) if i % 4 == 0 else "",
             ["A", "B"][i % 2]] for i in range(200)]
    path = ce._write(tmp_path / "leads.csv", ["Person ID", "Converted", "Last Activity Date", "Tier"], rows)
    ins = inspect_files([path])
    leads = ins.mapping["files"][0]
    assert leads["created_at"] is None
    asked = [n for n in ins.notes if "no date/time column is filled on nearly every row" in n]
    assert asked and "'Last Activity Date'" in asked[0] and "--created" in asked[0]
