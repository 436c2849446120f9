"""The leads behind a number: the drill-down's counts equal the band table's, the movers', the grid's and the tiers'."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.analysis.calibrate import calibration_view
from scoring.analysis.drilldown import (
    CELLS,
    MOVER_GROUPS,
    DrillError,
    Selection,
    band_labels,
    band_number,
    counts,
    drill_table,
    select,
)
from scoring.data.demo import generate
from scoring.data.details import read_details
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import load_config, parse_config
from scoring.model.features import union_spec, feature_spec

from .conftest import DEFAULT_CONFIG


@pytest.fixture(scope="module")
def meeting(tmp_path_factory):
    """The demo, the default model as approved and a draft that moves leads both ways across MQL and SQL."""
    path = tmp_path_factory.mktemp("drill") / "demo.duckdb"
    generate(path)
    approved = load_config(DEFAULT_CONFIG)
    text = DEFAULT_CONFIG.read_text()
    draft = parse_config(text.replace("{event: demo_request, points: 20, cap: 30}", "{event: demo_request, points: 8, cap: 30}")
                         .replace("{event: email_open, points: 1, cap: 5}", "{event: email_open, points: 4, cap: 12}")
                         .replace("thresholds: {mql: 40, sql: 60}", "thresholds: {mql: 35, sql: 55}"))
    with open_source(path) as source:
        features = extract_features(source, union_spec(feature_spec(draft), feature_spec(approved)))
        details = read_details(source, draft, features)
    view = calibration_view(draft, approved, features)
    return features, details, draft, approved, view


def _frame(features, view) -> pd.DataFrame:
    """An independent per-lead table: pandas over the scores, with the outcome from the features."""
    return pd.DataFrame({"draft": view.draft.scores.total, "approved": view.approved.scores.total,
                         "fit": view.draft.scores.fit, "eng": view.draft.scores.engagement,
                         "mature": features.mature, "converted": features.converted & features.mature})


def test_band_counts_equal_the_band_table(meeting):
    features, details, draft, approved, view = meeting
    df = _frame(features, view)
    edges = [-np.inf] + list(draft.bands) + [np.inf]
    df["band"] = pd.cut(df["draft"], edges, right=False, labels=False)
    for i, row in enumerate(view.draft.result.bands):
        rows = select(Selection("band", row.band), draft, approved, view.draft.scores, view.approved.scores)
        c = counts(features, rows)
        assert (c.mature, c.conversions, c.immature) == (row.leads, row.conversions, row.immature)
        g = df[df["band"] == i]
        assert (c.leads, c.mature, c.conversions) == (len(g), int(g["mature"].sum()), int(g["converted"].sum()))
    # the approved model's bands, by the label typed with a plain hyphen
    row = view.approved.result.bands[6]
    rows = select(Selection("band", row.band.replace("–", "-"), "approved"), draft, approved,
                  view.draft.scores, view.approved.scores)
    assert counts(features, rows).mature == row.leads > 0


def test_tier_counts_equal_the_tier_table(meeting):
    features, details, draft, approved, view = meeting
    df = _frame(features, view)
    for name, row in view.draft.result.tiers.rows():
        c = counts(features, select(Selection("tier", name), draft, approved, view.draft.scores,
                                    view.approved.scores))
        assert (c.mature, c.conversions, c.immature) == (row.leads, row.conversions, row.immature)
    sql = df[df["draft"] >= 55]
    c = counts(features, select(Selection("tier", "SQL"), draft, approved, view.draft.scores, view.approved.scores))
    assert (c.leads, c.conversions) == (len(sql), int(sql["converted"].sum()))


def test_mover_counts_equal_the_movers_table(meeting):
    features, details, draft, approved, view = meeting
    df = _frame(features, view)
    for group in view.movers:
        value = f"{group.line} {group.direction}"
        c = counts(features, select(Selection("moved", value), draft, approved, view.draft.scores,
                                    view.approved.scores))
        assert (c.leads, c.mature, c.conversions) == (group.leads, group.mature, group.conversions)
        assert c.leads > 0
        before = {"MQL": 40, "SQL": 60}[group.line]
        after = {"MQL": 35, "SQL": 55}[group.line]
        was, now = df["approved"] >= before, df["draft"] >= after
        g = df[~was & now] if group.direction == "up" else df[was & ~now]
        assert (c.leads, c.conversions) == (len(g), int(g["converted"].sum()))
    # `--moved up` alone means across MQL
    assert (select(Selection("moved", "up"), draft, approved, view.draft.scores, view.approved.scores)
            == select(Selection("moved", "MQL up"), draft, approved, view.draft.scores, view.approved.scores)).all()


def test_cell_counts_equal_the_grid(meeting):
    features, details, draft, approved, view = meeting
    df = _frame(features, view)
    cuts = (view.grid_cuts.fit, view.grid_cuts.engagement)
    for cell in view.grid:
        c = counts(features, select(Selection("cell", cell.cell), draft, approved, view.draft.scores,
                                    view.approved.scores, cuts))
        assert (c.leads, c.mature, c.conversions) == (cell.leads, cell.mature, cell.conversions)
    (f0, f1), (e0, e1) = cuts
    a1 = df[(df["fit"] >= f1) & (df["eng"] >= e1)]
    c = counts(features, select(Selection("cell", "a1"), draft, approved, view.draft.scores, view.approved.scores, cuts))
    assert (c.leads, c.conversions) == (len(a1), int(a1["converted"].sum()))
    assert sum(cell.leads for cell in view.grid) == features.n


def test_the_table_a_rep_reads(meeting):
    features, details, draft, approved, view = meeting
    sel = Selection("tier", "sql")
    rows = select(sel, draft, approved, view.draft.scores, view.approved.scores)
    page = drill_table(sel, rows, features, view.draft.scores, view.approved.scores, details, limit=100)
    t = page.table.to_pandas()
    assert list(t.columns) == ["lead_id", "segment", "seniority", "department", "industry", "country",
                               "email_domain_type", "channel", "company", "draft_score", "draft_tier",
                               "approved_score", "approved_tier", "change", "mature", "outcome", "converted_at",
                               "deal_value"]
    assert len(t) == 100 and page.counts.leads == rows.size and page.pages == -(-rows.size // 100)
    assert (t["draft_score"].diff().dropna() <= 0).all()  # highest first
    assert (t["draft_tier"] == "sql").all()
    r = page.rows[0]
    assert t["draft_score"][0] == view.draft.scores.total[r] and t["lead_id"][0] == features.lead_id[r]
    assert set(t["outcome"]) <= {"converted", "not converted", "immature"}
    assert (t.loc[t["outcome"] == "converted", "converted_at"].notna()).all()
    # sorted by deal value, the second page follows the first
    second = drill_table(sel, rows, features, view.draft.scores, view.approved.scores, details, sort="deal value",
                         offset=100, limit=100).table.to_pandas()
    first = drill_table(sel, rows, features, view.draft.scores, view.approved.scores, details, sort="deal value",
                        limit=100).table.to_pandas()
    assert first["deal_value"].iloc[0] == np.nanmax(details.deal_value[rows])
    assert first["deal_value"].min() >= second["deal_value"].max()


def test_unknown_selections_say_what_exists(meeting):
    features, details, draft, approved, view = meeting
    args = (draft, approved, view.draft.scores, view.approved.scores)
    with pytest.raises(DrillError, match=r"band '55-65': the bands of default are 0–10, 10–20, .*, 90–100"):
        select(Selection("band", "55-65"), *args)
    with pytest.raises(DrillError, match="tier 'hot': use one of below_mql, mql, sql"):
        select(Selection("tier", "hot"), *args)
    with pytest.raises(DrillError, match="mover group 'sideways'"):
        select(Selection("moved", "sideways"), *args)
    with pytest.raises(DrillError, match="grid cell 'D4'"):
        select(Selection("cell", "D4"), *args)
    assert band_number(draft, " 90 - 100") == len(band_labels(draft)) - 1 and band_number(draft, "0–10") == 0
    assert len(CELLS) == 9 and len(MOVER_GROUPS) == 4


def test_a_page_reads_only_its_own_details(meeting, tmp_path_factory):
    """Sorted by score, a page's details come from a query on its ids: the same table as with every lead's."""
    features, details, draft, approved, view = meeting
    db = next(tmp_path_factory.getbasetemp().glob("drill*/demo.duckdb"))
    sel = Selection("band", "40–50")
    rows = select(sel, draft, approved, view.draft.scores, view.approved.scores)
    reads = []

    def reader(page):
        reads.append(page.size)
        with open_source(db) as source:
            return read_details(source, draft, features, page)

    for offset in (0, 400):
        whole = drill_table(sel, rows, features, view.draft.scores, view.approved.scores, details, offset=offset,
                            limit=200)
        paged = drill_table(sel, rows, features, view.draft.scores, view.approved.scores, reader, offset=offset,
                            limit=200)
        assert paged.table.equals(whole.table)
        one = paged.details.take(paged.rows[[7]])
        assert one.columns["channel"][0] == details.columns["channel"][paged.rows[7]]
    assert reads == [200, 200]
    with pytest.raises(DrillError, match="sorting by deal value needs the details of every lead"):
        drill_table(sel, rows, features, view.draft.scores, view.approved.scores, reader, sort="deal value")
