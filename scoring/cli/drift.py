"""`leadcal drift`: the scheduled check of score drift and data quality, with its exit code.

0 stable, 1 investigate, 2 shifted, 3 could not check (any error of this command exits
3 too, so a scheduler can tell a broken job from drift).
"""

from __future__ import annotations

import argparse
import json

from ..model.config import load_config
from .common import add_data_arguments


def cmd_drift(args: argparse.Namespace) -> int:
    from ..analysis.drift import parse_reference
    from ..analysis.monitor import format_html, format_text, monitor

    config = load_config(args.config)
    reference = parse_reference(args.reference) if args.reference else None
    result = monitor(config, args.db, reference, args.grain)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2, default=str))
    elif args.format == "html":
        print(format_html(result))
    else:
        print(format_text(result))
    return result.exit_code


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `drift`."""
    p = sub.add_parser("drift", help="score drift and data quality; exit 0 stable, 1 investigate, 2 shifted")
    add_data_arguments(p)
    p.add_argument("--reference", metavar="START:END", help="reference period (default: first six months)")
    p.add_argument("--grain", choices=("week", "month"), default="month")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.set_defaults(func=cmd_drift)
