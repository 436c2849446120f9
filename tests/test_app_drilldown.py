"""The Calibrate page's drill-down, as AppTest runs it: open a band and a mover group, open one lead;
every count and point is what `scoring` computes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from scoring.analysis.calibrate import calibration_view
from scoring.analysis.explain import explain
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import config_from_dict, load_config

from .conftest import DEFAULT_CONFIG, ROOT

APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    generate(path, leads=20_000, seed=11)
    return path


@pytest.fixture
def app(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADCAL_DB", str(demo_db))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _by_key(elements, key):
    found = [e for e in elements if getattr(e, "key", None) == key]
    assert found, f"no element with key {key!r}"
    return found[0]


def _tables(at, column):
    """The page's tables with a column only they have, in page order (AppTest gives tables no key)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with column {column!r}"
    return found


def _text(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _counts(at) -> tuple[int, int, int, int]:
    (caption,) = [_text(c.value) for c in at.caption if " leads in " in c.value]
    m = re.match(r"([\d,]+) leads in .*: ([\d,]+) mature, ([\d,]+) converted, ([\d,]+) immature", caption)
    return tuple(int(g.replace(",", "")) for g in m.groups())


def _run(at):
    at.run()
    assert not at.exception, at.exception


def test_drill_into_a_band_and_a_mover_group_and_explain_one_lead(app, demo_db):
    assert not [e for e in app.selectbox if getattr(e, "key", None) == "drill_kind"]  # closed: not drawn
    state = app.session_state["leadcal_state"]
    _by_key(app.slider, f"v{state.generation}:eng:0:points").set_value(5)  # demo_request 20 -> 5
    _by_key(app.slider, f"v{state.generation}:thresholds").set_value((30, 60))
    _run(app)
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["engagement"][0]["points"] = 5.0
    data["thresholds"]["mql"] = 30.0
    draft, approved = config_from_dict(data), load_config(DEFAULT_CONFIG)
    with open_source(demo_db) as source:
        features = extract_features(source, approved)
    view = calibration_view(draft, approved, features)

    app.session_state["drilldown"] = True  # open the drill-down expander
    _run(app)
    _by_key(app.selectbox, "drill_value:band").set_value("40–50")
    _run(app)
    band = next(b for b in view.draft.result.bands if b.band == "40–50")
    leads, mature, conversions, immature = _counts(app)
    assert (mature, conversions, immature) == (band.leads, band.conversions, band.immature)
    assert leads == band.leads + band.immature
    table = _tables(app, "draft_tier")[0]
    assert len(table) == min(200, leads) and table["draft_score"].between(40, 50, inclusive="left").all()
    top = view.draft.scores.total[(view.draft.scores.total >= 40) & (view.draft.scores.total < 50)].max()
    assert table["draft_score"].iloc[0] == np.floor(top * 100) / 100

    _by_key(app.selectbox, "drill_kind").set_value("Mover group")
    _run(app)
    _by_key(app.selectbox, "drill_value:moved").set_value("MQL up")
    _run(app)
    group = next(m for m in view.movers if (m.line, m.direction) == ("MQL", "up"))
    assert _counts(app)[:3] == (group.leads, group.mature, group.conversions) and group.leads > 0
    table = _tables(app, "draft_tier")[0]
    assert (table["approved_tier"] == "below_mql").all() and (table["draft_tier"] != "below_mql").all()

    _by_key(app.selectbox, "drill_value:moved").set_value("MQL down")
    _run(app)
    group = next(m for m in view.movers if (m.line, m.direction) == ("MQL", "down"))
    assert _counts(app)[:3] == (group.leads, group.mature, group.conversions) and group.leads > 0
    lead_box = _by_key(app.selectbox, "drill_lead")
    # a lead the two models score differently (a demo request): its difference has a row
    lead = next(o for o in lead_box.options
                if next(g.activity for g in explain(draft, features, o).engagement if g.rule == "demo_request") > 0)
    lead_box.set_value(lead)
    _run(app)
    d, a = explain(draft, features, lead), explain(approved, features, lead)
    shown = " ".join(_text(m.value) for m in app.markdown)
    assert f"Lead {lead}" in shown
    floor = lambda x: f"{np.floor(x * 100) / 100:.2f}"  # noqa: E731 - two decimals, rounded down
    assert f"**Draft**: score **{floor(d.score)}**" in shown and f"score **{floor(a.score)}**" in shown
    assert d.score == view.draft.scores.total[d.row] and a.score == view.approved.scores.total[a.row]
    assert f"Difference, draft − approved: {d.score - a.score:+.2f} points" in shown
    fit = _tables(app, "matched")[0]
    assert fit["points"].tolist() == [f.points for f in d.fit]
    eng = _tables(app, "before cap")[0]
    assert eng["points"].tolist() == [g.points for g in d.engagement if g.activity != 0]
    diff = _tables(app, "part")[0]
    assert diff.loc[diff["rule"] == "demo_request", "change"].tolist() == [
        next(g.points for g in d.engagement if g.rule == "demo_request")
        - next(g.points for g in a.engagement if g.rule == "demo_request")]
    timeline = _tables(app, "status")[0]
    assert set(timeline["status"]) <= {"counted", "too late", "after conversion", "after data end", "not scored"}
