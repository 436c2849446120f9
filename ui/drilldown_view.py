"""The Calibrate page's drill-down: the leads behind a band, tier, mover group or grid cell, and why one scored
what it did, under the draft beside the approved model.

Drawn only while its expander is open (a slider move with it closed pays nothing). Every
number comes from ``scoring`` (``analysis.drilldown`` selects and pages the leads with the
tables' own definitions, ``analysis.explain`` explains one); the lead details (display
columns, conversion date, deal value) are read once per database, model mapping and
segment and kept. User data is shown as text (``plain``) or in tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from scoring.analysis.drilldown import (
    CELLS,
    MOVER_GROUPS,
    SORTS,
    Selection,
    band_labels,
    drill_table,
    needs_all_details,
    select,
)
from scoring.analysis.explain import Comparison, Explanation, compare, explain_row, timeline
from scoring.data.details import LeadDetails, lead_events, read_details
from scoring.data.source import open_source
from scoring.model.config import ScoringConfig
from scoring.model.engine import TIERS
from scoring.model.features import Features, event_types, feature_spec, spec_cache_key

from . import data, rerun_scope, session
from .text import plain

PAGE_SIZE = 200


def shown(score: float) -> float:
    """A score as the drill-down shows it: two decimals, rounded down, so a lead under a threshold never
    shows as on it (39.996 shows 39.99, not 40.00)."""
    return float(np.floor(score * 100) / 100)


def _shown_text(score: float) -> str:
    return f"{shown(score):.2f}"
KINDS = {"Score band": "band", "Tier": "tier", "Mover group": "moved", "Grid cell": "cell"}


@st.cache_resource(max_entries=4, show_spinner="Reading the leads' names and outcomes (once per database)...")
def _details(fingerprint: str, spec_key: str, mapping_key: str, segment: str | None, n: int, _path: str,
             _config: ScoringConfig, _features: Features) -> LeadDetails:
    with open_source(_path) as source:
        return read_details(source, _config, _features)


def details(path: Path, config: ScoringConfig, features: Features, segment: str | None) -> LeadDetails:
    """The display columns, conversion dates and deal values of every lead shown, read once and kept (sorting
    by deal value or conversion date needs them all: about 5 s at 1M leads, once)."""
    return _details(data._fingerprint(path), spec_cache_key(features.spec), config.source.model_dump_json(), segment,
                    features.n, str(path), config, features)


def page_details(path: Path, config: ScoringConfig, features: Features):
    """A reader of the details of one page of leads (a query filtered on their ids: milliseconds)."""
    def read(rows: np.ndarray) -> LeadDetails:
        with open_source(path) as source:
            return read_details(source, config, features, rows)
    return read


def _values(kind: str, draft: ScoringConfig) -> list[str]:
    if kind == "band":
        return list(reversed(band_labels(draft)))  # highest first, as the band table lists them
    if kind == "tier":
        return list(reversed(TIERS))
    if kind == "moved":
        return list(MOVER_GROUPS)
    return list(CELLS)


def _choice(key: str, options: list, default, **kwargs):
    """A kept selectbox whose kept value is dropped when it is no longer among the options (new band cut points,
    another page of leads)."""
    store = st.session_state.setdefault(session.KEPT, {})
    if store.get(key, default) not in options:
        store[key] = default
    return session.kept(st.selectbox, key, default, options=options, **kwargs)


def panel(ctx: data.Context, scored) -> None:
    """The drill-down expander under the tables (``scored``: ``calibrate_view.Scored`` with its view)."""
    with (box := st.expander("Which leads? Drill down and explain one lead", key=rerun_scope.DRILLDOWN,
                             on_change="rerun")):
        if box.open and scored.view is not None:
            _draw(ctx, scored)


def _draw(ctx: data.Context, scored) -> None:
    view, draft, approved = scored.view, scored.draft, ctx.approved
    features, approved_features = scored.features, scored.approved_features
    c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="bottom")
    with c1:
        kind_label = session.kept(st.selectbox, "drill_kind", "Score band", label="Leads behind",
                                  options=list(KINDS))
    kind = KINDS[kind_label]
    options = _values(kind, draft)
    with c2:
        value = _choice(f"drill_value:{kind}", options, options[0], label=kind_label)
    with c3:
        sort = session.kept(st.selectbox, "drill_sort", SORTS[0], label="Sorted by", options=list(SORTS))
    selection = Selection(kind, value)
    cuts = (view.grid_cuts.fit, view.grid_cuts.engagement)
    rows = select(selection, draft, approved, view.draft.scores, view.approved.scores, cuts)
    info = (details(ctx.db, draft, features, ctx.segment_value) if needs_all_details(sort)
            else page_details(ctx.db, draft, features))
    pages = max(1, -(-rows.size // PAGE_SIZE))
    page_no = 1
    if pages > 1:
        page_no = int(session.kept(st.number_input, "drill_page", 1, label=f"Page (of {pages})", min_value=1,
                                   max_value=pages, step=1))
        page_no = min(page_no, pages)
    table = drill_table(selection, rows, features, view.draft.scores, view.approved.scores, info, sort=sort,
                        offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    c = table.counts
    st.caption(f"{c.leads:,} leads in {plain(selection.describe())}: {c.mature:,} mature, {c.conversions:,} "
               f"converted, {c.immature:,} immature (still inside their outcome window: not counted as lost). "
               f"Scores as of each lead's scoring point, shown to two decimals rounded down (a score under a "
               f"threshold never shows as on it); draft against the approved model ({plain(ctx.approved_ref)}).")
    frame = table.table.to_pandas()
    for column in ("draft_score", "approved_score"):
        frame[column] = np.floor(frame[column] * 100) / 100
    st.dataframe(frame, hide_index=True, width="stretch", key="drill_table", height=300,
                 column_config={"lead_id": st.column_config.Column("lead id"),
                                "draft_tier": st.column_config.TextColumn("draft tier"),
                                "approved_tier": st.column_config.TextColumn("approved tier"),
                                "converted_at": st.column_config.DatetimeColumn("conversion date",
                                                                                format="YYYY-MM-DD HH:mm"),
                                "mature": st.column_config.CheckboxColumn("mature", help="The outcome window has "
                                                                          "passed: its outcome counts."),
                                "draft_score": st.column_config.NumberColumn("draft score", format="%.2f"),
                                "approved_score": st.column_config.NumberColumn("approved score", format="%.2f"),
                                "change": st.column_config.NumberColumn("change", format="%+.2f"),
                                "deal_value": st.column_config.NumberColumn("deal value", format="%,.0f")})
    if not table.rows.size:
        st.info("No lead is behind this number.")
        return
    ids = [str(i) for i in features.lead_id[table.rows]]
    lead = _choice("drill_lead", ids, None, label="Explain lead", index=None, placeholder="Pick a lead of this page")
    if lead is None:
        return
    row = int(table.rows[ids.index(lead)])
    _explain(ctx, draft, approved, features, approved_features, table.details.take(np.array([row])), row)


def _fit_frame(e: Explanation) -> pd.DataFrame:
    return pd.DataFrame([{"rule": f.rule, "value": "(missing)" if f.value is None else str(f.value),
                          "matched": f.matched, "points": f.points} for f in e.fit])


def active(e: Explanation) -> list:
    """The engagement rules with some activity for this lead (the others give 0 points)."""
    return [g for g in e.engagement if g.activity != 0]


def _engagement_frame(e: Explanation) -> pd.DataFrame:
    return pd.DataFrame([{"rule": g.rule, "activity": g.activity, "points each": g.points_each,
                          "before cap": g.before_cap, "cap": g.cap, "points": g.points} for g in active(e)])


def _explanation(e: Explanation, title: str, key: str) -> None:
    st.markdown(f"**{plain(title)}**: score **{_shown_text(e.score)}**, band {plain(e.band)}, tier {plain(e.tier)} "
                f"(MQL {e.mql:g}, SQL {e.sql:g})")
    st.caption("Rules of segment " + plain(e.segment) if e.segment else "The model's own rules (no segment)")
    if e.fit:
        st.dataframe(_fit_frame(e), hide_index=True, width="stretch", key=f"{key}_fit")
    idle = [g.rule for g in e.engagement if g.activity == 0]
    if active(e):
        st.dataframe(_engagement_frame(e), hide_index=True, width="stretch", key=f"{key}_eng",
                     column_config={"activity": st.column_config.NumberColumn(
                         "activity", format="%.3f", help="Events counted before the scoring point, each weighed "
                                                         "by the decay (or the column's units).")})
    if idle:
        st.caption(f"No activity, 0 points: {plain(', '.join(idle))}.")
    parts = ", ".join(f"{p.part} {_shown_text(p.before)}" + (f" capped to {_shown_text(p.after)}" if p.bit else "")
                      for p in e.parts)
    st.caption(f"{plain(parts)}. Caps that bit: {plain(', '.join(e.caps_that_bit) or 'none')}.")


def _explain(ctx: data.Context, draft: ScoringConfig, approved: ScoringConfig, features: Features,
             approved_features: Features, info: LeadDetails, row: int) -> None:
    """``info``: the details of this one lead."""
    d = explain_row(draft, features, row)
    a = explain_row(approved, approved_features, row)
    both: Comparison = compare(d, a)
    conv = info.converted_at[0]
    outcome = ("immature (outcome window not passed)" if not d.mature else "converted" if d.converted
               else "not converted")
    extra = "; ".join(f"{k}: {v}" for k, v in ((k, info.columns[k][0]) for k in info.columns) if v is not None)
    st.markdown(f"**Lead {plain(d.lead_id)}**: created {plain(d.created_at)}, scored {plain(d.scoring_point)}, "
                f"{outcome}" + (f", converted {plain(str(conv)[:19].replace('T', ' '))}" if not np.isnat(conv) else "")
                + (f", deal value {info.deal_value[0]:,.0f}" if not np.isnan(info.deal_value[0]) else ""))
    if extra:
        st.caption(plain(extra))
    left, right = st.columns(2)
    with left:
        _explanation(d, "Draft", "explain_draft")
    with right:
        _explanation(a, f"Approved ({ctx.approved_ref})", "explain_approved")
    changed = [r for r in both.rules if r.change or r.draft is None or r.approved is None]
    st.markdown(f"**Difference, draft − approved: {both.change:+.2f} points**")
    if changed:
        st.dataframe(pd.DataFrame([{"part": r.kind, "rule": r.rule, "draft": r.draft, "approved": r.approved,
                                    "change": r.change} for r in changed]),
                     hide_index=True, width="stretch", key="explain_diff")
    else:
        st.caption("Every rule gives this lead the same points under both models.")
    with open_source(ctx.db) as source:
        events = lead_events(source, draft, features.lead_id[row])
    tl = timeline(features, row, events, None if np.isnat(conv) else conv.astype(object),
                  set(event_types(feature_spec(draft))))
    counts = ", ".join(f"{n} {status}" for status, n in tl.counts().items()) or "no events"
    st.markdown(f"**Events relative to the scoring point** ({plain(counts)})")
    if not tl.complete:
        st.caption("This data holds per-lead features computed in the warehouse, not the events: "
                   "no event can be listed here.")
    if tl.events:
        st.dataframe(pd.DataFrame([{"time": e.time, "event": e.type, "days before scoring": e.days_before_scoring,
                                    "status": e.status} for e in tl.events]),
                     hide_index=True, width="stretch", key="explain_timeline",
                     column_config={"days before scoring": st.column_config.NumberColumn(format="%.1f")})
