"""`leadcal configs ...`: the config store from the command line.

    leadcal configs list|show|save|diff|approve|export|check [--store DIR]

Every refusal (bad name, invalid YAML, missing sign-off, approving twice, unknown
version) is one message on stderr, exit 1, and the store left exactly as it was. Every
command first finishes or rolls back a write a crash interrupted, and says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import TYPE_CHECKING

from ..base.crash import crash_point
from ..base.files import check_output, check_output_folder
from ..export.render import FOLDER_FORMATS, FORMATS, render_export, render_folder
from ..model.config import dump_config, load_config
from ..registry.store import ConfigStore, SignOff, StoreError, default_store, parse_ref

if TYPE_CHECKING:  # computed only by `approve` (DuckDB, numba): imported there
    from ..analysis.evidence import DataFingerprint
    from ..analysis.report import CalibrationResult

DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "spark")  # as scoring.export.sql


def _store(args: argparse.Namespace) -> ConfigStore:
    """The store, after finishing or rolling back any write a crash interrupted (said on stderr)."""
    store = ConfigStore(args.store or default_store())
    for message in store.recover():
        print(f"note: {store.root}: {message}", file=sys.stderr)
    return store


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    models = store.models()
    if not models:
        print(f"no saved versions in {store.root} (the approved model is the shipped default)")
        return 0
    print(f"{'version':<28} {'status':<10} {'saved':<26} {'author':<14} note")
    for name in models:
        for v in store.versions(name):
            print(f"{v.ref:<28} {store.status(name, v.version):<10} {v.created_at:<26} {v.author[:14]:<14} "
                  f"{v.note.splitlines()[0] if v.note else ''}")
    unreadable = store.unreadable()
    if unreadable:  # one message: what is wrong, and that the rest is listed
        print(f"error: {'; '.join(unreadable)} (the other versions are listed above; `leadcal configs check` "
              "checks the whole store)", file=sys.stderr)
    return 1 if unreadable else 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store(args)
    name, version = parse_ref(args.ref)
    v = store.get(name, version if args.version is None else args.version)
    config = store.load(name, v.version)
    state = store.approval_state(name, v.version)
    approval = store.approval(name, v.version)
    print(f"# {v.ref} ({store.status(name, v.version)}), saved {v.created_at} by {v.author}"
          + (f", from {v.parent}" if v.parent else ""))
    for line in v.note.splitlines():
        print(f"# note: {line}")
    if approval:
        who = ", ".join(f"{s.get('name')} ({s.get('role')})" for s in approval["signoffs"] if isinstance(s, dict))
        print(f"# approved {approval.get('approved_at')} by {who}: {approval.get('rationale')}")
    elif state.problem:
        print(f"# NOT APPROVED: {state.problem}")
    print(dump_config(config), end="")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    store = _store(args)
    config = load_config(args.file)
    v = store.save(args.name, config, author=args.author, note=args.note or "", parent=args.parent)
    print(f"saved {v.ref} ({v.path})")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from ..model.diff import config_diff

    store = _store(args)
    (n1, v1), (n2, v2) = parse_ref(args.before), parse_ref(args.after)
    before, after = store.load(n1, v1), store.load(n2, v2)
    rows = config_diff(before, after)
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
    elif not rows:
        print("no differences")
    else:
        width = max(len(r.what) for r in rows)
        for r in rows:
            print(f"{r.what:<{width}}  {r.change:<7}  {r.before!s:>12} -> {r.after!s}")
    return 0


def _approval_summary(ref: str, result: CalibrationResult, data: DataFingerprint, db: str) -> str:
    """The line `approve` prints, made before anything is written; StoreError if there is nothing to judge."""
    mature = result.mature_leads
    if not mature:
        why = ("no lead has a creation time, so none could be scored at a point in time"
               if not data.leads_scored else "no lead's outcome window has passed yet")
        raise StoreError(f"cannot approve {ref} on {db}: no mature lead to judge it on ({why}); nothing was written")
    auc = result.auc
    auc_text = f"AUC {auc:.3f}" if auc is not None and math.isfinite(auc) else \
        "AUC not computable (every mature lead " + ("converted" if result.conversions == mature
                                                  else "did not convert") + ")"
    return f"approved {ref}: {auc_text} on {data.leads_scored:,} leads ({mature:,} mature)"


def cmd_approve(args: argparse.Namespace) -> int:
    from ..analysis.evidence import evidence
    from ..model.config import config_from_dict

    store = _store(args)
    name, version = parse_ref(args.ref)
    v = store.get(name, version if args.version is None else args.version)
    signoffs = [SignOff.parse(s) for s in args.signoff]
    store.check_approvable(name, v.version, signoffs, args.rationale)  # refuse before the slow part
    vf = store.read_version(name, v.version)  # the bytes the result is computed on, and their hash
    found = evidence(config_from_dict(vf.config_data, str(v.path)), args.db)
    summary = _approval_summary(v.ref, found.result, found.data, args.db)
    crash_point("approve:computed")
    store.approve(name, v.version, signoffs, args.rationale, calibration=found.to_dict(), data=found.data.to_dict(),
                  by=args.by, version_sha256=vf.sha256)
    champion = store.champion(name)
    print(summary + (f"; {name} champion is now {champion.ref}" if champion else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = _store(args)
    name, version = parse_ref(args.ref)
    v = store.get(name, version if args.version is None else args.version)
    stores, databases = [store.root, default_store()], [args.db, os.environ.get("LEADCAL_DB")]
    dialect = args.dialect if args.format in ("sql", "dbt", "features-sql") else None
    if args.format in FOLDER_FORMATS:  # a folder written whole (never over a file unless --force), then audited
        from ..export.dbt import write_export

        out = check_output_folder(args.out, stores=stores, databases=databases)
        write_export(render_folder(store, name, v.version, args.format, args.dialect), out, overwrite=args.force)
        store.log("export", model=name, version=v.version, format=args.format, dialect=dialect,
                  out=str(out.resolve()))
    else:
        out = check_output(args.out, force=args.force, stores=stores, databases=databases)
        text = render_export(store, name, v.version, args.format, args.dialect, args.db)
        store.commit_export(out, text, replace=args.force and out.exists(), model=name, version=v.version,
                            format=args.format, dialect=dialect)
    print(f"exported {v.ref} as {args.format} to {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    store = ConfigStore(args.store or default_store())
    if not store.root.is_dir():
        raise StoreError(f"{store.root}: no such store directory")
    check = store.verify()
    for note in check.notes:
        print(f"note: {note}")
    for problem in check.problems:
        print(f"problem: {problem}")
    counts = (f"{check.models} model(s), {check.versions} readable version(s), {check.approvals} approval(s), "
              f"{check.audit_lines} audit line(s)")
    if check.ok:
        print(f"{store.root}: ok ({counts})")
        return 0
    print(f"error: {store.root}: {len(check.problems)} problem(s) ({counts})", file=sys.stderr)
    return 1


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
    p = parser("export", "write a version as YAML, SQL, a dbt model (a folder), the feature SQL, the account "
               "score SQL (account-sql) or an HTML report")
    p.add_argument("ref", help="NAME or NAME@VERSION")
    p.add_argument("--version", type=int)
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--dialect", choices=DIALECTS, default="duckdb")
    p.add_argument("--db", default=os.environ.get("LEADCAL_DB"), help="data for the HTML report")
    p.add_argument("--out", required=True,
                   help="a new file (a folder for --format dbt); never inside the store, never a database")
    p.add_argument("--force", action="store_true", help="replace an existing --out file that is not a database")
    p.set_defaults(func=cmd_export)
    p = parser("check", "verify the whole store: files parse, approvals match their versions, audit complete")
    p.set_defaults(func=cmd_check)


__all__ = ["add_parser"]

