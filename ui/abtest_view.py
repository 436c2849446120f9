"""The A/B test page's glue: the recorded plan and its readout on the session's data, cached per data and test.

Everything shown comes from ``scoring.analysis.abtest`` / ``abtest_readout`` (the same
numbers `leadcal abtest readout` prints); user-written text (names, rationale) is escaped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from scoring.analysis.abtest import METRICS, AbTestPlan, maturity_days
from scoring.analysis.abtest_readout import BETTER, NO_DIFFERENCE, WORSE, Readout, readout
from scoring.data.deals import deal_values
from scoring.data.source import open_source
from scoring.model.engine import score
from scoring.registry.store import ConfigStore, parse_ref

from . import data
from .text import plain


@st.cache_resource(max_entries=4, show_spinner=False)
def _deals(fingerprint: str, mapping_json: str, _path: str, _config, _lead_ids):
    with open_source(_path) as source:
        return deal_values(source, _config.source, _lead_ids)


def plan_of(store: ConfigStore, test: str) -> tuple[dict, AbTestPlan]:
    """The signed record and the plan of a test (StoreError says what is wrong)."""
    record = store.read_test(test)
    return record, AbTestPlan.from_dict(record["plan"])


def readout_of(path: Path, store: ConfigStore, plan: AbTestPlan) -> Readout:
    """The readout of ``plan`` on the database ``path`` (features shared with the other pages' cache)."""
    champion = store.load(*parse_ref(plan.champion))
    challenger = store.load(*parse_ref(plan.challenger))
    features = data.features_for(path, champion, challenger)
    deals = _deals(data._fingerprint(path), champion.source.model_dump_json(), str(path), champion, features.lead_id)
    return readout(plan, features, score(champion, features), score(challenger, features), deals,
                   maturity_days(champion))


def plan_section(record: dict, plan: AbTestPlan) -> None:
    """What was agreed before the first lead was routed."""
    s, what = plan.sample, METRICS[plan.metric][0]
    effect = (f"{plan.min_effect:+,.0f} per lead" if plan.metric == "revenue_per_lead"
              else f"{plan.min_effect * 100:+.1f} points")
    signed = ", ".join(f"{x['name']} ({x['role']})" for x in record.get("signoffs", []))
    st.markdown(
        f"- **Champion** {plain(plan.champion)} vs **challenger** {plain(plan.challenger)}: "
        f"{plan.share:.0%} of leads created from {plain(plan.start)} go to the challenger\n"
        f"- **Primary metric**: {what}; smallest effect worth detecting {effect}, "
        f"significance {plan.alpha:g} (two-sided), power {plan.power:.0%}\n"
        f"- **Sample**: {s.champion_units:,} {s.unit} on the champion and {s.challenger_units:,} on the "
        f"challenger; about {s.weeks_to_enrol:.0f} weeks to enrol at last year's volume, results about "
        f"{s.weeks_to_result:.0f} weeks after the start\n"
        f"- **Signed off** by {plain(signed)}: {plain(record.get('rationale', ''))}")


def verdict_box(r: Readout) -> None:
    """The plain answer, coloured by what it means."""
    show = {BETTER: st.success, WORSE: st.error, NO_DIFFERENCE: st.info}.get(r.verdict.verdict, st.warning)
    show(f"**{r.verdict.verdict.capitalize()}**: {plain(r.verdict.reason)}")


def arms_table(r: Readout) -> None:
    """Per arm: leads, matured leads, MQLs, SQLs, rates with intervals, revenue."""
    def rate(x):
        return None if x.rate is None else x.rate

    def interval(x):
        return "" if x.rate is None else f"{x.ci_low:.1%} – {x.ci_high:.1%}"

    rows = [{
        "arm": f"{a.arm} ({a.model})", "leads": a.leads, "matured": a.mature_leads, "immature": a.immature_leads,
        "MQLs": a.mqls, "SQLs": a.sqls,
        "conversion": rate(a.conversion), "conversion 95%": interval(a.conversion),
        "MQL conversion": rate(a.mql_conversion), "MQL conv. 95%": interval(a.mql_conversion),
        "SQL conversion": rate(a.sql_conversion), "SQL conv. 95%": interval(a.sql_conversion),
        "revenue per lead": a.revenue_per_lead,
        f"matured {r.plan.sample.unit} / planned": f"{a.units:,} / {a.planned_units:,}",
    } for a in (r.champion, r.challenger)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="abtest_arms", column_config={
        "immature": st.column_config.NumberColumn(help="Outcome window not yet passed: shown, never counted."),
        **{c: st.column_config.NumberColumn(format="percent") for c in
           ("conversion", "MQL conversion", "SQL conversion")},
        "revenue per lead": st.column_config.NumberColumn(format="%.0f", help="Won deal value per matured lead."),
    })


def difference_line(r: Readout) -> None:
    """The difference on the primary metric with its interval and p-value, and the split check."""
    d = r.difference
    what = METRICS[r.plan.metric][0]
    if d is None:
        st.caption(f"No difference of {what} yet: an arm has no matured {r.plan.sample.unit}.")
    else:
        if r.plan.metric == "revenue_per_lead":
            fmt = lambda x: f"{x:+,.0f}"  # noqa: E731
        else:
            fmt = lambda x: f"{x * 100:+.1f} points"  # noqa: E731
        st.markdown(f"**{what.capitalize()}**, challenger minus champion: **{fmt(d.difference)}** "
                    f"({d.confidence:.0%} interval {fmt(d.ci_low)} to {fmt(d.ci_high)}; p = {d.p_value:.3g})")
    s = r.sample_ratio
    if s.p_value is not None:
        text = (f"Split: {s.observed_share:.1%} of the test's leads went to the challenger, "
                f"{s.planned_share:.0%} planned (chi-square p = {s.p_value:.3g}).")
        (st.error if s.mismatch else st.caption)(text + (" Sample-ratio mismatch: check the routing."
                                                         if s.mismatch else ""))
