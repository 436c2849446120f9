"""`leadcal demo`: write the deterministic demo database (``scoring.data.demo``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import DEFAULT_DB, CliError


def cmd_demo(args: argparse.Namespace) -> int:
    from ..data.demo import generate

    path = Path(args.db)
    if path.exists() and not args.force:
        raise CliError(f"{path} already exists; pass --force to replace it with new demo data")

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr)

    summary = generate(path, leads=args.leads, seed=args.seed, progress=progress, test_effect=args.abtest_effect)
    print(
        f"wrote {path}: {summary['leads']:,} leads, {summary['events']:,} events, "
        f"{summary['conversions']:,} conversions, {summary['start']} to {summary['end']} (seed {summary['seed']})"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `demo`."""
    p = sub.add_parser("demo", help="generate the demo DuckDB database")
    p.add_argument("--db", default=str(DEFAULT_DB), help="where to write it (default %(default)s)")
    p.add_argument("--leads", type=int, default=50_000, help="number of leads (default %(default)s)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default %(default)s)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--abtest-effect", type=float, metavar="LOGIT",
                   help="also play out the demo champion vs challenger test (salt demo-test, half the leads from "
                        "2025-10-01) with this true effect on the challenger arm's log-odds of converting")
    p.set_defaults(func=cmd_demo)
