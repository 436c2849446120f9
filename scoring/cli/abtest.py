"""`leadcal abtest ...`: champion vs challenger tests from the command line.

    leadcal abtest plan TEST --champion NAME[@V] --challenger NAME@V --metric M --min-effect X
                        [--share 0.5 --alpha 0.05 --power 0.8 --salt S --start DATE]
                        --signoff NAME:ROLE ... --rationale TEXT [--db DB] [--dry-run]
    leadcal abtest show TEST [--format text|json]
    leadcal abtest readout TEST [--db DB] [--format text|json]
    leadcal abtest sql TEST [--dialect D] [--out FILE [--force]]
    leadcal abtest dbt TEST --out FOLDER [--dialect D] [--force]

A plan is recorded once, signed off like an approval (``store.yaml``'s required roles),
and never changed; the readout and the routing SQL read it from the store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path

from ..base.files import check_output
from ..registry.store import ConfigStore, SignOff, StoreError, default_store, parse_ref
from .common import CliError, ensure_demo, env_db

DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "spark")  # as scoring.export.sql
METRICS = ("mql_conversion", "sql_conversion", "revenue_per_lead")  # as scoring.analysis.abtest


def _store(args: argparse.Namespace) -> ConfigStore:
    store = ConfigStore(args.store or default_store())
    for message in store.recover():
        print(f"note: {store.root}: {message}", file=sys.stderr)
    return store


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def _scored(store: ConfigStore, champion_ref: str, challenger_ref: str, db: str):
    from ..analysis.abtest import score_both
    from ..data.source import open_source

    c_name, c_version = parse_ref(champion_ref)
    h_name, h_version = parse_ref(challenger_ref)
    champion, challenger = store.load(c_name, c_version), store.load(h_name, h_version)
    ensure_demo(Path(db))
    with open_source(db) as source:
        return champion, challenger, score_both(source, champion, challenger)


def _plan(store: ConfigStore, name: str):
    from ..analysis.abtest import AbTestPlan

    record = store.read_test(name)
    try:
        return record, AbTestPlan.from_dict(record["plan"])
    except (KeyError, TypeError) as exc:
        raise StoreError(f"test {name}: its plan file is not a leadcal test plan ({exc})") from None


def cmd_plan(args: argparse.Namespace) -> int:
    from ..analysis.abtest import format_plan, make_plan

    store = _store(args)
    champ, chal = store.check_testable(args.champion, args.challenger)
    signoffs = [SignOff.parse(s) for s in args.signoff]
    if not args.dry_run:
        problems = store.signoff_problems(signoffs, args.rationale or "")
        if problems:
            raise StoreError(f"cannot record test {args.test}: " + "; ".join(problems))
        if args.test in store.tests():
            raise StoreError(f"test {args.test} already exists; a test plan is final - give a new test a new name")
    champion, _, data = _scored(store, champ.ref, chal.ref, args.db)
    plan = make_plan(args.test, champ.ref, chal.ref, champion, data, args.share, args.metric, args.min_effect,
                     args.alpha, args.power, args.salt or uuid.uuid4().hex[:16], args.start or dt.date.today())
    print(format_plan(plan), end="")
    if args.dry_run:
        print("dry run: nothing recorded")
        return 0
    store.save_test(args.test, plan.to_dict(), signoffs, args.rationale, by=args.by)
    print(f"recorded test {args.test}; route leads with `leadcal abtest sql {args.test}`")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ..analysis.abtest import format_plan

    store = _store(args)
    record, plan = _plan(store, args.test)
    if args.format == "json":
        print(json.dumps(record, indent=2, sort_keys=True))
        return 0
    print(format_plan(plan), end="")
    signed = ", ".join(f"{s['name']} ({s['role']})" for s in record.get("signoffs", []))
    print(f"  signed off by {signed} on {record.get('created_at')}: {record.get('rationale')}")
    return 0


def cmd_readout(args: argparse.Namespace) -> int:
    from ..analysis.abtest import maturity_days
    from ..analysis.abtest_readout import format_readout, readout

    store = _store(args)
    _, plan = _plan(store, args.test)
    champion, _, data = _scored(store, plan.champion, plan.challenger, args.db)
    result = readout(plan, data.features, data.champion, data.challenger, data.deal_value, maturity_days(champion))
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_readout(result), end="")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from ..export.abtest_sql import export_test_sql

    store = _store(args)
    out = None
    if args.out:
        out = check_output(args.out, force=args.force, stores=[store.root, default_store()],
                           databases=[os.environ.get("LEADCAL_DB")])
    _, plan = _plan(store, args.test)
    (c_name, c_version), (h_name, h_version) = parse_ref(plan.champion), parse_ref(plan.challenger)
    text = export_test_sql(plan.test, plan.champion, plan.challenger, store.load(c_name, c_version),
                           store.load(h_name, h_version), plan.salt, plan.share, args.dialect)
    if out is None:
        print(text, end="")
        return 0
    store.commit_export(out, text, replace=args.force and out.exists(), model=c_name, version=c_version,
                        format="abtest-sql", dialect=args.dialect, test=plan.test)
    print(f"exported the routing SQL of test {plan.test} to {out}")
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    from ..base.files import check_output_folder
    from ..export.abtest_dbt import export_test_dbt
    from ..export.dbt import write_export

    store = _store(args)
    out = check_output_folder(args.out, stores=[store.root, default_store()], databases=[os.environ.get("LEADCAL_DB")])
    record, plan = _plan(store, args.test)
    (c_name, c_version), (h_name, h_version) = parse_ref(plan.champion), parse_ref(plan.challenger)
    export = export_test_dbt(plan.test, plan.champion, plan.challenger, store.load(c_name, c_version),
                             store.load(h_name, h_version), plan.salt, plan.share, record, args.dialect)
    write_export(export, out, overwrite=args.force)
    store.log("export", model=c_name, version=c_version, format="abtest-dbt", dialect=args.dialect,
              test=plan.test, out=str(out.resolve()))
    print(f"exported the routing dbt model of test {plan.test} to {out}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `abtest`."""
    top = sub.add_parser("abtest", help="champion vs challenger tests: plan, show, readout, routing SQL")
    commands = top.add_subparsers(dest="abtest_command", required=True, metavar="COMMAND")

    def parser(name: str, help_: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_)
        p.add_argument("--store", help="store directory (default: $LEADCAL_STORE or data/configs)")
        return p

    p = parser("plan", help_="compute a test's sample size and duration and record it, signed off")
    p.add_argument("test", help="the test's name (letters, digits, '-', '_')")
    p.add_argument("--champion", required=True, help="NAME (its champion) or NAME@VERSION, an approved version")
    p.add_argument("--challenger", required=True, help="NAME@VERSION of the challenger")
    p.add_argument("--metric", required=True, choices=METRICS, help="the primary metric")
    p.add_argument("--min-effect", required=True, type=float,
                   help="smallest effect worth detecting: rate points as a fraction (0.03 = 3 points), "
                        "or money per lead for revenue_per_lead")
    p.add_argument("--share", type=float, default=0.5, help="share of new leads to the challenger (default 0.5)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level, two-sided (default 0.05)")
    p.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    p.add_argument("--salt", help="routing salt (default: a new random one)")
    p.add_argument("--start", type=_date, help="first day of the test, YYYY-MM-DD (default today)")
    p.add_argument("--signoff", action="append", default=[], metavar="NAME:ROLE",
                   help="a sign-off, e.g. 'Ann Lee:sales' (repeat for each required role)")
    p.add_argument("--rationale", help="why this test (required unless --dry-run)")
    p.add_argument("--by", help="who records the plan (default: you)")
    p.add_argument("--db", default=str(env_db()), help="last year's data (default: $LEADCAL_DB or the demo)")
    p.add_argument("--dry-run", action="store_true", help="compute and print the plan, record nothing")
    p.set_defaults(func=cmd_plan)

    p = parser("show", help_="a recorded test plan")
    p.add_argument("test")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_show)

    p = parser("readout", help_="the test so far: per arm, the difference, the split and a verdict")
    p.add_argument("test")
    p.add_argument("--db", default=str(env_db()), help="the data (default: $LEADCAL_DB or the demo)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_readout)

    p = parser("sql", help_="the routing SQL of a test (both scores, the arm, the tier that applies)")
    p.add_argument("test")
    p.add_argument("--dialect", choices=DIALECTS, default="duckdb")
    p.add_argument("--out", help="write to a new file (default: print)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file that is not a database")
    p.set_defaults(func=cmd_sql)

    p = parser("dbt", help_="the routing query of a test as a dbt model (a folder)")
    p.add_argument("test")
    p.add_argument("--dialect", choices=DIALECTS, default="duckdb")
    p.add_argument("--out", required=True, help="a new folder")
    p.add_argument("--force", action="store_true", help="write into an existing export folder")
    p.set_defaults(func=cmd_dbt)
