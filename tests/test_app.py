"""The app as AppTest runs it: pages run on the demo, controls change exactly what scoring says."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from scoring.analysis.calibrate import calibration_view
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.export.band_figure import band_figure
from scoring.model.config import config_from_dict, load_config

from .conftest import DEFAULT_CONFIG, ROOT
from .kpis_shown import shown_band_charts, shown_kpis
from .page_controls import control

APP = str(ROOT / "app.py")
TIMEOUT = 120


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    generate(path, leads=20_000, seed=11)
    return path


@pytest.fixture
def app(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADCAL_DB", str(demo_db))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def _by_key(elements, key):
    found = [e for e in elements if getattr(e, "key", None) == key]
    assert found, f"no element with key {key!r}"
    return found[0]


def _shown(elements):
    """The texts of message elements as the reader sees them (Markdown escapes removed)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


def _state(at):
    """The session's draft state (ui.session.DraftState)."""
    return at.session_state["leadcal_state"]


def _key(at, name):
    """A draft control's key in the current generation."""
    return f"v{_state(at).generation}:{name}"


def _ctl(at, kind, name):
    return control(at, kind, _key(at, name))


def _open_section(at, label):
    """Open a section under the band chart; only the open one is computed."""
    _by_key(at.get("button_group"), "calibrate_section").set_value(label).run()
    assert not at.exception, at.exception


def _table(at, column):
    """A read-only table of the page, found by a column only it has (tables carry no key)."""
    found = [d.value for d in at.dataframe if getattr(d, "key", None) is None and column in d.value.columns]
    assert len(found) == 1, f"expected one table with column {column!r}, found {len(found)}"
    return found[0]


def _expected_view(db, draft, approved=None):
    approved = approved or load_config(DEFAULT_CONFIG)
    with open_source(db) as source:
        features = extract_features(source, draft)
    return calibration_view(draft, approved, features, (0.10, 0.15), None)


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def _check_page_matches(at, view, revenue: bool = True):
    metrics = {m.label: m.value for m in shown_kpis(at)}
    k = view.draft.kpis
    assert metrics["AUC"] == f"{k.auc:.3f}"
    assert metrics["Gini"] == f"{k.gini:.3f}"
    assert metrics["MQLs per month"] == f"{k.mql_per_month:,.0f}"
    assert metrics["MQL conversion"] == _pct(k.mql.rate)
    assert metrics["SQL conversion"] == _pct(k.sql.rate)
    assert metrics["Conversions ≥ MQL"] == _pct(k.capture_at_mql)
    # without deal values in the data (a warehouse feature set) the revenue KPI is not shown
    assert metrics["Won revenue ≥ MQL"] == (_pct(view.draft.revenue_at_mql.share) if revenue else "-")
    table = _table(at, "capture")
    expected = list(reversed(view.draft.result.bands))
    assert table["band"].tolist() == [b.band for b in expected]
    assert table["leads"].tolist() == [b.leads for b in expected]
    assert table["conversions"].tolist() == [b.conversions for b in expected]
    for got, want in zip(table["rate"].tolist(), [b.rate for b in expected]):
        assert (want is None and (got is None or math.isnan(got))) or got == pytest.approx(want)
    # the band chart draws the scoring's numbers: the draft's bands, the approved model's, the thresholds
    (chart,) = shown_band_charts(at)
    want = band_figure(view.draft.result, view.approved.result).payload()
    assert {k: chart[k] for k in ("bands", "approved", "aligned", "lines")} == {
        k: want[k] for k in ("bands", "approved", "aligned", "lines")}
    assert [b["leads"] for b in chart["bands"]] == [b.leads for b in view.draft.result.bands]


def test_page_runs_on_demo_and_shows_the_default(app, demo_db):
    default = load_config(DEFAULT_CONFIG)
    _check_page_matches(app, _expected_view(demo_db, default))
    sidebar = " ".join(m.value for m in app.sidebar.markdown)
    assert "20,000" in sidebar and "leads" in sidebar
    # draft == approved: no changes listed
    _open_section(app, "Changes vs approved")
    assert any("The draft is the approved model." in t for t in _shown(app.info))


def test_the_hidden_warm_up_of_a_new_session_is_gone_once_the_page_is_drawn(app):
    """ui.browser_warm_up: the first run drew one metric, chart and table for the browser's sake and took
    them away after the page; only the page's own elements are left."""
    labels = [m.label for m in shown_kpis(app)]
    assert "warm-up" not in labels and "AUC" in labels
    assert app.session_state["leadcal_browser_warmed_up"] is True  # a later run of this session draws none


def test_revenue_kpi_and_section_show_the_won_value_of_the_draft(app, demo_db):
    from scoring.analysis.calibrate import revenue_view
    from scoring.base.numbers import money

    _ctl(app, "slider", "thresholds").set_value((50, 70))
    app.run()
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["thresholds"] = {"mql": 50.0, "sql": 70.0}
    draft = config_from_dict(data)
    view = _expected_view(demo_db, draft)
    with open_source(demo_db) as source:
        features = extract_features(source, draft)
    rev = revenue_view(view, features).draft
    metrics = {m.label: m for m in shown_kpis(app)}
    # the KPI: share of won value at or above MQL, its change from the approved model (MQL 40) in points
    assert metrics["Won revenue ≥ MQL"].value == _pct(rev.mql.share)
    assert metrics["Won revenue ≥ MQL"].delta == f"{100 * (rev.mql.share - view.approved.revenue_at_mql.share):+,.1f} pts"
    _open_section(app, "Revenue")
    table = _table(app, "won_deals")
    expected = list(reversed(rev.bands))
    assert table["band"].tolist() == [b.band for b in expected]
    assert table["won_deals"].tolist() == [b.won_deals for b in expected]
    assert table["won_value"].tolist() == [round(b.won_value) for b in expected]
    metrics = {m.label: m.value for m in shown_kpis(app)}
    assert metrics["Revenue per MQL"] == money(rev.mql.per_lead)
    assert metrics["Value-weighted AUC"] == f"{rev.weighted_auc:.3f}"
    assert metrics["Won value ≥ MQL"] == money(rev.mql.won_value, None, compact=True)
    moves = _table(app, "deals out")
    assert moves["deals out"].tolist()[0] > 0  # MQL 40 -> 50 drops won deals below the line


def test_account_view_shows_the_account_table_and_follows_a_slider(app, demo_db):
    from scoring.analysis.calibrate import account_view, drill

    _by_key(app.get("button_group"), "calibrate_level").set_value("Accounts").run()
    assert not app.exception, app.exception
    _ctl(app, "slider", "eng:0:points").set_value(5)  # a lead-level slider moves the account scores too
    app.run()
    assert not app.exception, app.exception
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["engagement"][0]["points"] = 5.0
    draft = config_from_dict(data)
    view = _expected_view(demo_db, draft)
    with open_source(demo_db) as source:
        features = extract_features(source, draft)
    expected = account_view(view, features)
    metrics = {m.label: m for m in shown_kpis(app)}
    assert metrics["Account AUC"].value == f"{expected.draft.auc:.3f}"
    assert metrics["MQA conversion"].value == _pct(expected.draft.mqa.rate)
    assert metrics["Conversions ≥ MQA"].value == _pct(expected.draft.capture_at_mqa)
    assert metrics["Account AUC"].delta == f"{expected.draft.auc - expected.approved.auc:+,.3f}"
    table = _table(app, "capture")
    rows = list(reversed(expected.draft.bands))
    assert table["leads"].tolist() == [b.leads for b in rows] and sum(table["leads"]) > 2000
    assert table["conversions"].tolist() == [b.conversions for b in rows]
    assert "AUC" not in metrics  # the lead KPIs are not shown in the account view
    (chart,) = shown_band_charts(app)  # the account band chart, not the lead one
    assert [(b["band"], b["leads"], b["conversions"]) for b in chart["bands"]] == [
        (b.band, b.leads, b.conversions) for b in expected.draft.bands]
    assert chart["unit"] == "accounts" and chart["lines"][0]["label"] == f"MQA {draft.accounts.thresholds.mql:g}"
    # an account band with fewer than 30 mature accounts says so where its rate is shown
    from ui.text import plain

    small = [b for b in expected.draft.bands if b.small and (b.leads or b.immature)]
    assert small and [f"Band {b.band} of the draft has only {b.leads} mature accounts" for b in small] == [
        w.split(" (fewer")[0] for w in expected.warnings]
    assert [w.value for w in app.warning if "mature accounts" in w.value] == [plain(w) for w in expected.warnings]
    # the drill-down: the best account's leads, which of them count
    leads = _table(app, "counted")
    pick = _by_key(app.selectbox, "account_pick").value
    assert pick in expected.top
    best = drill(view, features, pick)
    assert leads["lead_id"].tolist() == [str(x.lead_id) for x in best.leads]
    assert leads["counted"].tolist() == [x.counted for x in best.leads]
    # the MQA / SQA slider and the method choice change the draft's account view only
    _ctl(app, "slider", "account_thresholds").set_value((60, 80))
    _ctl(app, "selectbox", "account_method").set_value("top_k_mean")
    app.run()
    assert not app.exception, app.exception
    data["accounts"]["thresholds"] = {"mql": 60.0, "sql": 80.0}
    data["accounts"]["method"] = "top_k_mean"
    draft = config_from_dict(data)
    view = _expected_view(demo_db, draft)
    expected = account_view(view, features)
    metrics = {m.label: m.value for m in shown_kpis(app)}
    assert metrics["MQA conversion"] == _pct(expected.draft.mqa.rate)
    assert metrics["Account AUC"] == f"{expected.draft.auc:.3f}"
    assert _state(app).data["accounts"]["method"] == "top_k_mean"
    _by_key(app.get("button_group"), "calibrate_level").set_value("Leads").run()
    assert "AUC" in {m.label for m in shown_kpis(app)}


def test_points_and_threshold_sliders_change_table_and_kpis(app, demo_db):
    before = {m.label: m.value for m in shown_kpis(app)}
    _ctl(app, "slider", "eng:0:points").set_value(5)  # demo_request 20 -> 5
    _ctl(app, "slider", "thresholds").set_value((30, 60))
    app.run()
    assert not app.exception, app.exception
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["engagement"][0]["points"] = 5.0
    data["thresholds"]["mql"] = 30.0
    draft = config_from_dict(data)
    view = _expected_view(demo_db, draft)
    _check_page_matches(app, view)
    after = {m.label: m.value for m in shown_kpis(app)}
    assert after["AUC"] != before["AUC"] and after["MQLs per month"] != before["MQLs per month"]
    _open_section(app, "Movers")
    movers = _table(app, "direction")
    assert movers["leads"].tolist() == [m.leads for m in view.movers]
    _open_section(app, "Changes vs approved")
    diff = _table(app, "what")
    assert set(diff["what"]) == {"thresholds.mql", "engagement 'demo_request' points"}


def test_invalid_draft_is_reported_and_not_saved(app):
    _ctl(app, "slider", "thresholds").set_value((60, 60))  # the handles meet: MQL must stay below SQL
    app.run()
    assert not app.exception
    assert any("mql (60) must be below sql (60)" in t for t in _shown(app.error))
    assert _by_key(app.button, "save").disabled
    assert not shown_kpis(app)  # nothing scored is shown for a draft the controls do not show


def test_save_draft_adds_a_version_that_loads_back(app, tmp_path):
    from scoring.registry.store import ConfigStore, tree_digest

    _ctl(app, "slider", "eng:1:points").set_value(11)
    app.run()
    _by_key(app.text_input, "save_name:default").input("trial-heavy")
    _by_key(app.text_input, "save_note").input("trial sign-ups matter less")
    _by_key(app.button, "save").click()
    app.run()
    assert not app.exception, app.exception
    store = ConfigStore(tmp_path / "store")
    assert any("trial-heavy@1" in t for t in _shown(app.success))
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["engagement"][1]["points"] = 11.0
    data["name"] = "trial-heavy"
    assert store.load("trial-heavy", 1) == config_from_dict(data)
    v1 = store.get("trial-heavy", 1)
    assert v1.note == "trial sign-ups matter less" and v1.parent is None
    # saving the unchanged draft again adds nothing and says which version it equals
    before = tree_digest(store.root / "models" / "trial-heavy")
    _by_key(app.button, "save").click()
    app.run()
    assert any("the same as trial-heavy@1" in t for t in _shown(app.info)), [i.value for i in app.info]
    assert tree_digest(store.root / "models" / "trial-heavy") == before
    # a changed draft adds version 2 and leaves version 1 as it was
    _ctl(app, "slider", "eng:1:points").set_value(12)
    app.run()
    _by_key(app.button, "save").click()
    app.run()
    assert any("trial-heavy@2" in t for t in _shown(app.success))
    after = tree_digest(store.root / "models" / "trial-heavy")
    assert {k: after[k] for k in before} == before
    assert [a["action"] for a in store.audit()] == ["save", "save"]
    assert store.get("trial-heavy", 2).parent == "trial-heavy@1"  # started from the saved version
    # load version 1 back, then reset to the approved model
    _by_key(app.selectbox, "load_pick").set_value("trial-heavy@1")
    app.run()
    _by_key(app.button, "load").click()
    app.run()
    assert _ctl(app, "slider", "eng:1:points").value == 11
    _by_key(app.button, "reset").click()
    app.run()
    assert _ctl(app, "slider", "eng:1:points").value == 15


def test_broken_database_path_gives_a_message_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADCAL_DB", str(tmp_path / "missing.duckdb"))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert any("database file not found" in t and "missing.duckdb" in t for t in _shown(at.error))
    assert not (tmp_path / "missing.duckdb").exists()


def test_first_start_generates_the_demo(tmp_path, monkeypatch):
    monkeypatch.delenv("LEADCAL_DB", raising=False)
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    assert (tmp_path / "data" / "demo.duckdb").exists()
    assert any(m.label == "AUC" for m in shown_kpis(at))


def test_segment_filter_restricts_the_leads(app, demo_db):
    seg = _by_key(app.selectbox, "segment")
    seg.set_value("Enterprise")
    app.run()
    assert not app.exception
    default = load_config(DEFAULT_CONFIG)
    with open_source(demo_db) as source:
        features = extract_features(source, default)
    cat = features.categorical["segment"]
    mask = cat.values() == "Enterprise"
    view = calibration_view(default, default, features.subset(mask), (0.10, 0.15), None)
    _check_page_matches(app, view)


def test_configs_page_lists_diffs_and_approves(app, demo_db, tmp_path):
    from scoring.registry.store import ConfigStore

    store = ConfigStore(tmp_path / "store")
    default = load_config(DEFAULT_CONFIG)
    store.save("default", default, author="ann", note="as shipped")
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["thresholds"]["mql"] = 35.0
    store.save("default", config_from_dict(data), author="bo", note="lower MQL", parent="default@1")
    at = app.switch_page("pages/configs.py")
    at.run()
    assert not at.exception, at.exception
    versions = _table(at, "status")
    assert versions["version"].tolist() == ["default@2", "default@1"]
    assert versions["status"].tolist() == ["draft", "draft"]
    assert _table(at, "what")["what"].tolist() == ["thresholds.mql"]
    # approving without the marketing sign-off is refused and writes nothing
    assert _by_key(at.selectbox, "approve_pick:0").value is None  # nothing is picked for the user
    _by_key(at.selectbox, "approve_pick:0").set_value("default@2")
    at.run()
    _by_key(at.text_input, "approve:0:default@2:sales").input("Sam Sales")
    _by_key(at.text_area, "approve:0:default@2:rationale").input("MQL 35 fits sales capacity")
    _submit(at, "Approve default@2...")
    assert any("missing sign-off from: marketing" in t for t in _shown(at.error))
    assert store.approval("default", 2) is None and "approval_pending" not in at.session_state
    _by_key(at.text_input, "approve:0:default@2:marketing").input("Mia Marketing")
    _submit(at, "Approve default@2...")
    assert store.approval("default", 2) is None  # not yet: the dialog asks first
    assert any("Approve **default@2**?" in t for t in _shown(at.markdown))
    _by_key(at.button, "confirm_approve").click()
    at.run()
    assert not at.exception, at.exception
    assert any("champion is now default@2" in t for t in _shown(at.success))
    record = store.approval("default", 2)
    assert record["rationale"] == "MQL 35 fits sales capacity"
    assert record["approved_by"] == "Sam Sales, Mia Marketing"  # the sign-offs, not the server's login
    expected = _expected_view(demo_db, store.load("default", 2)).draft.result
    assert record["calibration"]["result"]["bands"] == json_round([b.to_dict() for b in expected.bands])
    assert record["data"]["leads_scored"] == 20_000
    # the calibrate page now compares against the new champion (the unchanged draft follows it)
    at = at.switch_page("pages/calibrate.py")
    at.run()
    assert not at.exception
    assert any("default@2" in c.value for c in at.sidebar.caption)
    assert _ctl(at, "slider", "thresholds").value == (35, 60)


def _submit(at, label):
    """Click a form's submit button by its label."""
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}: {[b.label for b in at.button]}"
    found[0].click()
    at.run()
    assert not at.exception, at.exception


def json_round(value):
    import json

    return json.loads(json.dumps(value))


def test_drift_page_scores_the_cohorts_once_for_the_same_choices(app, monkeypatch):
    import scoring.analysis.monitor as monitor_module

    import streamlit as st

    st.cache_data.clear()  # nothing left from another test's visit
    calls = []
    real = monitor_module.assemble
    monkeypatch.setattr(monitor_module, "assemble", lambda *a, **k: calls.append(a[4]) or real(*a, **k))
    at = app.switch_page("pages/drift.py")
    at.run()
    at = at.switch_page("pages/configs.py").run().switch_page("pages/drift.py").run()  # away and back
    assert not at.exception, at.exception
    assert calls == ["month"]
    at.radio(key="drift_grain").set_value("week").run()  # a new choice is computed
    assert calls == ["month", "week"]


def test_attributes_table_is_counted_once_for_the_same_data_and_settings(app, monkeypatch):
    import streamlit as st

    import scoring.analysis.attributes as attributes_module

    st.cache_resource.clear()
    calls = []
    real = attributes_module.attribute_table
    monkeypatch.setattr(attributes_module, "attribute_table",
                        lambda *a, **k: calls.append(k["min_leads"]) or real(*a, **k))
    at = app.switch_page("pages/attributes.py")
    at.run()
    at = at.switch_page("pages/configs.py").run().switch_page("pages/attributes.py").run()  # away and back
    assert not at.exception, at.exception
    assert calls == [30]
    at.number_input(key="attr_min_leads").set_value(50).run()  # a new setting is counted again
    assert calls == [30, 50]


def test_drift_page_finds_the_demo_drift(app, demo_db):
    from scoring.analysis.monitor import monitor

    at = app.switch_page("pages/drift.py")
    at.run()
    assert not at.exception, at.exception
    expected = monitor(load_config(DEFAULT_CONFIG), str(demo_db)).to_dict()
    assert expected["status"] in ("investigate", "shifted")
    banner = _shown(at.warning if expected["status"] == "investigate" else at.error)[0]
    assert f"would exit {expected['exit_code']}" in banner
    assert "email_open" in banner
    table = _table(at, "outcomes known")
    assert table["PSI"].dropna().round(6).tolist() == [
        round(c["psi"], 6) for c in expected["drift"]["cohorts"] if c["psi"] is not None]


def test_data_quality_page_runs_and_matches_the_report(app, demo_db):
    from scoring.analysis.dataquality import quality_report

    at = app.switch_page("pages/data_quality.py")
    at.run()
    assert not at.exception, at.exception
    default = load_config(DEFAULT_CONFIG)
    with open_source(demo_db) as source:
        features = extract_features(source, default)
        expected = quality_report(source, default, features, "month", 0.85).to_dict()
    table = _table(at, "leads")
    assert table["leads"].tolist() == [c["leads"] for c in expected["cohorts"]]
    assert table["seniority"].round(9).tolist() == [round(c["filled"]["seniority"], 9) for c in expected["cohorts"]]
    assert bool(at.success) == (not expected["alarms"])


def test_a_rerun_frees_the_previous_draft_without_the_cycle_collector(app):
    """Each rerun's draft view (one float per lead x a few: 250 MB at 10M leads) is freed by
    reference counting when the next rerun replaces it, not left for the cycle collector
    (a function defined in a page script kept its whole namespace in a cycle)."""
    import gc

    from scoring.analysis.calibrate import CalibrationView

    gc.collect()
    gc.disable()  # what is still tracked afterwards is alive or cyclic garbage
    try:
        for value in (3.0, 4.0, 5.0, 6.0):
            _ctl(app, "slider", "eng:0:points").set_value(int(value))
            app.run()
            assert not app.exception, app.exception
        views = [o for o in gc.get_objects() if isinstance(o, CalibrationView)]
    finally:
        gc.enable()
    assert len(views) <= 1, f"{len(views)} calibration views still in memory after 4 reruns"
