"""Tests for scoring.export.html: the standalone HTML calibration report.

The report is parsed with ``html.parser`` (strictly: every element closed in order) and
its tables and KPI cards are compared with the result and KPI dicts they were rendered
from, number by number and in order. User strings are attacked with markup to prove
they only ever appear escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from html.parser import HTMLParser

import pytest
import yaml

import scoring
from scoring.analysis.calibrate import calibration_view
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.export.html import render_report
from scoring.model.config import config_from_dict, load_config, parse_config
from scoring.model.kpis import Histogram

from .conftest import DEFAULT_CONFIG, SMALL_CONFIG

EVIL = "<script>alert(1)</script>"
EVIL_IMG = '<img src=x onerror="alert(2)">'
STAMP = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
BLOCK = {"td", "th", "tr", "li", "p", "div", "h1", "h2", "h3", "h4", "h5", "blockquote", "table"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# --------------------------------------------------------------------------- a strict little parser


class Page(HTMLParser):
    """Collects tags, texts by id, KPI cards, tables (by id and section) and scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.decls: list[str] = []
        self.starts: list[tuple[str, dict]] = []
        self.errors: list[str] = []
        self.stack: list[dict] = []
        self.by_id: dict[str, str] = {}
        self.kpis: dict[str, dict[str, str]] = {}
        self.tables: dict[str, dict[str, list[list[str]]]] = {}
        self.row_classes: dict[str, list[str]] = {}
        self.scripts: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.decls.append(decl)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: (v or "") for k, v in attrs}
        self.starts.append((tag, a))
        if tag in VOID:
            return
        if tag in BLOCK:
            self.handle_data(" ")
        self.stack.append({"tag": tag, "attrs": a, "chunks": [], "cells": []})
        if tag == "table" and a.get("id"):
            self.tables[a["id"]] = {"thead": [], "tbody": [], "tfoot": []}
            self.row_classes[a["id"]] = []

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.starts.append((tag, {k: (v or "") for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        for frame in self.stack:
            frame["chunks"].append(data)

    def _nearest(self, *tags: str) -> dict | None:
        return next((f for f in reversed(self.stack) if f["tag"] in tags), None)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1]["tag"] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1]['tag'] if self.stack else None}>")
            return
        frame = self.stack.pop()
        if tag in BLOCK:  # cells, rows and blocks read as separate words
            self.handle_data(" ")
        raw = "".join(frame["chunks"])
        text = " ".join(raw.split())
        attrs = frame["attrs"]
        if attrs.get("id"):
            self.by_id[attrs["id"]] = text
        if tag == "script":
            self.scripts.append(raw)
        if tag in ("td", "th"):
            row = self._nearest("tr")
            if row is not None:
                row["cells"].append(text)
        if tag == "tr":
            table, section = self._nearest("table"), self._nearest("thead", "tbody", "tfoot")
            if table is not None and section is not None and table["attrs"].get("id") in self.tables:
                self.tables[table["attrs"]["id"]][section["tag"]].append(frame["cells"])
                if section["tag"] == "tbody":
                    self.row_classes[table["attrs"]["id"]].append(attrs.get("class", ""))
        if tag == "div" and attrs.get("class") in ("label", "value", "detail"):
            card = next((f for f in reversed(self.stack) if "data-kpi" in f["attrs"]), None)
            if card is not None:
                self.kpis.setdefault(card["attrs"]["data-kpi"], {})[attrs["class"]] = text


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


def pct(x):
    return "–" if x is None else f"{x:.1%}"


def ci(lo, hi):
    return "–" if lo is None or hi is None else f"{lo:.1%}–{hi:.1%}"


def num(x, spec):
    return "–" if x is None else format(x, spec)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def small_view(small_db):
    config = parse_config(SMALL_CONFIG)
    with open_source(small_db) as source:
        features = extract_features(source, config)
    return config, calibration_view(config, config, features)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "d.duckdb"
    summary = generate(path, leads=5000)
    config = load_config(DEFAULT_CONFIG)
    with open_source(path) as source:
        features = extract_features(source, config)
    view = calibration_view(config, config, features)
    return config, view, summary


APPROVAL = {
    "signoffs": [
        {"name": "Dana Whitfield", "role": "VP Sales", "at": "2026-02-27 16:05"},
        {"name": "Sam Okafor", "role": "Head of Marketing Ops", "at": "2026-02-27 16:07"},
    ],
    "rationale": "Demo requests convert at 3x the base rate;\nraise their points.",
    "approved_at": "2026-02-27 16:07",
    "approved_by": "Sam Okafor",
}
VERSION = {"name": "default", "version": 4, "author": "Sam Okafor", "created_at": "2026-02-27 15:40",
           "note": "Q1 calibration meeting", "parent": 3}


def _full_report(config, view, **extra):
    args = {"version": VERSION, "approval": APPROVAL, "data": {"path": "/data/leads.duckdb", "leads": 6},
            "grid": view.grid, "histogram": view.histogram, "generated_at": STAMP}
    args.update(extra)
    return render_report(config, view.draft.result, view.draft.kpis, **args)


# --------------------------------------------------------------------------- structure


def test_one_full_standalone_page(small_view):
    config, view = small_view
    page = _full_report(config, view)
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    p = parse(page)
    assert p.errors == [] and p.stack == []           # every element closed, in order
    assert [d.lower() for d in p.decls] == ["doctype html"]
    tags = [t for t, _ in p.starts]
    for tag in ("html", "head", "body", "title", "style"):
        assert tags.count(tag) == 1, tag
    assert ("meta", {"charset": "utf-8"}) in p.starts
    assert p.by_id["model-title"] == "default v4"
    assert re.search(r"<title>default v4 · calibration report</title>", page)

    # standalone: nothing loaded from anywhere
    assert not any(t == "script" and "src" in a for t, a in p.starts)
    assert "link" not in tags and "iframe" not in tags
    assert not any(t == "img" for t, _ in p.starts)
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(https?:)?//", page)

    # plotly.js inline exactly once, three charts drawn with it
    assert len(re.findall(r"\*\s*plotly\.js v\d", page)) == 1
    assert sum(1 for s in p.scripts if len(s) > 1_000_000) == 1
    assert [a["id"] for t, a in p.starts if "plotly-graph-div" in a.get("class", "")] == \
        ["band-chart", "distribution-chart", "grid-chart"]
    assert page.count("Plotly.newPlot(") == 3


def test_band_table_carries_the_result(small_view):
    config, view = small_view
    result = view.draft.result
    p = parse(_full_report(config, view))
    table = p.tables["band-table"]
    assert table["thead"][0][:5] == ["Band", "Mature leads", "Conversions", "Rate", "95% CI"]
    expected = [
        [b.band, f"{b.leads:,}", f"{b.conversions:,}", pct(b.rate), ci(b.ci_low, b.ci_high),
         num(b.lift, ".2f"), pct(b.share), pct(b.capture), f"{b.immature:,}",
         "few leads" if b.small else ""]
        for b in result.bands
    ]
    assert table["tbody"] == expected                   # same numbers, same order (lowest first)
    assert [r[0] for r in table["tbody"]] == ["< 10", "10–20", "20–30", ">= 30"]
    assert table["tfoot"][0][:4] == ["All", f"{result.mature_leads:,}", f"{result.conversions:,}",
                                     pct(result.conversion_rate)]
    # bands at/above the thresholds are marked
    classes = p.row_classes["band-table"]
    assert "sql" in classes[-1] and "mql" in classes[1] and "mql" not in classes[0]

    tiers = p.tables["tier-table"]["tbody"]
    for row, key in zip(tiers, ("sql", "mql", "below_mql")):
        t = getattr(result.tiers, key)
        assert row[1:] == [f"{t.leads:,}", f"{t.conversions:,}", pct(t.rate), f"{t.immature:,}"]


def test_kpi_cards_match_kpis(small_view):
    config, view = small_view
    k, result = view.draft.kpis, view.draft.result
    p = parse(_full_report(config, view))
    cards = p.kpis
    assert cards["auc"]["value"] == num(k.auc, ".3f")
    assert cards["gini"]["value"] == num(k.gini, ".3f")
    assert cards["ks"]["value"] == num(result.ks, ".3f")
    assert cards["mql_per_month"]["value"] == f"{k.mql_per_month:,.0f}"
    assert cards["mql_rate"]["value"] == pct(k.mql.rate)
    assert ci(k.mql.ci_low, k.mql.ci_high) in cards["mql_rate"]["detail"]
    assert f"{k.mql.conversions} of {k.mql.leads}" in cards["mql_rate"]["detail"]
    assert cards["sql_rate"]["value"] == pct(k.sql.rate)
    assert ci(k.sql.ci_low, k.sql.ci_high) in cards["sql_rate"]["detail"]
    assert cards["capture_at_mql"]["value"] == pct(k.capture_at_mql)


def test_model_approval_data_quality_and_footer(small_view):
    config, view = small_view
    result = view.draft.result
    page = _full_report(config, view)
    p = parse(page)
    assert p.by_id["status"] == "approved"
    assert p.by_id["model-title"] == "default v4"
    assert p.by_id["version-note"] == "Note Q1 calibration meeting"

    # who approved it and why
    assert p.tables["signoffs"]["tbody"] == [["Dana Whitfield", "VP Sales", "2026-02-27 16:05"],
                                            ["Sam Okafor", "Head of Marketing Ops", "2026-02-27 16:07"]]
    assert p.by_id["rationale"] == "Demo requests convert at 3x the base rate; raise their points."
    assert p.by_id["approved-on"] == "Approved on 2026-02-27 16:07."
    assert "approved-by" not in p.by_id  # the server's login is not an approver: the sign-offs are

    # the model, readably: value -> points, bins, engagement rules, caps
    assert p.by_id["model-basics"].startswith("Thresholds MQL at 10 or more")
    model = p.by_id["model"]
    for fragment in ("seniority", "VP +10", "Student -5", "any other value +1", "missing +2",
                     "company_size", "below 100 0", "100 to under 1000 +5", "5000 or more +9",
                     "outside every range +3", "missing -1", "demo_request", "+20 per event", "adds at most 30",
                     "email_open, EMAIL_CLICK", "+1 per event", "scored 7 days after creation",
                     "within 30 days", "Band cut points 10, 20, 30"):
        assert fragment in model, fragment

    # data fingerprint and backtest facts
    assert p.by_id["data-fingerprint"] == "Data: /data/leads.duckdb · leads 6"
    assert result.data.data_end in p.by_id["backtest"]

    # data-quality findings, one row each
    findings = result.quality.findings
    assert findings, "the small database has messy rows"
    rows = p.tables["quality"]["tbody"]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (f"{f.table}.{f.column}", f"{f.count:,}", f.problem) for f in findings]

    # footer and the config itself, round-tripping
    assert f"leadcal {scoring.__version__}" in p.by_id["footer"]
    assert "2026-03-01 09:30:00+00:00" in p.by_id["footer"]
    yaml_text = html.unescape(re.search(r'<pre class="yaml" id="config-yaml">(.*?)</pre>', page, re.DOTALL).group(1))
    assert parse_config(yaml_text) == config
    assert page.index('id="config-yaml"') > page.index('id="quality"')  # the YAML comes last


# --------------------------------------------------------------------------- escaping


def test_user_strings_only_ever_escaped(small_db):
    data = yaml.safe_load(SMALL_CONFIG)
    data["name"] = EVIL
    data["description"] = EVIL_IMG
    data["fit"][0]["points"][EVIL] = 4
    data["engagement"].append({"event": EVIL_IMG, "points": 2, "name": "evil_rule"})
    data["segments"] = [{"name": "seg", "filter": {"column": "seniority", "values": [EVIL]},
                         "thresholds": {"mql": 5, "sql": 25}}]
    config = config_from_dict(data)
    with open_source(small_db) as source:
        features = extract_features(source, config)
    view = calibration_view(config, config, features)
    approval = {"signoffs": [{"name": EVIL, "role": EVIL_IMG, "at": "now"}], "rationale": EVIL,
                "approved_by": EVIL, "comment": EVIL}
    page = render_report(config, view.draft.result, view.draft.kpis,
                         version={"name": EVIL, "version": EVIL, "author": EVIL, "note": EVIL, "parent": EVIL},
                         approval=approval, data={"path": EVIL, EVIL: EVIL_IMG}, grid=view.grid,
                         histogram=view.histogram)
    assert EVIL not in page and EVIL_IMG not in page
    assert "alert(1)</script>" not in page and "<img" not in page
    assert html.escape(EVIL) in page and html.escape(EVIL_IMG) in page
    p = parse(page)
    assert p.errors == [] and p.stack == []
    assert not any("alert(" in s for s in p.scripts)           # no script of the user's runs
    assert not any(t == "img" for t, _ in p.starts)
    # ... and the reader sees the text as typed
    assert p.by_id["rationale"] == EVIL
    assert p.tables["signoffs"]["tbody"] == [[EVIL, EVIL_IMG, "now"]]
    assert EVIL in p.by_id["model"] and EVIL_IMG in p.by_id["model"]
    assert p.by_id["data-fingerprint"] == f"Data: {EVIL} · {EVIL} {EVIL_IMG}"
    title = next(s for s in re.findall(r"<title>(.*?)</title>", page, re.DOTALL))
    assert "<" not in title


# --------------------------------------------------------------------------- optional inputs


def test_draft_without_approval_or_chart_inputs(small_view):
    config, view = small_view
    page = render_report(config, view.draft.result, view.draft.kpis)
    p = parse(page)
    assert p.errors == [] and p.stack == []
    assert p.by_id["status"] == "draft"
    assert p.by_id["model-title"] == "small"
    assert "Not approved" in p.by_id["not-approved"]
    assert "signoffs" not in p.tables and "data-fingerprint" not in p.tables
    # only the band chart, and plotly.js still embedded once
    assert [a["id"] for t, a in p.starts if "plotly-graph-div" in a.get("class", "")] == ["band-chart"]
    assert len(re.findall(r"\*\s*plotly\.js v\d", page)) == 1
    assert p.tables["band-table"]["tbody"][0][1] == f"{view.draft.result.bands[0].leads:,}"
    assert f"leadcal {scoring.__version__}" in p.by_id["footer"]
    # an empty approval is a draft too; an empty histogram draws no chart
    page = render_report(config, view.draft.result, view.draft.kpis, approval={},
                         histogram=Histogram(edges=[], converted=[], not_converted=[]))
    assert parse(page).by_id["status"] == "draft"
    assert 'id="distribution-chart"' not in page


# --------------------------------------------------------------------------- demo data


def test_report_on_demo_data(demo, tmp_path):
    config, view, summary = demo
    result, k = view.draft.result, view.draft.kpis
    page = render_report(config, result, k, version={"name": "default", "version": 1},
                         approval=APPROVAL, data=summary, grid=view.grid, histogram=view.histogram)
    p = parse(page)
    assert p.errors == [] and p.stack == []
    body = p.tables["band-table"]["tbody"]
    assert len(body) == len(config.bands) + 1 == len(result.bands)
    assert [r[:4] for r in body] == [
        [b.band, f"{b.leads:,}", f"{b.conversions:,}", pct(b.rate)] for b in result.bands]
    assert sum(int(r[1].replace(",", "")) for r in body) == result.mature_leads
    assert p.kpis["auc"]["value"] == f"{k.auc:.3f}"
    assert p.kpis["mql_per_month"]["value"] == f"{k.mql_per_month:,.0f}"
    # the generator's summary (with datetimes) renders as a small table
    assert f"leads {summary['leads']:,}" in p.by_id["data-fingerprint"]
    assert p.by_id["data-fingerprint"].count("\n") == 0
    assert summary["start"].isoformat(sep=" ") in p.by_id["data-fingerprint"]
    # every engagement rule of the default model is listed
    for rule in config.engagement:
        assert rule.label in p.by_id["model"]
    out = tmp_path / "report.html"
    out.write_text(page, encoding="utf-8")
    size_kb = out.stat().st_size / 1024
    assert 3_000 < size_kb < 8_000  # plotly.js (~4.7 MB) once, plus a few tens of KB of report


def test_no_mature_leads_renders_dashes(small_db):
    data = yaml.safe_load(SMALL_CONFIG)
    data["evaluation"]["outcome_window_days"] = 3000  # every lead's window is still open
    config = config_from_dict(data)
    with open_source(small_db) as source:
        features = extract_features(source, config)
    view = calibration_view(config, config, features)
    result = view.draft.result
    assert result.mature_leads == 0
    p = parse(render_report(config, result, view.draft.kpis, grid=view.grid, histogram=view.histogram))
    assert p.errors == [] and p.stack == []
    assert p.kpis["auc"]["value"] == "–" and p.kpis["mql_rate"]["value"] == "–"
    assert [r[3] for r in p.tables["band-table"]["tbody"]] == ["–"] * len(result.bands)
    assert sum(int(r[8]) for r in p.tables["band-table"]["tbody"]) == result.immature_leads
