"""`leadcal explain LEAD_ID`: why one lead has its score, rule by rule, and its events relative to its scoring point.

With ``--compare NAME@V`` the same lead under both models side by side, and the difference
rule by rule. The points add up to the engine's score exactly (``scoring.analysis.explain``).
"""

from __future__ import annotations

import argparse
import json

from .common import CliError, add_data_arguments
from .lead_data import add_lead_arguments, load_lead_data


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    x = x + 0.0  # no "-0"
    return f"{x:.4g}" if abs(x - round(x)) > 1e-9 else f"{x:.0f}"


def _explanation_text(e) -> list[str]:
    out = [f"{e.model}: score {_num(e.score)}, band {e.band}, tier {e.tier} (MQL {_num(e.mql)}, SQL {_num(e.sql)})"
           + (f", segment {e.segment}" if e.segment else ", the model's own rules")]
    if e.fit:
        out.append("  fit (who the lead is)")
        for f in e.fit:
            value = "(missing)" if f.value is None else (f"{f.value:g}" if isinstance(f.value, float) else f.value)
            out.append(f"    {f.rule:<24} {value!s:<22} matched {f.matched:<16} {_num(f.points):>7}")
    if e.engagement:
        out.append("  engagement (what it did before the scoring point)")
        idle = [g for g in e.engagement if g.activity == 0]
        for g in e.engagement:
            if g.activity == 0:
                continue
            cap = f", cap {_num(g.cap)} -> {_num(g.points)}" if g.capped else ""
            out.append(f"    {g.rule:<24} {g.activity:.4g} x {_num(g.points_each)} = {_num(g.before_cap)}{cap}"
                       f"   [{g.counts}]")
        if idle:
            out.append(f"    ({len(idle)} rules without activity, 0 points: {', '.join(g.rule for g in idle)})")
    for p in e.parts:
        bit = f" -> capped to {_num(p.after)}" if p.bit else ""
        bounds = "no cap" if p.low is None and p.high is None else f"cap {_num(p.low)}..{_num(p.high)}"
        out.append(f"  {p.part:<11} {_num(p.before)}{bit}   ({bounds})")
    return out


def _timeline_text(t) -> list[str]:
    if t.scoring_point is None:
        return [f"events: {len(t.events)} (no creation times, so no scoring point to place them against)"]
    out = [f"events relative to the scoring point {t.scoring_point}"
           + (f" (converted {t.converted_at})" if t.converted_at else "")]
    if not t.complete:
        out.append("  (a feature set from the warehouse holds no events to list)")
    elif not t.events:
        out.append("  (none)")
    for ev in t.events:
        days = "" if ev.days_before_scoring is None else (
            f"{ev.days_before_scoring:.1f} d before" if ev.days_before_scoring > 0
            else f"{-ev.days_before_scoring:.1f} d after")
        out.append(f"  {ev.time}  {ev.type:<32} {days:>14}  {ev.status}")
    return out


def cmd_explain(args: argparse.Namespace) -> int:
    from ..analysis.explain import ExplainError, compare, explain, timeline
    import numpy as np

    from ..data.details import lead_events, lead_status, read_details
    from ..model.features import event_types, feature_spec

    data = load_lead_data(args, need_approved=args.compare is not None, need_details=False)
    try:
        try:
            e = explain(data.draft, data.features, args.lead_id, all_features=data.all_features)
        except ExplainError as exc:
            if "no scored lead" in str(exc) and lead_status(data.source, data.draft, args.lead_id) == "no creation time":
                raise CliError(f"lead {args.lead_id.strip()!r} has no creation time, so it is not scored at a point "
                               "in time (leads without one are left out)") from None
            raise CliError(str(exc)) from None
        other = explain(data.approved, data.features, args.lead_id) if args.compare else None
        row = e.row
        info = read_details(data.source, data.draft, data.features, np.array([row]))  # this lead's only
        conv = info.converted_at[0]
        events = lead_events(data.source, data.draft, data.features.lead_id[row])
        tl = timeline(data.features, row, events, None if str(conv) == "NaT" else conv.astype(object),
                      set(event_types(feature_spec(data.draft))))
    finally:
        data.close()
    extra = {name: (None if v is None else str(v)) for name, v in ((c, info.columns[c][0]) for c in info.columns)}
    deal = info.deal_value[0]
    lead = {"lead_id": e.lead_id, "created_at": e.created_at, "scoring_point": e.scoring_point,
            "mature": e.mature, "converted": e.converted, "converted_at": tl.converted_at,
            "deal_value": None if deal != deal else float(deal), "columns": extra}
    if args.format == "json":
        out = {"explain_version": 1, "lead": lead, "explanation": e.to_dict(), "timeline": tl.to_dict()}
        if other is not None:
            c = compare(e, other)
            out["compare"] = {"ref": data.approved_ref, "explanation": other.to_dict(),
                              "rules": [r.to_dict() for r in c.rules], "change": c.change}
        print(json.dumps(out, indent=2))
        return 0
    still_open = data.features.open is not None and bool(data.features.open[row])
    outcome = ("open (its outcome is not known yet)" if still_open and not e.mature
               else "immature (outcome window not passed)" if not e.mature
               else "converted" if e.converted else "not converted")
    when = (f"created {e.created_at}, scored {e.scoring_point}" if e.created_at
            else "no creation times in this data: scored on everything recorded")
    lines = [f"lead {e.lead_id}: {when}, {outcome}"]
    lines += [f"  {k}: {v}" for k, v in extra.items() if v is not None]
    if lead["deal_value"] is not None:
        lines.append(f"  deal value: {lead['deal_value']:,.2f}")
    lines += _explanation_text(e)
    if other is not None:
        c = compare(e, other)
        lines.append(f"compared with {data.approved_ref}: " + _explanation_text(other)[0])
        for p in other.parts:
            lines.append(f"  {p.part:<11} {_num(p.before)}" + (f" -> capped to {_num(p.after)}" if p.bit else ""))
        lines.append(f"difference, draft - approved: {c.change + 0.0:+.4g} points")
        changed = [r for r in c.rules if r.change or r.draft is None or r.approved is None]
        if changed:
            lines.append(f"    {'rule':<36} {'draft':>8} {'approved':>9} {'change':>8}")
        else:
            lines.append("    every rule gives this lead the same points under both models")
        for r in changed:
            lines.append(f"    {r.kind + ' ' + r.rule:<36} {_num(r.draft):>8} {_num(r.approved):>9} "
                         f"{r.change + 0.0:>+8.4g}")
    lines += _timeline_text(tl)
    print("\n".join(lines))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `explain`."""
    p = sub.add_parser("explain", help="why one lead has its score: each rule's points, caps, segment, events")
    p.add_argument("lead_id", metavar="LEAD_ID", help="the lead's id as in the data")
    add_data_arguments(p)
    add_lead_arguments(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_explain)
