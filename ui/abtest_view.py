"""The A/B test page's glue: the recorded plan and its readout on the session's data, cached per data and test.

Everything shown comes from ``scoring.analysis.abtest`` / ``abtest_readout`` (the same
numbers `leadcal abtest readout` prints); user-written text (names, rationale) is escaped.
"""

from __future__ import annotations

import json
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


def readout_of(path: Path, store: ConfigStore, record: dict, plan: AbTestPlan) -> Readout:
    """The readout of ``plan`` on the database ``path``, computed once per data file and signed plan
    (the record's content hashes bind it to the exact versions), so a rerun of the page is instant."""
    key = json.dumps([record.get("champion_sha256"), record.get("challenger_sha256"), plan.to_dict()], sort_keys=True)
    return _readout(data._fingerprint(path), key, path, store, plan)


@st.cache_resource(max_entries=8, show_spinner=False)
def _readout(fingerprint: str, key: str, _path: Path, _store: ConfigStore, _plan: AbTestPlan) -> Readout:
    return _compute(_path, _store, _plan)


def _compute(path: Path, store: ConfigStore, plan: AbTestPlan) -> Readout:
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
    show(f"**{r.verdict.verdict[0].upper() + r.verdict.verdict[1:]}**: {plain(r.verdict.reason)}")


def _rate(x) -> str:
    if x.rate is None:
        return "no matured lead yet"
    return f"{x.rate:.1%} ({x.ci_low:.1%} – {x.ci_high:.1%}) of {x.leads:,}"


def arms_table(r: Readout) -> None:
    """Per arm (a column each): leads, matured and immature leads, MQLs, SQLs, rates with Wilson
    95% intervals, revenue per lead, and the matured sample against the plan."""
    rows = [
        ("leads in the test", lambda a: f"{a.leads:,}"),
        ("matured (counted)", lambda a: f"{a.mature_leads:,}"),
        ("immature (shown, not counted)", lambda a: f"{a.immature_leads:,}"),
        ("MQLs / SQLs (the arm's model)", lambda a: f"{a.mqls:,} / {a.sqls:,}"),
        ("conversion (95% interval)", lambda a: _rate(a.conversion)),
        ("MQL conversion", lambda a: _rate(a.mql_conversion)),
        ("SQL conversion", lambda a: _rate(a.sql_conversion)),
    ]
    if r.champion.revenue_per_lead is not None and r.challenger.revenue_per_lead is not None:
        rows.append(("won revenue per matured lead", lambda a: f"{a.revenue_per_lead:,.0f}"))
    rows.append((f"matured {r.plan.sample.unit} / planned", lambda a: f"{a.units:,} / {a.planned_units:,}"))
    table = pd.DataFrame({"": [label for label, _ in rows],
                          **{f"{a.arm} ({a.model})": [fmt(a) for _, fmt in rows] for a in (r.champion, r.challenger)}})
    st.dataframe(table, hide_index=True, width="stretch", key="abtest_arms")


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
        st.markdown(f"**{what[0].upper() + what[1:]}**, challenger minus champion: **{fmt(d.difference)}** "
                    f"({d.confidence:.0%} interval {fmt(d.ci_low)} to {fmt(d.ci_high)}; p = {d.p_value:.3g})")
    s = r.sample_ratio
    if s.p_value is not None:
        text = (f"Split: {s.observed_share:.1%} of the test's leads went to the challenger, "
                f"{s.planned_share:.0%} planned (chi-square p = {s.p_value:.3g}).")
        (st.error if s.mismatch else st.caption)(text + (" Sample-ratio mismatch: check the routing."
                                                         if s.mismatch else ""))
