"""The Attributes page's tabs: widgets and tables around numbers from ``scoring``.

Each function draws one tab. Every number comes from ``scoring.analysis.attributes`` or
``scoring.analysis.suggest``, every figure from ``scoring.export.charts``; applying a suggestion goes
through ``ui.session.apply_to_draft`` and is never silent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from scoring.analysis.attributes import AttributeTable, flat_rows, summary_rows
from scoring.analysis.glossary import HELP
from scoring.analysis.suggest import (
    MQL_CAPTURE,
    compare_auc,
    decay_label,
    holdout_split,
    probability_sentence,
    reliability,
    reliability_line,
    suggest_thresholds,
    with_decay,
    with_thresholds,
)
from scoring.export.charts import decay_chart, iv_chart, reliability_chart, tradeoff_chart
from scoring.model.config import ScoringConfig
from scoring.model.diff import config_diff
from scoring.model.features import Features
from scoring.model.kpis import DEFAULT_SQL_TARGET

from . import data, session
from .text import plain

PCT = st.column_config.NumberColumn(format="percent")


def _num(label: str | None = None, fmt: str = "%.3f", help: str | None = None):
    return st.column_config.NumberColumn(label, format=fmt, help=help or HELP.get(label or ""))


def _pct(label: str, key: str):
    return st.column_config.NumberColumn(label, format="percent", help=HELP[key])


def attributes_tab(table: AttributeTable, leakage_iv: float) -> None:
    """IV per attribute (chart and table) and every value's conversion, WoE and draft points."""
    o = table.overall
    rate = "-" if o.rate is None else f"{o.rate:.1%}"
    st.caption(f"{o.leads:,} mature leads, {o.conversions:,} converted ({rate}); {o.immature:,} immature "
               "leads are not counted. WoE = ln(share of converters / share of the others): positive means likelier "
               "than average to convert. An engagement rule reads by how much: none, then ranges of its activity. "
               "Fields the model does not use can be added under Settings.")
    for message in table.warnings:
        st.warning(plain(message))
    summary = summary_rows(table)
    st.plotly_chart(iv_chart(table.attributes, leakage_iv), width="stretch", key="iv_chart")
    st.caption("Blue: scored by the draft; grey: not in the model; red: possible leakage (filled only for "
               "converted or closed leads, or IV above the line): the suggestion leaves it out unless you include "
               "it. "
               f"The draft pays about {table.points_per_double_odds or 0:.0f} points per doubling of the odds "
               "(median over its attributes).")
    st.dataframe(pd.DataFrame(summary)[["attribute", "iv", "strength", "flags", "points_spread",
                                        "points_per_double_odds", "kind", "in_model", "leakage"]],
                 hide_index=True, width="stretch", key="iv_table",
                 column_config={"iv": _num("IV"), "points_spread": _num("points spread", "%.1f",
                                                                         "Highest minus lowest points the draft "
                                                                         "gives for this attribute."),
                                "points_per_double_odds": _num("points per doubling of odds", "%.1f"),
                                "in_model": st.column_config.CheckboxColumn("in model")})
    values = pd.DataFrame(flat_rows(table))
    st.dataframe(values[["attribute", "value", "leads", "conversions", "rate", "ci_low", "ci_high", "lift", "woe",
                         "iv", "points", "avg_points", "flag"]],
                 hide_index=True, width="stretch", key="values_table",
                 column_config={"rate": _pct("conversion", "rate"), "ci_low": _pct("95% interval, low", "ci_low"),
                                "ci_high": _pct("95% interval, high", "ci_high"),
                                "lift": _num("lift", "%.2f"), "leads": _num("mature leads", "%d", HELP["leads"]),
                                "woe": _num("WoE", "%.2f"), "iv": _num("IV part"),
                                "points": _num("draft points", "%g"), "avg_points": _num("avg points given", "%.1f")})


def suggestion_tab(db: Path, features: Features, draft: ScoringConfig, approved: ScoringConfig,
                   approved_ref: str, segment: str | None, share: float, leakage_iv: float | None = None) -> None:
    """Suggested points, their train and hold-out AUC beside the draft's and the approved model's.

    Columns flagged as possible leakage are left out (said here); a toggle per column puts one back."""
    try:
        suggestion = data.suggestion_for(db, features, draft, segment, share, leakage_iv=leakage_iv)
        flagged = [x.column for x in suggestion.left_out]
        include = st.multiselect("Include anyway (possible leakage: I checked it is known before the scoring point)",
                                 flagged, key="attr_include") if flagged else []
        if include:
            suggestion = data.suggestion_for(db, features, draft, segment, share, include=tuple(include),
                                             leakage_iv=leakage_iv)
    except ValueError as exc:
        st.error(f"No suggestion: {plain(exc)}")
        return
    for x in suggestion.left_out:
        st.warning(f"Left out of the suggestion as possible leakage: {plain(x.message)}.")
    split = suggestion.split
    (st.info if split.method == "time" else st.warning)(split.description)
    rows = compare_auc({"suggested": suggestion.config, "draft": draft, f"approved ({approved_ref})": approved},
                       features, split)
    for col, row in zip(st.columns(3), rows):
        col.metric(f"{plain(row.model)}: hold-out AUC", "-" if row.holdout_auc is None else f"{row.holdout_auc:.3f}",
                   None if row.train_auc is None else f"train {row.train_auc:.3f}",
                   delta_color="gray", delta_arrow="off")
    st.dataframe(pd.DataFrame([r.to_dict() for r in rows]), hide_index=True, width="stretch", key="auc_table",
                 column_config={"train_auc": _num("train AUC"), "holdout_auc": _num("hold-out AUC")})
    st.caption(f"Suggested before rounding to whole points: hold-out AUC "
               f"{'-' if suggestion.model_auc.holdout is None else format(suggestion.model_auc.holdout, '.3f')}.")
    for note in suggestion.notes[1:]:
        st.caption(plain(note))
    st.subheader("Points: draft and suggested")
    st.dataframe(pd.DataFrame([c.to_dict() for c in suggestion.coefficients]), hide_index=True, width="stretch", key="coef_table",
                 column_config={"coefficient": _num("log-odds")})
    changes = config_diff(draft, suggestion.config)
    with st.expander(f"What applying it changes in the draft ({len(changes)} changes)"):
        st.dataframe(pd.DataFrame(changes).astype(str), hide_index=True, width="stretch", key="suggest_diff")
    c1, c2 = st.columns(2)
    if c1.button("Apply suggestion to the draft", type="primary", key="apply_suggestion",
                 help="Fills the Calibrate page's controls with the suggested points; nothing is saved."):
        session.apply_to_draft(suggestion.config, "The suggested points are now the draft on the Calibrate page. "
                               "Nothing is saved until you save it there.")
    text = data.yaml_of(suggestion.config)
    c2.download_button("Download suggestion YAML", lambda: text, file_name=f"{draft.name}-suggested.yaml",
                       mime="text/yaml", key="download_suggestion", on_click="ignore")


def decay_tab(db: Path, features: Features, draft: ScoringConfig, segment: str | None, share: float) -> None:
    """Every decay option by hold-out AUC and Brier score, on request.

    ``features`` are the page's (the draft's columns and event types, the segment's
    leads); each option's sums are derived from their kept events, so no DuckDB query.
    """
    st.caption("Every decay option with the points refitted for it (a decay that keeps more events changes what a "
               "point per event is worth), judged on the hold-out by AUC and Brier score; also the draft's own "
               "points under each decay. Per-rule decays are replaced by the option.")
    if not any(rule.event is not None for rule in draft.engagement):
        st.info("The draft has no event rules, so decay does not matter.")
        return
    if not st.toggle("Compare decay options (re-weighs the events already read, one option at a time)",
                     key="attr_decays"):
        return
    try:
        result = data.decays_for(db, features, draft, segment, share)
    except ValueError as exc:
        st.error(plain(exc))
        return
    st.success(plain(result.reason))
    st.plotly_chart(decay_chart(result.rows), width="stretch", key="decay_chart")
    table = pd.DataFrame([{**r.to_dict(), "decay": r.label} for r in result.rows]).drop(columns=["label"])
    st.dataframe(table, hide_index=True, width="stretch", key="decay_table",
                 column_config={c: _num(None, "%.4f")
                                for c in ("holdout_auc", "train_auc", "holdout_brier", "draft_points_holdout_auc")})
    if result.suggested is not None and not any(r.suggested and r.current for r in result.rows):
        label = decay_label(result.suggested)
        if st.button(f"Apply decay '{label}' to the draft", key="apply_decay"):
            session.apply_to_draft(with_decay(draft, result.suggested),
                                   f"The draft now decays engagement as {label}.")


def thresholds_tab(features: Features, draft: ScoringConfig) -> None:
    """MQL and SQL from a target SQL conversion or a sales capacity, with the trade-off curve."""
    c1, c2, c3 = st.columns(3)
    target = c1.slider("SQL conversion target (%)", 0.0, 60.0,
                       (100 * DEFAULT_SQL_TARGET[0], 100 * DEFAULT_SQL_TARGET[1]), step=0.5, key="attr_sql_target")
    capacity = c2.number_input("Sales capacity (leads a month; 0 = not set)", min_value=0, value=0, step=50,
                               key="attr_capacity")
    capture = c3.slider("Without a capacity, MQL keeps this share of conversions (%)", 50, 100,
                        int(100 * MQL_CAPTURE), key="attr_capture")
    try:
        th = suggest_thresholds(draft, features, sql_target=(target[0] / 100, target[1] / 100),
                                capacity_per_month=float(capacity) or None, mql_capture=capture / 100)
    except ValueError as exc:
        st.error(plain(exc))
        return
    k = st.columns(4)
    k[0].metric("Suggested MQL", f"{th.mql:g}", f"draft {draft.thresholds.mql:g}", delta_color="gray",
                delta_arrow="off")
    k[1].metric("Suggested SQL", f"{th.sql:g}", f"draft {draft.thresholds.sql:g}", delta_color="gray",
                delta_arrow="off")
    sql_rate = None if th.at_sql is None else th.at_sql.rate
    mql_capture = None if th.at_mql is None else th.at_mql.capture
    k[2].metric("SQL conversion", "-" if sql_rate is None else f"{sql_rate:.1%}")
    k[3].metric("Conversions ≥ MQL", "-" if mql_capture is None else f"{mql_capture:.0%}")
    for note in th.notes:
        st.caption(plain(note))
    st.plotly_chart(tradeoff_chart(th.curve, th.mql, th.sql), width="stretch", key="tradeoff_chart")
    st.dataframe(pd.DataFrame([p.to_dict() for p in th.curve]), hide_index=True, width="stretch", key="curve_table",
                 column_config={"share": PCT, "capture": PCT, "rate": PCT, "per_month": _num("per month", "%.0f")})
    if (th.mql, th.sql) != (draft.thresholds.mql, draft.thresholds.sql) and th.mql < th.sql:
        if st.button(f"Apply MQL {th.mql:g} and SQL {th.sql:g} to the draft", key="apply_thresholds"):
            session.apply_to_draft(with_thresholds(draft, th.mql, th.sql),
                                   f"The draft's thresholds are now MQL {th.mql:g} and SQL {th.sql:g}.")


def calibration_tab(features: Features, draft: ScoringConfig, share: float) -> None:
    """What a draft score means as a probability: reliability on the hold-out and the Brier score."""
    try:
        split = holdout_split(features, share, 0)
        cal = reliability(draft, features, split)
    except ValueError as exc:
        st.error(plain(exc))
        return
    if cal.fitted is None:
        st.info("The hold-out has no conversions (or only conversions): nothing to calibrate.")
        return
    (st.caption if split.method == "time" else st.warning)(split.description)
    st.markdown(f"**What a draft score means:** {probability_sentence(cal)}.")
    k = st.columns(3)
    for col, label, value, fmt in ((k[0], "Brier score (hold-out)", cal.brier_holdout, ".4f"),
                                   (k[1], "Always predicting the base rate", cal.brier_reference, ".4f"),
                                   (k[2], "Skill (1 - Brier / base)", cal.brier_skill, ".1%")):
        col.metric(label, "-" if value is None else format(value, fmt))
    st.plotly_chart(reliability_chart(cal.bands, reliability_line(cal, draft)), width="stretch",
                    key="reliability_chart")
    st.dataframe(pd.DataFrame([b.to_dict() for b in cal.bands]), hide_index=True, width="stretch", key="reliability_table",
                 column_config={"rate": PCT, "ci_low": PCT, "ci_high": PCT, "predicted": PCT,
                                "mean_score": _num(None, "%.1f")})
