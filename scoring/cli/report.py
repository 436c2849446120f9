"""`leadcal report`: the calibration result of a config on a database, as a table or the documented JSON."""

from __future__ import annotations

import argparse
import json

from .common import add_data_arguments, load


def cmd_report(args: argparse.Namespace) -> int:
    from ..analysis.report import calibration, format_table

    config, features = load(args)
    result = calibration(config, features, with_revenue=True, with_accounts=True)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_table(result))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `report`."""
    p = sub.add_parser("report", help="band table and metrics of a config on a database")
    add_data_arguments(p)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_report)
