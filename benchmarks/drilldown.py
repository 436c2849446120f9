"""Drill-down and one lead's explanation at scale (issue 21): server side, target <= 100 ms each at 1M leads.

What the Calibrate drill-down does on a click, after the features are loaded (the app keeps
them) and the lead details are read (once per database and mapping, timed separately):

- select: the leads behind a band, a tier, a mover group, a grid cell (numpy on the scores);
- table: the page of 200 of them, sorted by draft score (numpy sort of the selection);
- explain: one lead under the draft and the approved model, and the rule-by-rule difference;
- timeline: its counted events from the kept arrays (binary search per type) plus one query
  filtered on its id for the events the score did not count.

    python -m benchmarks.drilldown --leads 1000000 --repeats 7 --results benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from .run import ROOT, demo_db, log, machine, put_between_markers

DEFAULT_CONFIG = ROOT / "data" / "configs" / "default.yaml"


def _ms(f, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times), out


def measure(db: Path, repeats: int) -> dict:
    from scoring.analysis.calibrate import calibration_view
    from scoring.analysis.drilldown import Selection, drill_table, select
    from scoring.analysis.explain import compare, explain_row, timeline
    from scoring.data.details import lead_events, read_details
    from scoring.data.extract import extract_features
    from scoring.data.source import open_source
    from scoring.model.config import load_config
    from scoring.model.features import event_types, feature_spec, union_spec

    approved = load_config(DEFAULT_CONFIG)
    draft = approved.model_copy(deep=True)
    draft.engagement[0].points = 8.0
    draft.thresholds.mql = 35.0
    out: dict = {}
    with open_source(db) as source:
        t = time.perf_counter()
        features = extract_features(source, union_spec(feature_spec(draft), feature_spec(approved)))
        out["load_s"] = time.perf_counter() - t
        view = calibration_view(draft, approved, features)
        d, a = view.draft.scores, view.approved.scores
        cuts = (view.grid_cuts.fit, view.grid_cuts.engagement)
        t = time.perf_counter()
        details = read_details(source, draft, features)
        out["details_once_ms"] = 1000 * (time.perf_counter() - t)
        def reader(page):
            return read_details(source, draft, features, page)

        biggest_band = max(view.draft.result.bands, key=lambda b: b.leads + b.immature).band
        for name, sel in (("band", Selection("band", biggest_band)), ("tier", Selection("tier", "below_mql")),
                          ("moved", Selection("moved", "MQL up")), ("cell", Selection("cell", "C3"))):
            ms, rows = _ms(lambda: select(sel, draft, approved, d, a, cuts), repeats)
            out[f"select_{name}_ms"] = ms
            out[f"select_{name}_leads"] = int(rows.size)
            ms2, page = _ms(lambda: drill_table(sel, rows, features, d, a, reader, limit=200), repeats)
            out[f"table_{name}_ms"] = ms2
            out[f"drill_{name}_ms"] = ms + ms2
            ms3, _ = _ms(lambda: drill_table(sel, rows, features, d, a, details, sort="deal value", limit=200),
                         repeats)
            out[f"deal_{name}_ms"] = ms3
        row = int(np.flatnonzero(features.mature & (features.events is not None))[len(features.lead_id) // 2])
        types = set(event_types(feature_spec(draft)))

        def one_lead():
            both = compare(explain_row(draft, features, row), explain_row(approved, features, row))
            events = lead_events(source, draft, features.lead_id[row])
            conv = read_details(source, draft, features, np.array([row])).converted_at[0]
            tl = timeline(features, row, events, None if np.isnat(conv) else conv.astype(object), types)
            return both, tl

        out["explain_ms"], _ = _ms(lambda: compare(explain_row(draft, features, row),
                                                   explain_row(approved, features, row)), repeats)
        out["events_query_ms"], events = _ms(lambda: lead_events(source, draft, features.lead_id[row]), repeats)
        out["explain_with_timeline_ms"], (_, tl) = _ms(one_lead, repeats)
        out["timeline_events"] = len(tl.events)
    out["leads"] = int(features.n)
    return out


def markdown(r: dict, info: dict) -> str:
    lines = [f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores, {info['ram_gib']} GiB), "
             f"git {info['git']}; {r['leads']:,} demo leads; medians of the repeats, server side.", "",
             "| step | leads selected | select (ms) | page of 200 by score, its details queried (ms) | "
             "total (ms) | page sorted by deal value, every lead's details kept (ms) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in ("band", "tier", "moved", "cell"):
        lines.append(f"| drill-down: {name} | {r[f'select_{name}_leads']:,} | {r[f'select_{name}_ms']:.1f} | "
                     f"{r[f'table_{name}_ms']:.1f} | {r[f'drill_{name}_ms']:.1f} | {r[f'deal_{name}_ms']:.1f} |")
    lines += ["", "| one lead | ms |", "|---|---:|",
              f"| explanation under draft and approved, rule-by-rule difference | {r['explain_ms']:.1f} |",
              f"| its events: one query filtered on its id | {r['events_query_ms']:.1f} |",
              f"| explanation + timeline + its details ({r['timeline_events']} events) | "
              f"{r['explain_with_timeline_ms']:.1f} |",
              f"| every lead's details, for sorting by deal value or conversion date (once per database, mapping "
              f"and segment, kept) | {r['details_once_ms']:.0f} |",
              "", f"First load of the features (not part of a click): {r['load_s']:.1f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--results", type=Path, help="write the table into this file (between drilldown markers)")
    args = p.parse_args(argv)
    db, _ = demo_db(args.leads)
    log(f"measuring drill-down and explain on {db} ...")
    text = markdown(measure(db, args.repeats), machine())
    print(text)
    if args.results:
        put_between_markers(args.results, text, tag="drilldown")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
