"""`leadcal configs ...`: the config store from the command line.

    leadcal configs list|show|save|diff|approve|export [--store DIR]

Every refusal (bad name, invalid YAML, missing sign-off, approving twice, unknown
version) is one message on stderr, exit 1, and the store left exactly as it was.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .config import dump_config, load_config
from .export import FOLDER_FORMATS, FORMATS, render_export, render_folder
from .files import write_text_atomic
from .store import ConfigStore, SignOff, StoreError, default_store, parse_ref

DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "spark")  # as scoring.export_sql


def _store(args: argparse.Namespace) -> ConfigStore:
    return ConfigStore(args.store or default_store())


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    models = store.models()
    if not models:
        print(f"no saved versions in {store.root} (the approved model is the shipped default)")
        return 0
    print(f"{'version':<28} {'status':<9} {'saved':<26} {'author':<14} note")
    for name in models:
        for v in store.versions(name):
            print(f"{v.ref:<28} {store.status(name, v.version):<9} {v.created_at:<26} {v.author[:14]:<14} "
                  f"{v.note.splitlines()[0] if v.note else ''}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store(args)
    name, version = parse_ref(args.ref)
    v = store.get(name, version if args.version is None else args.version)
    approval = store.approval(name, v.version)
    print(f"# {v.ref} ({store.status(name, v.version)}), saved {v.created_at} by {v.author}"
          + (f", from {v.parent}" if v.parent else ""))
    for line in v.note.splitlines():
        print(f"# note: {line}")
    if approval:
        who = ", ".join(f"{s['name']} ({s['role']})" for s in approval["signoffs"])
        print(f"# approved {approval['approved_at']} by {who}: {approval['rationale']}")
    print(dump_config(store.load(name, v.version)), end="")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    store = _store(args)
    config = load_config(args.file)
    v = store.save(args.name, config, author=args.author, note=args.note or "", parent=args.parent)
    print(f"saved {v.ref} ({v.path})")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import config_diff

    store = _store(args)
    (n1, v1), (n2, v2) = parse_ref(args.before), parse_ref(args.after)
    before, after = store.load(n1, v1), store.load(n2, v2)
    rows = config_diff(before, after)
    if args.format == "json":
        print(json.dumps(rows, indent=2, default=str))
    elif not rows:
        print("no differences")
    else:
        width = max(len(r["what"]) for r in rows)
        for r in rows:
            print(f"{r['what']:<{width}}  {r['change']:<7}  {r['before']!s:>12} -> {r['after']!s}")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from .report import evidence

    store = _store(args)
    name, version = parse_ref(args.ref)
    v = store.get(name, version if args.version is None else args.version)
    signoffs = [SignOff.parse(s) for s in args.signoff]
    store.check_approvable(name, v.version, signoffs, args.rationale)  # refuse before the slow part
    calibration, data, _ = evidence(store.load(name, v.version), args.db)
    record = store.approve(name, v.version, signoffs, args.rationale, calibration=calibration, data=data,
                           by=args.by)
    print(f"approved {v.ref}: AUC {calibration['result']['auc']:.3f} on {data['leads_scored']:,} leads; "
          f"{name} champion is now {store.champion(name).ref}")
    return 0 if record else 1


def cmd_export(args: argparse.Namespace) -> int:
    store = _store(args)
    name, version = parse_ref(args.ref)
    v = store.get(name, version if args.version is None else args.version)
    out = Path(args.out)
    if args.db and out.exists() and out.resolve() == Path(args.db).resolve():
        raise StoreError(f"--out {out} is the source database; leadcal never writes to it")
    if args.format in FOLDER_FORMATS:
        from .export_dbt import write_export

        write_export(render_folder(store, name, v.version, args.format, args.dialect), out)
    else:
        write_text_atomic(out, render_export(store, name, v.version, args.format, args.dialect, args.db))
    store.log("export", model=name, version=v.version, format=args.format,
              dialect=args.dialect if args.format in ("sql", "dbt", "features-sql") else None, out=str(out.resolve()))
    print(f"exported {v.ref} as {args.format} to {out}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `configs` and its subcommands."""
    configs = sub.add_parser("configs", help="versions, approval, diff and export of configs")
    csub = configs.add_subparsers(dest="configs_command", required=True, metavar="ACTION")

    def parser(name: str, help_: str) -> argparse.ArgumentParser:
        p = csub.add_parser(name, help=help_)
        p.add_argument("--store", help="store directory (default: $LEADCAL_STORE or data/configs)")
        return p

    p = parser("list", "every version with its status")
    p.set_defaults(func=cmd_list)
    p = parser("show", "a version's config and history")
    p.add_argument("ref", help="NAME or NAME@VERSION")
    p.add_argument("--version", type=int)
    p.set_defaults(func=cmd_show)
    p = parser("save", "save a YAML config as a new version")
    p.add_argument("name")
    p.add_argument("--file", required=True, help="the config YAML")
    p.add_argument("--note", default="")
    p.add_argument("--author", help="default: $LEADCAL_USER or your login")
    p.add_argument("--parent", help="NAME@VERSION this one was started from")
    p.set_defaults(func=cmd_save)
    p = parser("diff", "what changed between two versions")
    p.add_argument("before", help="NAME@VERSION")
    p.add_argument("after", help="NAME@VERSION")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_diff)
    p = parser("approve", "approve a version with sign-offs and a rationale")
    p.add_argument("ref", help="NAME or NAME@VERSION")
    p.add_argument("--version", type=int)
    p.add_argument("--signoff", action="append", default=[], metavar="NAME:ROLE",
                   help="repeat for each approver, e.g. --signoff 'Ann Lee:sales'")
    p.add_argument("--rationale", required=True)
    p.add_argument("--db", default=os.environ.get("LEADCAL_DB", "data/demo.duckdb"),
                   help="data the approval's calibration result is computed on")
    p.add_argument("--by", help="who records the approval (default: you)")
    p.set_defaults(func=cmd_approve)
    p = parser("export", "write a version as YAML, SQL, a dbt model (a folder), the feature SQL or an HTML report")
    p.add_argument("ref", help="NAME or NAME@VERSION")
    p.add_argument("--version", type=int)
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--dialect", choices=DIALECTS, default="duckdb")
    p.add_argument("--db", default=os.environ.get("LEADCAL_DB"), help="data for the HTML report")
    p.add_argument("--out", required=True, help="a file; a folder for --format dbt")
    p.set_defaults(func=cmd_export)


__all__ = ["add_parser"]

