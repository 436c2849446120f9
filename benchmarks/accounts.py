"""Revenue and accounts (issue 22): what the account view and the revenue figures cost per rerun.

    python -m benchmarks.accounts --leads 1000000 [--repeats 7]

On the demo (its companies: about one per 5 leads, ~200k at 1M) with the shipped default
model (which scores accounts by the best lead): the first switch to the account view
(account index: one sort, kept on the features), a slider move in the account view (the
lead model_view after a points change, then the draft's account result; the approved
model's is kept), a threshold move, the revenue KPI per move, and opening the Revenue section.
Medians of ``--repeats`` runs, each to a value never used before. The browser figure
(key press to redrawn chart) is ``benchmarks.browser``; this is the server's share.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import os

from scoring.analysis.calibrate import account_view, calibration_view, revenue_view
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.accounts import account_index
from scoring.model.config import config_from_dict, config_to_dict, load_config
from scoring.model.revenue import revenue_at

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"


def _ms(f) -> tuple[float, object]:
    t = time.perf_counter()
    value = f()
    return 1000 * (time.perf_counter() - t), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out-dir", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    db = args.out_dir / f"demo-accounts-{args.leads}.duckdb"
    if not db.exists():
        generate(db, leads=args.leads, seed=7)
    approved = load_config(ROOT / "data" / "configs" / "default.yaml")
    with open_source(db) as source:
        load_ms, features = _ms(lambda: extract_features(source, approved))
    view = calibration_view(approved, approved, features)
    index_ms, index = _ms(lambda: account_index(approved, features))
    first_ms, first = _ms(lambda: account_view(view, features))
    rows = {"leads": features.n, "accounts": index.n, "first load: extract_features (s)": load_ms / 1000,
            "account index, once per data (ms)": index_ms,
            "switch to accounts: account view, approved computed (ms)": first_ms}
    data = config_to_dict(approved)
    moves, leads_only, thresholds, kpi, revenue = [], [], [], [], []
    for i in range(args.repeats):
        data["engagement"][1]["points"] = 31 + i  # lead level alone, the same kind of move (another rule)
        draft = config_from_dict(data)
        leads_only.append(_ms(lambda: calibration_view(draft, approved, features, approved_view=view.approved))[0])
        data["engagement"][0]["points"] = 21 + i  # a value never used before
        draft = config_from_dict(data)
        t = time.perf_counter()
        view = calibration_view(draft, approved, features, approved_view=view.approved)
        account_view(view, features)
        moves.append(1000 * (time.perf_counter() - t))
        d = view.draft
        data["accounts"]["thresholds"] = {"mql": 41 + i, "sql": 71 + i}
        draft = config_from_dict(data)
        t = time.perf_counter()
        view2 = calibration_view(draft, approved, features, approved_view=view.approved)
        account_view(view2, features)
        thresholds.append(1000 * (time.perf_counter() - t))
        kpi.append(_ms(lambda: revenue_at(features, d.scores.tier, 1))[0])
        revenue.append(_ms(lambda: revenue_view(view, features))[0])
    rows["points move, lead view: calibration_view (ms)"] = statistics.median(leads_only)
    rows["points move in the account view: calibration_view + account view (ms)"] = statistics.median(moves)
    rows["MQA threshold move: calibration_view + account view (ms)"] = statistics.median(thresholds)
    rows["won revenue >= MQL KPI, per move (ms)"] = statistics.median(kpi)
    rows["Revenue section opened: draft + approved + moves (ms)"] = statistics.median(revenue)
    rows["account scores equal approved's on the same model"] = first.draft.bands == first.approved.bands
    rows["load average (1, 5, 15 min)"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    for key, value in rows.items():
        print(f"| {key} | {value:,.1f} |" if isinstance(value, float) else f"| {key} | {value:,} |"
              if isinstance(value, int) and not isinstance(value, bool) else f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
