"""`leadcal leads`: the leads behind a number of the calibration (a band, a tier, a mover group, a grid cell)
written to a new CSV or Parquet file, for whoever follows up after the meeting.

Counted as the tables count them (``scoring.analysis.drilldown``); in a CSV, text a
spreadsheet would run as a formula gets a leading ``'`` unless ``--no-escape-formulas``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..base.files import check_output, write_atomic
from .common import CliError, add_data_arguments
from .lead_data import add_lead_arguments, load_lead_data


def _selection(args: argparse.Namespace):
    from ..analysis.drilldown import Selection

    given = [(k, v) for k, v in (("band", args.band), ("tier", args.tier), ("moved", args.moved), ("cell", args.cell))
             if v is not None]
    if len(given) != 1:
        raise CliError("give one of --band, --tier, --moved or --cell")
    kind, value = given[0]
    if kind == "moved" and args.line:
        value = f"{args.line} {value}"
    return Selection(kind, value, args.of)


def cmd_leads(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from ..analysis.drilldown import DrillError, drill_table, normalise, select
    from ..model.kpis import default_grid_cuts
    from ..registry.store import default_store

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise CliError(f"--out {out}: use a .csv or .parquet file name")
    selection = _selection(args)
    try:
        normalise(selection)
    except DrillError as exc:
        raise CliError(str(exc)) from None
    check_output(out, force=args.force, stores=[default_store(), args.store],
                 databases=[args.db, os.environ.get("LEADCAL_DB")])
    data = load_lead_data(args)
    data.close()
    d, a = data.draft_scores, data.approved_scores
    cuts = (default_grid_cuts(data.draft, "fit", d.fit), default_grid_cuts(data.draft, "engagement", d.engagement))
    try:
        rows = select(selection, data.draft, data.approved, d, a, cuts)
        page = drill_table(selection, rows, data.features, d, a, data.details, sort=args.sort, limit=None)
    except DrillError as exc:
        raise CliError(str(exc)) from None
    table: pa.Table = page.table
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        from ..base.csv_safety import escape_formulas

        csv_table = table if args.no_escape_formulas else escape_formulas(table)
        write_atomic(out, lambda tmp: pacsv.write_csv(csv_table, tmp), overwrite=args.force)
    else:
        import pyarrow.parquet as pq

        write_atomic(out, lambda tmp: pq.write_table(table, tmp), overwrite=args.force)
    c = page.counts
    print(f"wrote {out}: {c.leads:,} leads in {page.selection.describe()} "
          f"({c.mature:,} mature, {c.conversions:,} converted, {c.immature:,} immature; "
          f"draft {data.draft.name} vs {data.approved_ref})")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `leads`."""
    p = sub.add_parser("leads", help="write the leads behind a band, tier, mover group or grid cell to a file")
    add_data_arguments(p, "the draft model's config YAML (default %(default)s)")
    add_lead_arguments(p)
    p.add_argument("--band", help="a score band as the band table labels it, e.g. 60-80, '< 10', '>= 90'")
    p.add_argument("--tier", help="below_mql, mql or sql")
    p.add_argument("--moved", help="up or down: leads crossing the line from the approved model to the draft")
    p.add_argument("--line", choices=["MQL", "SQL", "mql", "sql"], help="the line --moved crosses (default MQL)")
    p.add_argument("--cell", help="a fit x engagement grid cell, A1 (best fit, most engaged) .. C3")
    p.add_argument("--of", choices=["draft", "approved"], default="draft",
                   help="the model whose band or tier (default: the draft, --config)")
    p.add_argument("--sort", default="draft score",
                   help="draft score (default), approved score, change, deal value, conversion date or created")
    p.add_argument("--out", required=True, help="output file, .csv or .parquet (a new file)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file (never a database)")
    p.add_argument("--no-escape-formulas", action="store_true",
                   help="write CSV text cells starting with = + - @ as they are")
    p.set_defaults(func=cmd_leads)
