"""`leadcal validate CONFIG`: every problem of a config at once (exit 1), or ok."""

from __future__ import annotations

import argparse

from ..model.config import load_config


def cmd_validate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(f"{args.config}: ok (model '{config.name}', {len(config.fit)} fit rules, "
          f"{len(config.engagement)} engagement rules, {len(config.segments)} segments)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `validate`."""
    p = sub.add_parser("validate", help="check a config; exit 1 listing every problem")
    p.add_argument("config")
    p.set_defaults(func=cmd_validate)
