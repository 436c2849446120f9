"""`leadcal score`: every lead's scores, band and tier written to a new CSV or Parquet file.

In a CSV, a text cell that a spreadsheet would run as a formula gets a leading ``'``
(``scoring.base.csv_safety``) unless ``--no-escape-formulas``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..base.files import check_output, write_atomic
from .common import CliError, add_data_arguments, load


def cmd_score(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from ..model.engine import TIERS, score
    from ..model.metrics import band_bounds, band_label, total_bounds
    from ..registry.store import default_store

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise CliError(f"--out {out}: use a .csv or .parquet file name")
    check_output(out, force=args.force, stores=[default_store()], databases=[args.db, os.environ.get("LEADCAL_DB")])
    config, features = load(args)
    scores = score(config, features)
    bounds = band_bounds(config.bands, *total_bounds(config))
    labels = pa.array([band_label(lo, hi) for lo, hi in bounds]).take(pa.array(scores.band.astype("int32")))
    table = pa.table({
        "lead_id": pa.array(features.lead_id),
        "scored_at": pa.array(features.scoring_at),
        "fit_score": scores.fit,
        "engagement_score": scores.engagement,
        "score": scores.total,
        "band": labels,
        "tier": pa.array(list(TIERS)).take(pa.array(scores.tier.astype("int32"))),
        "converted": features.converted,
        "mature": features.mature,
    })
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        from ..base.csv_safety import escape_formulas

        csv_table = table if args.no_escape_formulas else escape_formulas(table)
        write_atomic(out, lambda tmp: pacsv.write_csv(csv_table, tmp), overwrite=args.force)
    else:
        import pyarrow.parquet as pq

        write_atomic(out, lambda tmp: pq.write_table(table, tmp), overwrite=args.force)
    print(f"wrote {out}: {table.num_rows:,} leads")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `score`."""
    p = sub.add_parser("score", help="score every lead and write a CSV or Parquet file")
    add_data_arguments(p)
    p.add_argument("--out", required=True, help="output file, .csv or .parquet (a new file)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file (never a database or a store file)")
    p.add_argument("--no-escape-formulas", action="store_true",
                   help="write CSV text cells starting with = + - @ as they are (by default they get a "
                        "leading ' so a spreadsheet does not run them as formulas)")
    p.set_defaults(func=cmd_score)
