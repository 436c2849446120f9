"""`leadcal suggest`: suggested points from outcomes, written as a valid config.

    leadcal suggest [--db DB] [--config CONFIG] --out SUGGESTED.yaml
                    [--holdout 0.25] [--seed 0] [--decays] [--include COLUMN] [--format text|json]

Columns flagged as possible leakage (``scoring.analysis.leakage``) are left out unless --include
names them; the output says which and why, in text and JSON.

Fits the points on the earlier mature leads, judges them on the later ones (a seeded
random hold-out where the data has no usable time, said so), writes the suggestion as a
config (never over an existing file) and prints its train and hold-out AUC beside the
input config's. The same numbers as the Attributes page.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..model.config import save_config
from .common import CliError, add_data_arguments, load

SUGGEST_VERSION = 1


def cmd_suggest(args: argparse.Namespace) -> int:
    from ..analysis.suggest import compare_auc, compare_decays, decay_label, reliability, suggest_points
    from ..base.files import check_output
    from ..registry.store import default_store

    out = Path(args.out)
    check_output(out, stores=[default_store()], databases=[args.db])  # never overwrites, never in the store
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise CliError(f"--out {out}: use a .yaml or .yml file name")
    config, features = load(args)  # decay options are derived from the features' kept events
    suggestion = suggest_points(config, features, holdout_share=args.holdout, seed=args.seed, include=args.include)
    split = suggestion.split
    rows = compare_auc({"suggested": suggestion.config, config.name: config}, features, split)
    calibration = reliability(suggestion.config, features, split)
    decays = compare_decays(config, features, split, seed=args.seed) if args.decays else None
    save_config(suggestion.config, out)  # re-validated; refuses a file that appeared meanwhile
    if args.format == "json":
        print(json.dumps({
            "suggest_version": SUGGEST_VERSION,
            "model": config.name,
            "out": str(out),
            "split": split.to_dict(),
            "points_to_double_odds": suggestion.pdo,
            "auc": [r.to_dict() for r in rows],
            "auc_before_rounding": {"train_auc": suggestion.model_auc.train,
                                    "holdout_auc": suggestion.model_auc.holdout},
            "left_out": [x.to_dict() for x in suggestion.left_out],
            "included": suggestion.included,
            "binned": suggestion.binned,
            "notes": suggestion.notes,
            "coefficients": [c.to_dict() for c in suggestion.coefficients],
            "calibration": {k: v for k, v in calibration.to_dict().items()
                            if k in ("brier_holdout", "brier_reference", "brier_skill", "probability_at")},
            "decays": None if decays is None else decays.to_dict(),
        }, indent=2, default=str))
        return 0
    print(f"Suggested points for '{config.name}' ({suggestion.pdo:g} points double the odds)")
    print(split.description)
    print()
    width = max(len(r.model) for r in rows)
    print(f"{'model':<{width}}  {'train AUC':>9}  {'hold-out AUC':>12}")
    for r in rows:
        print(f"{r.model:<{width}}  {_f(r.train_auc):>9}  {_f(r.holdout_auc):>12}")
    print(f"(suggested before rounding to whole points: train {_f(suggestion.model_auc.train)}, hold-out "
          f"{_f(suggestion.model_auc.holdout)})")
    print()
    for x in suggestion.left_out:
        print(f"left out (possible leakage): {x.message}; put it back with --include {x.column}")
    for note in suggestion.notes[1:]:
        print(f"- {note}")
    if calibration.brier_holdout is not None:
        said = ", ".join(f"{p.score:g} -> {p.probability:.0%}" for p in calibration.probability_at)
        print(f"- Calibration on the hold-out: Brier {calibration.brier_holdout:.4f} (always predicting the base "
              f"rate: {calibration.brier_reference:.4f}). Score -> conversion: {said}.")
    if decays is not None:
        print()
        print(f"{'decay (points refitted)':<30} {'hold-out AUC':>12} {'Brier':>8}")
        for r in decays.rows:
            mark = " <- suggested" if r.suggested else (" (current)" if r.current else "")
            print(f"{decay_label(r.decay):<30} {_f(r.holdout_auc):>12} {_f(r.holdout_brier, '.4f'):>8}{mark}")
        print(decays.reason)
    print(f"wrote {out}")
    return 0


def _f(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `suggest`."""
    p = sub.add_parser("suggest", help="suggested points from outcomes, written as a config; train and hold-out AUC")
    add_data_arguments(p, config_help="the config to start from (default %(default)s)")
    p.add_argument("--out", required=True, help="where to write the suggested config (.yaml); never overwritten")
    p.add_argument("--holdout", type=_share, default=0.25,
                   help="share of mature leads held out, the latest ones (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random hold-out used when the data has no "
                   "usable time (default %(default)s)")
    p.add_argument("--decays", action="store_true", help="also compare decay options (refitted) on the hold-out")
    p.add_argument("--include", action="append", default=[], metavar="COLUMN",
                   help="fit a column flagged as possible leakage anyway (repeatable); by default it is left out")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_suggest)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.05 <= value <= 0.5:
        raise argparse.ArgumentTypeError("the hold-out share must be between 0.05 and 0.5")
    return value


__all__ = ["add_parser"]
