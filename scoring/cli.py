"""The `leadcal` command: everything the app shows, scriptable and schedulable.

Errors are one clear message each on stderr and a non-zero exit, never a traceback:
1 for a problem with the input (config, data, files), 2 for a wrong command line.
`leadcal drift` uses 0/1/2 for its verdict, so its errors (input or command line) exit 3:
a scheduler can tell a broken job from drift. An error leadcal did not foresee is still
one line ("internal error: ..."), with the traceback only under ``LEADCAL_DEBUG=1``.

Output files (``--out``) are only ever new files: never over an existing file (unless
``--force``), never over a DuckDB database, never inside the config store
(:func:`scoring.base.files.check_output`), checked before anything is computed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from .base.files import check_output, write_atomic
from .model.config import load_config

DEFAULT_DB = Path("data/demo.duckdb")
DEFAULT_CONFIG = Path("data/configs/default.yaml")


class CliError(Exception):
    """A user-facing failure with its message."""


DRIFT_ERROR = 3


class _Parser(argparse.ArgumentParser):
    """argparse, with command-line mistakes of `leadcal drift` exiting 3, not 2."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str):  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)  # one line, no usage
        # unknown options are reported by the top parser: `leadcal drift --colour` is still drift's
        drift = self.prog.split()[-1:] == ["drift"] or getattr(self, "_argv", [None])[:1] == ["drift"]
        raise SystemExit(DRIFT_ERROR if drift else 2)


def _env_db() -> Path:
    return Path(os.environ.get("LEADCAL_DB", DEFAULT_DB))


def ensure_demo(path: Path) -> None:
    """Generate the demo database on first use, but only at the default demo path."""
    if path.exists() or path.resolve() != DEFAULT_DB.resolve():
        return
    from .data.demo import generate

    print(f"{path} not found: generating the demo data (about a minute at most)...", file=sys.stderr)
    generate(path)


def cmd_demo(args: argparse.Namespace) -> int:
    from .data.demo import generate

    path = Path(args.db)
    if path.exists() and not args.force:
        raise CliError(f"{path} already exists; pass --force to replace it with new demo data")

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr)

    summary = generate(path, leads=args.leads, seed=args.seed, progress=progress)
    print(
        f"wrote {path}: {summary['leads']:,} leads, {summary['events']:,} events, "
        f"{summary['conversions']:,} conversions, {summary['start']} to {summary['end']} (seed {summary['seed']})"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(f"{args.config}: ok (model '{config.name}', {len(config.fit)} fit rules, "
          f"{len(config.engagement)} engagement rules, {len(config.segments)} segments)")
    return 0


def _load(args: argparse.Namespace):
    from .data.extract import extract_features
    from .data.source import open_source

    config = load_config(args.config)
    ensure_demo(Path(args.db))
    with open_source(args.db) as source:
        features = extract_features(source, config)
    return config, features


def cmd_report(args: argparse.Namespace) -> int:
    from .analysis.report import calibration, format_table

    config, features = _load(args)
    result = calibration(config, features)
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from .model.engine import TIERS, score
    from .model.metrics import band_bounds, band_label, total_bounds
    from .registry.store import default_store

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise CliError(f"--out {out}: use a .csv or .parquet file name")
    check_output(out, force=args.force, stores=[default_store()], databases=[args.db, os.environ.get("LEADCAL_DB")])
    config, features = _load(args)
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

        from .base.csv_safety import escape_formulas

        csv_table = table if args.no_escape_formulas else escape_formulas(table)
        write_atomic(out, lambda tmp: pacsv.write_csv(csv_table, tmp), overwrite=args.force)
    else:
        import pyarrow.parquet as pq

        write_atomic(out, lambda tmp: pq.write_table(table, tmp), overwrite=args.force)
    print(f"wrote {out}: {table.num_rows:,} leads")
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from .analysis.drift import parse_reference
    from .analysis.monitor import format_html, format_text, monitor

    config = load_config(args.config)
    reference = parse_reference(args.reference) if args.reference else None
    result = monitor(config, args.db, reference, args.grain)
    if args.format == "json":
        print(json.dumps(result, indent=2, default=str))
    elif args.format == "html":
        print(format_html(result))
    else:
        print(format_text(result))
    return result["exit_code"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI)."""
    parser = _Parser(prog="leadcal", description="Lead-scoring calibration on real outcomes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="generate the demo DuckDB database")
    p.add_argument("--db", default=str(DEFAULT_DB), help="where to write it (default %(default)s)")
    p.add_argument("--leads", type=int, default=50_000, help="number of leads (default %(default)s)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default %(default)s)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("validate", help="check a config; exit 1 listing every problem")
    p.add_argument("config")
    p.set_defaults(func=cmd_validate)

    for name, func, help_ in (
        ("report", cmd_report, "band table and metrics of a config on a database"),
        ("score", cmd_score, "score every lead and write a CSV or Parquet file"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--db", default=str(_env_db()), help="DuckDB file (default: $LEADCAL_DB or %(default)s)")
        p.add_argument("--config", default=str(DEFAULT_CONFIG), help="config YAML (default %(default)s)")
        if name == "report":
            p.add_argument("--format", choices=("table", "json"), default="table")
        else:
            p.add_argument("--out", required=True, help="output file, .csv or .parquet (a new file)")
            p.add_argument("--force", action="store_true",
                           help="replace an existing --out file (never a database or a store file)")
            p.add_argument("--no-escape-formulas", action="store_true",
                           help="write CSV text cells starting with = + - @ as they are (by default they get a "
                                "leading ' so a spreadsheet does not run them as formulas)")
        p.set_defaults(func=func)

    p = sub.add_parser("drift", help="score drift and data quality; exit 0 stable, 1 investigate, 2 shifted")
    p.add_argument("--db", default=str(_env_db()), help="DuckDB file (default: $LEADCAL_DB or %(default)s)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="config YAML (default %(default)s)")
    p.add_argument("--reference", metavar="START:END", help="reference period (default: first six months)")
    p.add_argument("--grain", choices=("week", "month"), default="month")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.set_defaults(func=cmd_drift)

    from .cli_configs import add_parser as add_configs

    add_configs(sub)

    from .cli_suggest import add_parser as add_suggest

    add_suggest(sub)

    from .cli_import import add_parser as add_import

    add_import(sub)

    from .cli_users import add_parser as add_users

    add_users(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `leadcal` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into `head` and closed early: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CliError, ValueError, OSError) as exc:  # ConfigError and SourceError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return DRIFT_ERROR if args.command == "drift" else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
        import duckdb

        if os.environ.get("LEADCAL_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if isinstance(exc, duckdb.Error):
            where = getattr(args, "db", None) or "the database"
            print(f"error: {where}: DuckDB could not run leadcal's query on this data ({first})", file=sys.stderr)
        else:
            print(f"error: internal error: {type(exc).__name__}: {first} (a bug in leadcal; run again with "
                  "LEADCAL_DEBUG=1 for the details and please report it)", file=sys.stderr)
        return DRIFT_ERROR if args.command == "drift" else 1


if __name__ == "__main__":
    sys.exit(main())

