"""Which leads, and why this one: the drill-down in Chromium, clicked as a person does in the meeting."""

from __future__ import annotations

import math
import re

import yaml
from playwright.sync_api import expect

from scoring.analysis.calibrate import calibration_view
from scoring.analysis.drilldown import Selection, drill_table
from scoring.analysis.drilldown import select as select_rows
from scoring.analysis.explain import explain
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import config_from_dict, load_config

from .conftest import ROOT, shot
from .helpers import WAIT, metric, no_exception, press, select, settled, thumbs, value_of

DEFAULT = ROOT / "data" / "configs" / "default.yaml"


def test_open_a_band_and_a_mover_group_and_one_lead(page, server):
    approved = load_config(DEFAULT)
    data = yaml.safe_load(DEFAULT.read_text())
    data["thresholds"]["mql"] = 35.0
    draft = config_from_dict(data)
    with open_source(server["db"]) as source:
        features = extract_features(source, approved)
    view = calibration_view(draft, approved, features)

    page.goto(server["url"])
    expect(metric(page, "Conversions ≥ MQL")).to_be_visible(timeout=WAIT)
    settled(page)
    mql = thumbs(page, "MQL and SQL thresholds").first
    for _ in range(10):  # MQL 40 -> 35, one key at a time until the handle says so
        if value_of(mql) <= 35:
            break
        press(page, mql, "ArrowLeft", 1)
    assert value_of(mql) == 35
    page.get_by_text("Which leads? Drill down and explain one lead").click()
    settled(page)
    drill = page.locator('[data-testid="stExpander"]').filter(has_text="Which leads?")
    select(page, "Score band", "60–70", where=drill)
    band = next(b for b in view.draft.result.bands if b.band == "60–70")
    expect(drill.get_by_text(re.compile(rf"^{band.leads + band.immature:,} leads in band 60–70 \(draft\): "
                                        rf"{band.leads:,} mature, {band.conversions:,} converted"))).to_be_visible(
        timeout=WAIT)

    select(page, "Leads behind", "Mover group", where=drill)
    select(page, "Mover group", "MQL up", where=drill)
    group = next(m for m in view.movers if (m.line, m.direction) == ("MQL", "up"))
    assert group.leads > 0
    expect(drill.get_by_text(re.compile(rf"^{group.leads:,} leads in moved up across MQL .*{group.mature:,} mature, "
                                        rf"{group.conversions:,} converted"))).to_be_visible(timeout=WAIT)

    sel = Selection("moved", "MQL up")
    rows = select_rows(sel, draft, approved, view.draft.scores, view.approved.scores)
    top = drill_table(sel, rows, features, view.draft.scores, view.approved.scores, limit=1)
    lead = str(top.table.column("lead_id")[0])  # the page lists the highest draft score first
    select(page, "Explain lead", lead, where=drill)
    d, a = explain(draft, features, lead), explain(approved, features, lead)
    assert d.tier != "below_mql" and a.tier == "below_mql"  # it moved up across MQL
    expect(drill.get_by_text(f"Lead {lead}:")).to_be_visible(timeout=WAIT)
    floor = lambda x: f"{math.floor(x * 100) / 100:.2f}"  # noqa: E731 - shown to two decimals, rounded down
    expect(drill.get_by_text(re.compile(rf"^Draft: score {floor(d.score)}, band .* tier {d.tier} \(MQL 35"))).to_be_visible()
    expect(drill.get_by_text(re.compile(rf"score {floor(a.score)}, band .* tier below_mql \(MQL 40"))).to_be_visible()
    expect(drill.get_by_text("Events relative to the scoring point")).to_be_visible()
    shot(page, "drilldown")
    no_exception(page, server)
