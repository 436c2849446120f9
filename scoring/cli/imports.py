"""`leadcal import`: CSV and Parquet exports into a leadcal DuckDB, with a column mapping.

    leadcal import FILE... --db DB [--starter-config OUT.yaml] [--mapping MAP.yaml] [--dry-run] ...

The starter model is saved to the config store (``--no-save-model`` to skip), so the app
started with only ``LEADCAL_DB`` opens on it.

leadcal proposes a mapping (which file is the leads, events or attributes; which column
is the id, creation time, outcome, ...); ``--dry-run`` shows it with every column's
type and writes nothing; flags or an edited mapping YAML change it. Every refusal (a
missing file, no outcome, a repeated lead id, a column that does not exist) is one
message naming the file and column, exit 1, and the database exactly as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from ..imports.importer import (
    Inspection,
    check,
    confirm,
    format_preview,
    format_report,
    inspect_files,
    lead_choices,
    run_import,
    save_starter,
    write_mapping,
    write_starter,
)
from ..imports.mapping import ROLES, won_lost_values
from ..imports.read import KINDS, MISSING_VALUES, DataImportError

NONE = "none"
"""Value of --created, --converted-date, --deal-value, --segment, --account meaning 'no such column'."""


def _pairs(values: list[str], flag: str, allowed: Sequence[str]) -> dict[str, str]:
    out = {}
    for text in values:
        name, sep, value = text.rpartition("=")
        if not sep or not name.strip() or value.strip() not in allowed:
            raise DataImportError(flag, [f"{text!r}: write it as NAME={'|'.join(allowed)}"])
        out[name.strip()] = value.strip()
    return out


def _edit(ins: Inspection, args: argparse.Namespace) -> dict:
    """The inspection's mapping with the command line's changes to the leads file."""
    data = json.loads(json.dumps(ins.mapping))
    leads = next(f for f in data["files"] if f["role"] == "leads")
    profile = ins.profiles[leads["file"]]

    def opt(value: str | None) -> str | None:
        return None if value is None or value.strip().lower() == NONE else value

    if args.id:
        leads["id"] = args.id
    if args.created is not None:
        leads["created_at"] = opt(args.created)
    outcome = dict(leads.get("outcome") or {})
    if args.outcome:
        joined = dict(lead_choices(ins, data))  # a column of the leads file, or one joined onto it
        col = profile.column(args.outcome) or joined.get(args.outcome)
        if col is not None and col.kind == "time":
            outcome = {"date": args.outcome}
        else:
            outcome = {k: v for k, v in {"column": args.outcome, "date": outcome.get("date")}.items() if v}
            if col is not None and col.kind == "text" and not (args.won or args.lost):
                won, lost = won_lost_values(col)
                outcome.update({"won": won, "lost": lost})
    if args.won:
        outcome["won"] = args.won
    if args.lost:
        outcome["lost"] = args.lost
    if args.converted_date is not None:
        outcome["date"] = opt(args.converted_date)
    outcome = {k: v for k, v in outcome.items() if v is not None}
    if outcome:
        leads["outcome"] = outcome
        for entry in data["files"]:  # the outcome given on the leads replaces a proposed outcome file
            if entry["role"] == "outcome" and (args.outcome or args.won or args.lost or args.converted_date):
                file = entry["file"]
                entry.clear()
                entry.update({"file": file, "role": "ignore"})
    if args.deal_value is not None:
        leads["deal_value"] = opt(args.deal_value)
    if args.segment is not None:
        leads["segment"] = opt(args.segment)
    if args.account is not None:
        leads["account"] = opt(args.account)
    if args.fit:
        leads["fit"] = list(args.fit)
    if args.activity:
        leads["activity"] = list(args.activity)
    drop = {c.strip().casefold() for c in args.ignore}
    mapped = [leads.get("id"), leads.get("created_at"), leads.get("deal_value"), leads.get("segment"), leads.get("account"),
              outcome.get("column"), outcome.get("date")]
    for key, given in (("fit", args.fit), ("activity", args.activity)):
        if not given:  # a proposed list: a column mapped to a role on the command line leaves it
            for ref in filter(None, mapped):
                col = profile.column(ref)
                leads[key] = [c for c in leads.get(key, []) if not (c == ref or col and profile.column(c) is col)]
    for key in ("fit", "activity"):
        leads[key] = [c for c in leads.get(key, []) if c.strip().casefold() not in drop]
    return data


def cmd_import(args: argparse.Namespace) -> int:
    if not args.files and not args.mapping:
        raise DataImportError("leadcal import", ["give the CSV or Parquet files to import (or --mapping MAP.yaml)"])
    from ..base.files import check_output
    from ..registry.store import check_name, default_store

    for flag, out in (("--starter-config", args.starter_config),
                      ("--save-mapping", None if args.dry_run else args.save_mapping)):
        if out:  # checked before anything is read or written
            check_output(out, force=args.force, stores=[default_store(), args.store], databases=[args.db],
                         flag=flag)
    if args.save_model:  # the store's name for the model, refused before the database is written
        from ..imports.importer import model_name

        check_name(args.model if args.model is not None else model_name(args.db))
    types = _pairs(args.type, "--type", KINDS)
    roles = _pairs(args.role, "--role", ROLES)
    if args.leads:
        roles[args.leads] = "leads"
    missing = list(MISSING_VALUES) + [m for m in args.missing if m not in MISSING_VALUES]
    base = Path(args.mapping).resolve().parent if args.mapping else None
    if args.mapping and (types or roles or args.missing):
        raise DataImportError("leadcal import", ["--type, --role, --leads and --missing change the proposal; with "
                                                 "--mapping, edit the mapping file instead"])
    ins = inspect_files(args.files, args.mapping, missing_values=missing, types=types or None,
                        roles=roles or None, base=base, date_order=args.date_order)
    data = _edit(ins, args)
    if args.dry_run:
        _, ins.problems = check(data, ins.profiles)
        ins.mapping = data
        print(format_preview(ins))
        if args.save_mapping:
            write_mapping(data, args.save_mapping, overwrite=args.force)
            print(f"\nwrote the mapping to {args.save_mapping}" +
                  (" (incomplete: fix the problems above in it)" if ins.problems else ""))
        return 0 if not ins.problems else 1
    mapping = confirm(ins, data)
    result = run_import(args.files, args.db, mapping, model=args.model, base=base, inspection=ins)
    if args.format == "json":
        print(json.dumps(result.report, indent=2, default=str))
    else:
        print(format_report(result.report))
    if args.save_mapping:
        write_mapping(result.mapping, args.save_mapping, overwrite=args.force)
        print(f"mapping: {args.save_mapping}", file=sys.stderr if args.format == "json" else sys.stdout)
    say = (lambda msg: print(msg, file=sys.stderr)) if args.format == "json" else print
    c = result.config
    say(f"starter config '{c.name}': {len(c.fit)} fit rules, {len(c.engagement)} engagement rules, all at 0 points")
    if args.starter_config:
        write_starter(result, args.starter_config, overwrite=args.force)
        say(f"  written to {args.starter_config}; try: leadcal report --db {args.db} --config {args.starter_config}")
    if not args.no_save_model:
        from ..registry.store import ConfigStore, default_store

        store = ConfigStore(args.store or default_store())
        version, seed = save_starter(store, c.name, c, note=f"starter config from leadcal import into {args.db}")
        say(f"  saved to the store {store.root} as {version.ref}" + (f" (and as its starting model {seed})" if seed
                                                                    else ""))
        say(f"  open it: LEADCAL_DB={args.db} streamlit run app.py (it opens on model '{c.name}')")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `import`."""
    p = sub.add_parser("import", help="import CSV/Parquet exports into a leadcal DuckDB, with a column mapping",
                       description="Import CSV and Parquet exports (CRM contacts, activities, companies) into a "
                                   "DuckDB file leadcal owns, and write a starter config for them. Input files "
                                   "are never modified; the database is replaced whole or not at all.")
    p.add_argument("files", nargs="*", metavar="FILE", help="CSV or Parquet files (one of them the leads)")
    p.add_argument("--db", required=True, help="the DuckDB file to create or update (never one of the inputs)")
    p.add_argument("--starter-config", metavar="OUT.yaml", help="write the starter config here")
    p.add_argument("--model", help="name of the starter model (default: from the --db file name)")
    p.add_argument("--save-model", action="store_true", help="save the starter config to the config store (the "
                                                              "default; kept for scripts)")
    p.add_argument("--no-save-model", action="store_true", help="do not save the starter config to the store")
    p.add_argument("--store", help="config store the starter model is saved to (default: $LEADCAL_STORE or "
                                   "data/configs)")
    p.add_argument("--date-order", choices=("day-first", "month-first"),
                   help="how to read dates like 03/04/2024 when the values cannot tell (no day above 12)")
    p.add_argument("--mapping", metavar="MAP.yaml", help="use this mapping (e.g. an edited --save-mapping file)")
    p.add_argument("--save-mapping", metavar="OUT.yaml", help="write the mapping used (with --dry-run: the proposal)")
    p.add_argument("--dry-run", action="store_true", help="show the files, column types and proposed mapping; "
                                                          "write nothing (exit 1 if the mapping is not usable)")
    p.add_argument("--force", action="store_true", help="replace existing --starter-config / --save-mapping files")
    p.add_argument("--format", choices=("text", "json"), default="text", help="the import report's format")
    g = p.add_argument_group("changing the proposed mapping (column names as in the file, or clean names)")
    g.add_argument("--leads", metavar="FILE", help="which file is the leads (one row per lead)")
    g.add_argument("--role", action="append", default=[], metavar="FILE=ROLE",
                   help="role of another file: events, attributes or ignore (repeatable)")
    g.add_argument("--id", metavar="COL", help="lead id column (unique per row)")
    g.add_argument("--created", metavar="COL|none", help="creation time column, or 'none' (no point in time)")
    g.add_argument("--outcome", metavar="COL", help="outcome: a yes/no or 0/1 column, a stage column, or a date")
    g.add_argument("--won", action="append", default=[], metavar="VALUE", help="stage value meaning won (repeatable)")
    g.add_argument("--lost", action="append", default=[], metavar="VALUE",
                   help="stage value meaning lost (repeatable); other stages are open (immature)")
    g.add_argument("--converted-date", metavar="COL|none", help="when the lead converted")
    g.add_argument("--deal-value", metavar="COL|none", help="deal value column")
    g.add_argument("--segment", metavar="COL|none", help="a column the app can filter on")
    g.add_argument("--account", metavar="COL|none", help="the account (company name or id) of each lead")
    g.add_argument("--fit", action="append", default=[], metavar="COL",
                   help="fit attribute (repeatable; replaces the proposed list)")
    g.add_argument("--activity", action="append", default=[], metavar="COL",
                   help="numeric activity column (repeatable; replaces the proposed list)")
    g.add_argument("--ignore", action="append", default=[], metavar="COL", help="leave out of fit and activity")
    g.add_argument("--type", action="append", default=[], metavar="COL=TYPE",
                   help=f"force a column's type: {', '.join(KINDS)} (repeatable)")
    g.add_argument("--missing", action="append", default=[], metavar="TEXT",
                   help="another text meaning missing (besides '', Select, N/A, -, null, ...)")
    p.set_defaults(func=cmd_import)


def main(argv: Sequence[str] | None = None) -> int:
    """`leadcal import` on its own (the same as through `leadcal`): errors are one message, exit 1."""
    parser = argparse.ArgumentParser(prog="leadcal")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["import", *(argv or [])])
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["add_parser", "cmd_import", "main"]
