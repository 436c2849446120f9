"""The Calibrate page's workspace (controls and results) and draft actions, drawn from the session's draft.

``workspace`` is a Streamlit fragment: a control change reruns the controls and the
results only, not the sidebar, the title, the meeting settings or the save/load bar; the
results are a fragment inside it, which a slider move reruns alone (``ui.rerun_scope``).
``results`` reads the draft from ``ui.session`` (the state the controls write) and draws
the KPIs, charts and tables against the approved model; ``draft_actions`` saves, loads,
resets and downloads that same draft, reading it when clicked. Every number comes from
``scoring``. (Functions live here, not in the page script: a function defined in a page
keeps the page's namespace, with a rerun's per-lead arrays, alive until the cycle
collector runs.)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import streamlit as st

from scoring.analysis.calibrate import CalibrationView, account_view, calibration_view, drill, revenue_view
from scoring.base.numbers import money
from scoring.model.features import Features
from scoring.model.accounts import NoAccounts
from scoring.model.revenue import NoRevenue
from scoring.analysis.glossary import HELP, glossary
from scoring.data.source import SourceError
from scoring.export.band_figure import band_figure
from scoring.export.charts import distribution_chart, grid_chart
from scoring.model.config import ConfigError, ScoringConfig
from scoring.model.metrics import BandRow
from scoring.registry.store import StoreError, parse_ref

from . import auth, data, drilldown_view, rerun_scope, session, sidebar
from .band_chart import band_chart
from .controls import draft_controls
from .kpi_metrics import Kpi, kpi, pct
from .kpi_row import kpi_rows
from .text import plain

PCT = st.column_config.NumberColumn

SECTIONS = ["Band table", "Revenue", "Movers", "Fit × engagement", "Score distribution", "Changes vs approved"]


def band_columns() -> dict:
    """Column titles and one-sentence help of the band table."""
    pct_col = lambda title, key: st.column_config.NumberColumn(title, format="percent", help=HELP[key])  # noqa: E731
    return {
        "band": st.column_config.TextColumn("score band", help=HELP["band"]),
        "leads": st.column_config.NumberColumn("mature leads", format="%d", help=HELP["leads"]),
        "conversions": st.column_config.NumberColumn("conversions", format="%d", help=HELP["conversions"]),
        "rate": pct_col("conversion", "rate"),
        "ci_low": pct_col("95% interval, low", "ci_low"),
        "ci_high": pct_col("95% interval, high", "ci_high"),
        "lift": st.column_config.NumberColumn("lift", format="%.2f", help=HELP["lift"]),
        "share": pct_col("share of leads", "share"),
        "capture": pct_col("conversions at or above", "capture"),
        "immature": st.column_config.NumberColumn("immature", format="%d", help=HELP["immature"]),
        "small": st.column_config.CheckboxColumn("< 30 leads", help=HELP["small"]),
    }


RATE_COLUMNS = ("rate", "ci_low", "ci_high", "lift", "share", "capture")


def band_frame(bands: list[BandRow], columns: list[str]) -> pa.Table:
    """The band table as the page shows it, highest band first; a band with no mature lead has empty rate
    cells. An Arrow table, which Streamlit sends as it is: a pandas frame went through pyarrow's pandas
    conversion on every slider move (2.8 ms at the band table's size), and the frame of dicts recast column
    by column it was built from before took 1.6 ms more."""
    rows = bands[::-1]
    return pa.table({c: pa.array([getattr(b, c) for b in rows], type=pa.float64() if c in RATE_COLUMNS else None)
                     for c in columns})


def _kpis(view, sql_target: tuple[float, float]) -> None:
    """The draft's seven KPIs against the approved model, in two rows (labels read in full)."""
    d, a = view.draft.kpis, view.approved.kpis
    rate = d.sql.rate
    where = ("no SQLs" if rate is None else "on target" if d.sql_on_target
             else "above target" if rate > sql_target[1] else "below target")
    won, won_before = view.draft.revenue_at_mql, view.approved.revenue_at_mql
    kpi_rows([
        [kpi("AUC", "-" if d.auc is None else f"{d.auc:.3f}", d.auc, a.auc),
         kpi("Gini", "-" if d.gini is None else f"{d.gini:.3f}", d.gini, a.gini),
         kpi("MQLs per month", "-" if d.mql_per_month is None else f"{d.mql_per_month:,.0f}",
             d.mql_per_month, a.mql_per_month, digits=0)],
        [kpi("MQL conversion", pct(d.mql.rate), d.mql.rate, a.mql.rate, 100, " pts", 1),
         Kpi("SQL conversion", pct(rate), where, "green" if d.sql_on_target else "orange", None,
             HELP["SQL conversion"] + f" Target {100 * sql_target[0]:g}–{100 * sql_target[1]:g}%."),
         kpi("Conversions ≥ MQL", pct(d.capture_at_mql), d.capture_at_mql, a.capture_at_mql, 100, " pts", 1),
         Kpi("Won revenue ≥ MQL", "-", None, help="No deal value is mapped (source.outcome.deal_value), so "
             "leadcal cannot tell the revenue at or above MQL.") if won is None else
         kpi("Won revenue ≥ MQL", pct(won.share), won.share, None if won_before is None else won_before.share,
             100, " pts", 1)],
    ], key="kpis")


def _section(view, scored: "Scored", key: str) -> None:
    """The tables and charts under the band chart, one at a time (the choice survives reruns and page changes).

    Picked with one segmented control rather than tabs: a slider move re-sends one element for it, where
    the tabs were seven blocks the browser redrew on every move."""
    label = session.kept(st.segmented_control, key, SECTIONS[0], label="Under the chart", options=SECTIONS,
                         required=True, label_visibility="collapsed")
    _draw(label or SECTIONS[0], view, scored)


def revenue_columns() -> dict:
    """Column titles and help of the revenue band table."""
    num = st.column_config.NumberColumn
    return {
        "band": st.column_config.TextColumn("score band", help=HELP["band"]),
        "won_deals": num("won deals", format="%d", help="Won deals with a value, mature leads."),
        "won_value": num("won value", format="localized", help=HELP["won value"]),
        "capture": num("revenue at or above", format="percent", help=HELP["revenue capture"]),
        "mean_deal": num("mean deal", format="localized", help="Won value / won deals."),
        "median_deal": num("median deal", format="localized", help="The middle won deal's value."),
        "median_days_from_created": num("days from creation", format="%.0f", help=HELP["days to conversion"]),
        "median_days_from_scoring": num("days from scoring point", format="%.0f", help=HELP["days to conversion"]),
    }


def _revenue(view, scored: "Scored") -> None:
    """The Revenue section: won value per band, the figures at the lines, and what moves across them."""
    rev = revenue_view(view, scored.features, scored.approved_features)
    d, a = rev.draft, rev.approved
    if isinstance(d, NoRevenue):
        st.info(plain(d.reason[0].upper() + d.reason[1:] + "."))
        return
    cur = d.currency
    st.caption(f"Won deal value of the mature leads{' in ' + plain(cur) if cur else ''}. "
               "Draft, with the approved model's figure under each.")
    before = (lambda f: None) if isinstance(a, NoRevenue) else (lambda f: f(a))  # noqa: E731
    figures = []
    for label, help_key, shown in (
            ("Won value ≥ MQL", "won value", lambda r: money(r.mql.won_value, cur, True)),
            ("Revenue per MQL", "Revenue per MQL", lambda r: money(r.mql.per_lead, cur)),
            ("Revenue per SQL", "Revenue per SQL", lambda r: money(r.sql.per_lead, cur)),
            ("Value-weighted AUC", "value-weighted AUC",
             lambda r: "-" if r.weighted_auc is None else f"{r.weighted_auc:.3f}")):
        old = before(shown)
        figures.append(Kpi(label, shown(d), None if old is None or old == shown(d) else f"approved: {old}",
                           help=HELP.get(help_key)))
    kpi_rows([figures], key="revenue_kpis")
    note = (f"All won revenue: {money(d.won_value, cur)} from {d.won_deals:,} won deals "
            f"(mean {money(d.mean_deal, cur)}, median {money(d.median_deal, cur)}).")
    if d.without_value:
        note += f" {d.without_value:,} won deals have no deal value: counted here, left out of every value figure."
    st.caption(note)
    if rev.moves is not None:
        rows = [{"line": line, "won value coming in": money(m.value_in, cur), "deals in": m.deals_in,
                 "won value going out": money(m.value_out, cur), "deals out": m.deals_out,
                 "net": money(m.net, cur)}
                for line, m in (("MQL", rev.moves.mql), ("SQL", rev.moves.sql))]
        st.caption("Won value crossing the lines going from the approved model to the draft:")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="revenue_moves")
    bands = pd.DataFrame([b.to_dict() for b in d.bands])[list(revenue_columns())]
    money_cols = ["won_value", "mean_deal", "median_deal"]
    bands[money_cols] = bands[money_cols].astype(float).round(0)
    bands[["capture", "median_days_from_created", "median_days_from_scoring"]] = bands[
        ["capture", "median_days_from_created", "median_days_from_scoring"]].astype(float)
    st.dataframe(bands.iloc[::-1], hide_index=True, width="stretch", key="revenue_table",
                 column_config=revenue_columns())


def _draw(label: str, view, scored: "Scored") -> None:
    if label == "Revenue":
        _revenue(view, scored)
    elif label == "Band table":
        columns = band_columns()
        st.dataframe(band_frame(view.draft.result.bands, list(columns)), hide_index=True, width="stretch",
                     key="band_table", column_config=columns)
    elif label == "Movers":
        st.caption("Leads that cross the MQL or SQL line going from the approved model to the draft, "
                   "and how they actually converted (mature leads).")
        st.dataframe(pd.DataFrame([m.to_dict() for m in view.movers]),
                     hide_index=True, width="stretch", key="movers",
                     column_config={"line": st.column_config.TextColumn("line", help=HELP["line"]),
                                    "direction": st.column_config.TextColumn("direction", help=HELP["direction"]),
                                    "leads": st.column_config.NumberColumn("leads", format="%d",
                                                                           help="Leads crossing the line this way."),
                                    "mature": st.column_config.NumberColumn("mature", format="%d",
                                                                            help=HELP["mature"]),
                                    "conversions": st.column_config.NumberColumn("conversions", format="%d",
                                                                                 help=HELP["conversions"]),
                                    "rate": st.column_config.NumberColumn("conversion", format="percent",
                                                                          help=HELP["rate"])})
    elif label == "Fit × engagement":
        fc, ec = view.grid_cuts.fit, view.grid_cuts.engagement
        st.caption(f"{HELP['grid']} Fit A ≥ {fc[1]:g} > B ≥ {fc[0]:g} > C; "
                   f"engagement 1 ≥ {ec[1]:g} > 2 ≥ {ec[0]:g} > 3.")
        st.plotly_chart(grid_chart(view.grid), width="stretch", key="grid_chart")
    elif label == "Score distribution":
        st.plotly_chart(distribution_chart(view.histogram), width="stretch", key="dist_chart")
    elif view.diff:
        st.dataframe(pd.DataFrame([c.to_dict() for c in view.diff]).astype(str), hide_index=True, width="stretch",
                     key="diff")
    else:
        st.info("The draft is the approved model.")


@dataclass
class Scored:
    """What the results show, computed before any of them is drawn: the view, or why there is none."""

    draft: ScoringConfig | None
    view: CalibrationView | None = None
    point_in_time: bool = True
    error: str | None = None
    features: Features | None = None
    """The leads the draft was scored on (the Revenue section reads their deal values; the drill-down lists
    and explains them)."""
    approved_features: Features | None = None
    """The leads the approved model was scored on (the same leads; its own point in time when windows differ)."""


def score(ctx: data.Context, draft: ScoringConfig | None, sql_target: tuple[float, float],
          capacity_per_month: float | None) -> Scored:
    """Score the draft beside the approved model; draws nothing but the first start's wait message."""
    if draft is None:
        return Scored(None, error="The draft is not valid, so nothing is scored, shown or saved until it is "
                                  "fixed:\n\n" + "\n".join(f"- {plain(p)}" for p in session.state().problems))
    try:  # one extraction for both, unless the evaluation window changed (each on its own point in time)
        draft_features = data.features_beside(ctx.db, draft, ctx.approved)
        features = data.features_beside(ctx.db, ctx.approved, draft)
    except (SourceError, ConfigError, ValueError) as exc:
        lines = getattr(exc, "problems", None) or [str(exc)]
        return Scored(draft, error="The draft cannot be scored on this database:\n\n"
                                   + "\n".join(f"- {plain(p)}" for p in lines))
    draft_features = data.segment_view(ctx.db, draft_features, ctx.segment_column, ctx.segment_value)
    features = data.segment_view(ctx.db, features, ctx.segment_column, ctx.segment_value)
    first = data.first_scoring()
    with (st.spinner("First start: preparing leadcal's compiled scoring loops (about 10 s the first time after "
                     "installing, a second after that)...", show_time=True) if first else contextlib.nullcontext()):
        approved = data.approved_view(ctx.db, features, ctx.approved, ctx.segment_value, sql_target,
                                      capacity_per_month)
        view = calibration_view(draft, ctx.approved, draft_features, sql_target, capacity_per_month,
                                approved_view=approved)
    data.scored_once()
    return Scored(draft, view, draft_features.point_in_time, features=draft_features,
                  approved_features=features)


LEVELS = ["Leads", "Accounts"]


def results(ctx: data.Context, scored: Scored, sql_target: tuple[float, float]) -> None:
    """KPIs, band chart and tables of the session's draft against the approved model."""
    if scored.view is None:
        st.error(scored.error)
        return
    view = scored.view
    if view.draft.config.accounts is not None and scored.features is not None:
        level = session.kept(st.segmented_control, "calibrate_level", "Leads", label="Score", options=LEVELS,
                             help="Leads: each lead's score. Accounts: each account's score from its leads' "
                                  "scores (the model's 'accounts' section).")
        if level == "Accounts":
            _accounts(ctx, view, scored)
            return
    _kpis(view, sql_target)
    if not scored.point_in_time:
        st.info("This data has no creation times, so leads are not scored at a point in time: every recorded "
                "activity counts, open outcomes are left out as immature, and there are no monthly volumes.")
    for message in view.warnings:
        st.warning(plain(message))
    with st.container(key="band_chart"):  # the container's key names the chart's place in the page's CSS
        band_chart(band_figure(view.draft.result, view.approved.result,
                               approved_label=f"approved ({ctx.approved_ref})"), key="band_chart_svg")
    _section(view, scored, "calibrate_section")


def _accounts(ctx: data.Context, view, scored: "Scored") -> None:
    """The account view: account KPIs, the band chart and table at account level, and one account's leads."""
    for features in (scored.features, scored.approved_features):
        if features is not None:
            data.wait_for_column(features, view.draft.config.source.leads.account)
    try:
        av = account_view(view, scored.features, scored.approved_features)
    except SourceError as exc:
        st.error("The account view cannot be shown:\n\n" + "\n".join(f"- {plain(p)}" for p in exc.problems))
        return
    if isinstance(av, NoAccounts):
        st.info(plain(av.reason[0].upper() + av.reason[1:] + "."))
        return
    d, a = av.draft, av.approved
    st.caption(f"Accounts scored by the **{plain(d.method)}** of their leads' scores. Under each figure: the change "
               f"from the approved model ({plain(ctx.approved_ref)})"
               + ("" if a else ", which scores no accounts") + ".")
    kpi_rows([[
        kpi("Account AUC", "-" if d.auc is None else f"{d.auc:.3f}", d.auc, a.auc if a else None),
        kpi("MQAs per month", "-" if d.mqa_per_month is None else f"{d.mqa_per_month:,.0f}", d.mqa_per_month,
            a.mqa_per_month if a else None, digits=0),
        kpi("MQA conversion", pct(d.mqa.rate), d.mqa.rate, a.mqa.rate if a else None, 100, " pts", 1),
        kpi("Conversions ≥ MQA", pct(d.capture_at_mqa), d.capture_at_mqa, a.capture_at_mqa if a else None,
            100, " pts", 1)]], key="account_kpis")
    st.caption(f"{d.accounts:,} accounts ({d.mature_accounts:,} mature, {d.converted_accounts:,} converted). "
               f"{d.leads_counted:,} leads count; {d.leads_after:,} were scored after their account's scoring "
               f"point and never count; {d.leads_without_account:,} have no account.")
    for message in av.warnings:
        st.warning(plain(message))
    with st.container(key="account_band_chart"):
        band_chart(band_figure(d, a, approved_label=f"approved ({ctx.approved_ref})", unit="accounts",
                               line_names=("MQA", "SQA")), key="account_band_chart_svg")
    columns = {**band_columns(), "leads": st.column_config.NumberColumn("mature accounts", format="%d"),
               "conversions": st.column_config.NumberColumn("converted accounts", format="%d")}
    st.dataframe(band_frame(d.bands, list(columns)), hide_index=True, width="stretch", key="account_table",
                 column_config=columns)
    pick = st.selectbox("An account and its leads", av.top, index=0 if av.top else None, key="account_pick",
                        help="The 50 best-scored accounts of the draft.")
    found = drill(view, scored.features, pick, av) if pick else None
    if found is not None:
        st.caption(f"{plain(found.account)}: scored {found.scoring_at}, account score "
                   f"{'-' if found.score is None else f'{found.score:g}'}, "
                   + ("converted" if found.converted else "not converted")
                   + ("" if found.mature else " (outcome window still open)") + ".")
        st.dataframe(pd.DataFrame([lead.to_dict() for lead in found.leads]).astype({"lead_id": str}),
                     hide_index=True, width="stretch", key="account_leads")


def glossary_expander() -> None:
    """Every figure and column in one sentence each, in the meeting's words (drawn only while open; under the
    workspace, not in it, so a slider move does not re-send it)."""
    with (box := st.expander("What the figures mean (glossary)", key="glossary", on_change="rerun")):
        if box.open:
            st.markdown("\n".join(f"- **{plain(term)}**: {plain(text)}" for term, text in glossary()))


@st.fragment
def workspace(ctx: data.Context, sql_target: tuple[float, float], capacity_per_month: float | None) -> None:
    """The draft's controls beside its results: a control change reruns only this part of the page, so a
    slider move redraws the KPIs and the band chart without redrawing the sidebar and the rest; a control
    whose change shows only in the results reruns only them (``ui.rerun_scope``)."""
    state = session.state()
    controls, results_column = st.columns([1.25, 2.3], gap="large")
    with controls:
        st.subheader("Draft model")
        dirty = session.is_dirty()
        st.caption(f"Started from **{plain(state.base_ref)}**" + (" · :orange[unsaved changes]" if dirty else ""))
        try:  # the lead counts beside each category value
            categories_from = data.features_for(ctx.db, session.draft_config() or session.base_config()
                                                or ctx.approved)
        except (SourceError, ConfigError, ValueError):
            categories_from = None
        draft_controls(state.data, state.seeded, categories_from)
    with results_column:
        scored = _results(ctx, sql_target, capacity_per_month)
    drilldown_view.panel(ctx, scored)  # full width under both columns, drawn only while open
    rerun_scope.workspace_drawn(dirty)  # last: a run cut short before here has not shown its line


@st.fragment(key=rerun_scope.RESULTS)
def _results(ctx: data.Context, sql_target: tuple[float, float], capacity_per_month: float | None) -> Scored:
    """The session's draft scored and drawn (KPIs, band chart, tables). Rerun alone by a control whose change
    shows nowhere else; its arguments are the workspace's last ones (the meeting settings and the data, which
    only a full run changes), and the draft is read from the session, where the control's callback wrote it."""
    scored = score(ctx, session.draft_config(), sql_target, capacity_per_month)
    results(ctx, scored, sql_target)
    data.note_activity()  # a first load's held-back checks wait for a pause, counted from the end of a move
    sidebar.follow_draft()  # a full rerun only when what is drawn outside the fragments is now wrong
    return scored


def draft_actions(ctx: data.Context) -> None:
    """Save, load, reset and download the session's draft, in a bar above the workspace; always drawn, even
    when the draft is invalid. Not part of the workspace fragment, so a slider move does not redraw it:
    each button reads the draft when it is clicked, and the workspace reruns the whole page when the draft's
    validity (Save enabled or not) changes."""
    s = session.state()
    with st.expander("Save, load, reset", expanded=True):
        st.caption(f"Saving adds a new version of the model; nothing is ever overwritten. "
                   f"The approved model here is {plain(ctx.approved_ref)}.")
        c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="bottom")
        with c1:
            name = session.kept(st.text_input, f"save_name:{ctx.model}", ctx.model, label="Model name")
        with c2:
            note = session.kept(st.text_input, "save_note", "", label="Note", placeholder="What changed and why")
        editor = auth.may_edit(ctx.user)
        valid = session.draft_config() is not None
        st.session_state[sidebar.SHOWN_VALID] = valid  # the workspace reruns the page when this turns stale
        if c3.button("Save draft", type="primary", key="save", disabled=not valid or not editor, width="stretch",
                     help=None if editor else "Viewers cannot save."):
            _save(ctx, session.draft_config(), name, note)
        _load_reset_download(ctx, s, editor)


def _load_reset_download(ctx: data.Context, s, editor: bool) -> None:
    if not editor:
        st.caption("You are signed in as a viewer: you can try changes here, but not save them.")
    message = st.session_state.pop("save_message", None)
    if message:
        (st.success if message[0] == "ok" else st.info)(message[1])
    refs = [v.ref for m in ctx.store.models() for v in reversed(ctx.store.versions(m))]
    c0, c1, c2, c3 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    with c0:
        pick = session.kept(st.selectbox, "load_pick", None, label="Saved versions", options=refs,
                            index=None, placeholder="Pick a saved version") if refs else None
    if c1.button("Load", key="load", disabled=pick is None, width="stretch"):
        try:
            ref_name, ref_version = parse_ref(pick)
            config = ctx.store.load(ref_name, ref_version)
        except (ConfigError, StoreError) as exc:
            st.error(plain(exc))
        else:
            session.request(f"load {pick}", s.db, s.model, config, pick)
            st.rerun()
    if c2.button("Reset to approved", key="reset", width="stretch",
                 help="Start over from the approved model; unsaved changes are lost."):
        session.seed_from(ctx.approved, ctx.approved_ref, approved=True)
        st.rerun()
    c3.download_button("Download draft YAML", _draft_yaml, file_name=f"{ctx.model}-draft.yaml",
                       mime="text/yaml", key="download", on_click="ignore", width="stretch",
                       help="The draft as the controls show it now, as a YAML file.")


def _draft_yaml() -> str:
    """The session's draft as YAML, made when the download is clicked (the draft as it is then)."""
    draft = session.draft_config()
    if draft is None:
        problems = "; ".join(session.state().problems)
        return f"# The draft is not valid, so it cannot be downloaded: {problems}\n"
    return data.yaml_of(draft)


def _save(ctx: data.Context, draft: ScoringConfig, name: str, note: str) -> None:
    """A new version, unless the draft is already saved as one (then say which)."""
    try:
        same = ctx.store.same_as(name, draft)
        if same is not None:
            session.mark_saved(draft, same.ref)
            st.session_state["save_message"] = ("same", f"Nothing saved: the draft is the same as {same.ref}.")
            st.rerun()
        if not auth.may_edit(ctx.user):
            raise StoreError("viewers cannot save")
        version = ctx.store.save(name, draft, author=auth.author(ctx.user), note=note, parent=session.state().parent)
    except (StoreError, OSError) as exc:
        st.error(plain(exc))
        return
    session.mark_saved(draft, version.ref)
    st.session_state["save_message"] = ("ok", f"Saved as {version.ref}")
    st.rerun()
