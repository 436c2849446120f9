"""What every `leadcal` command shares: defaults, the one-line error, the parser, the demo on first use.

Command modules import this, never the package (``scoring.cli``), which imports them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.config import ScoringConfig, load_config

if TYPE_CHECKING:  # the heavy parts (DuckDB, numba) are imported by the commands that read data
    from ..model.features import Features

DEFAULT_DB = Path("data/demo.duckdb")
DEFAULT_CONFIG = Path("data/configs/default.yaml")


class CliError(Exception):
    """A user-facing failure with its message."""


DRIFT_ERROR = 3
"""The exit code of any error of `leadcal drift` (0/1/2 are its verdicts)."""


class Parser(argparse.ArgumentParser):
    """argparse, with command-line mistakes of `leadcal drift` exiting 3, not 2."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, namespace)

    def error(self, message: str):  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)  # one line, no usage
        # unknown options are reported by the top parser: `leadcal drift --colour` is still drift's
        drift = self.prog.split()[-1:] == ["drift"] or getattr(self, "_argv", [None])[:1] == ["drift"]
        raise SystemExit(DRIFT_ERROR if drift else 2)


def env_db() -> Path:
    """The default database: ``$LEADCAL_DB``, else the demo."""
    return Path(os.environ.get("LEADCAL_DB", DEFAULT_DB))


def ensure_demo(path: Path) -> None:
    """Generate the demo database on first use, but only at the default demo path."""
    if path.exists() or path.resolve() != DEFAULT_DB.resolve():
        return
    from ..data.demo import generate

    print(f"{path} not found: generating the demo data (about a minute at most)...", file=sys.stderr)
    generate(path)


def load(args: argparse.Namespace) -> tuple[ScoringConfig, "Features"]:
    """``--config`` and the features of ``--db`` it needs (the demo generated on first use)."""
    from ..data.extract import extract_features
    from ..data.source import open_source

    config = load_config(args.config)
    ensure_demo(Path(args.db))
    with open_source(args.db) as source:
        features = extract_features(source, config)
    return config, features


def add_data_arguments(p: argparse.ArgumentParser, config_help: str = "config YAML (default %(default)s)") -> None:
    """``--db`` and ``--config``, as every command that reads data takes them."""
    p.add_argument("--db", default=str(env_db()), help="DuckDB file (default: $LEADCAL_DB or %(default)s)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help=config_help)
