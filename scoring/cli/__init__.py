"""The `leadcal` command: everything the app shows, scriptable and schedulable, one module per command.

``demo``, ``validate``, ``report``, ``score``, ``explain``, ``leads``, ``drift``, ``configs``, ``abtest``, ``suggest``,
``imports`` (`leadcal import`) and ``users`` each register their subcommand
(``add_parser``) and run it; ``common`` holds what they share (``lead_data`` what
``explain`` and ``leads`` share). This package builds the
parser from them and runs one (``main``, the console script; ``python -m scoring.cli``).

Errors are one clear message each on stderr and a non-zero exit, never a traceback:
1 for a problem with the input (config, data, files), 2 for a wrong command line.
`leadcal drift` uses 0/1/2 for its verdict, so its errors (input or command line) exit 3:
a scheduler can tell a broken job from drift. An error leadcal did not foresee is still
one line ("internal error: ..."), with the traceback only under ``LEADCAL_DEBUG=1``.

Output files (``--out``) are only ever new files: never over an existing file (unless
``--force``), never over a DuckDB database, never inside the config store
(:func:`scoring.base.files.check_output`), checked before anything is computed.

May import: base, model, data, analysis, registry, export, imports, access.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from . import abtest, configs, demo, drift, explain, imports, leads, report, score, suggest, users, validate
from .common import DRIFT_ERROR, CliError, Parser

COMMANDS = (demo, validate, report, score, explain, leads, drift, configs, abtest, suggest, imports, users)
"""One module per command, registered in this order (the order `leadcal --help` lists them)."""


def build_parser() -> Parser:
    """The argument parser (also used to document the CLI)."""
    parser = Parser(prog="leadcal", description="Lead-scoring calibration on real outcomes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
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

