"""Bring your own data: CSV and Parquet exports into a leadcal DuckDB, with a column mapping.

``leadcal import FILE... --db DB`` and the Import page both use this module:

1. ``inspect_files``: read each file (never written to), profile its columns
   (``scoring.import_read``) and propose a mapping (``scoring.import_mapping``): which
   file is the leads, which are events or attributes joined on a key, and which column
   is the lead id, creation time, outcome, deal value, fit attribute or activity count.
2. The user confirms or edits the mapping (flags, a mapping YAML, or the page).
3. ``run_import``: resolve the mapping (``scoring.import_plan``), build clean tables,
   check them, write a starter config (``scoring.import_starter``) and record what was
   done, all in a copy of the target database that replaces it only when everything
   succeeded (``os.replace``): the target is fully updated or untouched.

Tables written (names are clean snake_case; the original -> clean names are recorded):

- ``leads``: one row per lead; ``lead_id`` (VARCHAR), ``created_at`` (TIMESTAMP, when
  mapped), the outcome as ``converted_at`` (TIMESTAMP, when a conversion date exists) and/or
  ``converted`` (BOOLEAN: won true, lost false, open NULL), ``deal_value`` (DOUBLE), then
  every other column of the file and of joined attribute files with its type;
- ``events`` (when events files are given): ``lead_id``, ``event_type``, ``occurred_at``;
- one table per attributes file (as read, cleaned), besides its columns joined on leads;
- ``leadcal_import``: one row per import (when, files, tables, the mapping YAML, the
  report JSON, the starter config YAML); ``leadcal_columns``: per output column its table,
  type, role, file and original name.

Re-importing into the same database replaces the tables an earlier import made (and
drops those it no longer makes); a table leadcal did not make is never touched, and a
name clash with one is an error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import duckdb

from .config import ScoringConfig, load_config, parse_config, save_config
from .crash import crash_point
from .import_mapping import (ROLES, ImportMapping, dump_mapping, leads_score, load_mapping, mapping_from_dict,
                             mapping_to_dict, propose_events, propose_id, propose_leads)
from .import_plan import LeadColumn, Plan, joined_names, match_files, resolve
from .import_read import (KINDS, MISSING_VALUES, SQL_TYPE, ColumnProfile, DataImportError, FileProfile, bind,
                          check_file, clean_expr, clean_name, load_raw, new_connection, nz, prepare, preview_rows,
                          profile_table, raw_quote, stacked, unreadable)
from .import_starter import starter_config, starter_yaml
from .source import Source, SourceError, quote

IMPORT_TABLE = "leadcal_import"
COLUMNS_TABLE = "leadcal_columns"
NO_TIME_NOTE = ("No creation times: leads are not scored at a point in time. Every recorded activity counts "
                "(activity columns are totals as of the export), the outcome is the yes/no result, and open "
                "outcomes are left out as immature.")
TOTALS_NOTE = ("Activity columns hold totals as of the export, not as of a scoring point: they may include "
               "activity after the outcome. Where you have activity with times, import it as an events file.")


# --------------------------------------------------------------------------- inspection


@dataclass
class Inspection:
    """Files as read and the mapping proposed (or given) for them, for a preview."""

    profiles: dict[str, FileProfile]
    """mapping file key -> the file as read."""
    mapping: dict
    """The mapping as plain data (proposed, or the one given); may be incomplete."""
    problems: list[str] = field(default_factory=list)
    """Why the mapping cannot be imported yet (empty when it can)."""
    notes: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[FileProfile]:
        """The files, in the order given."""
        return list(self.profiles.values())

    @property
    def ok(self) -> bool:
        """The mapping can be imported as it is."""
        return not self.problems


@dataclass
class _Loaded:
    profiles: dict[str, FileProfile]
    raw: dict[str, str]
    """mapping file key -> raw TEMP table."""
    mapping: dict
    notes: list[str]


def _as_mapping(mapping: ImportMapping | dict | str | Path | None,
                base: Path | None) -> tuple[ImportMapping | None, Path | None]:
    """A mapping object and the folder its relative file paths are in (a mapping file's own folder)."""
    if mapping is None or isinstance(mapping, ImportMapping):
        return mapping, base
    if isinstance(mapping, dict):
        return mapping_from_dict(mapping), base
    return load_mapping(mapping), base or Path(mapping).resolve().parent


def _load(con: duckdb.DuckDBPyConnection, paths: Sequence[str | Path], mapping: ImportMapping | None,
          base: Path | None, missing: Sequence[str] | None, types: dict[str, str] | None = None,
          roles: dict[str, str] | None = None) -> _Loaded:
    """Read and profile every file, and propose a mapping unless one is given.

    ``types`` (column -> kind) applies to every file that has the column; ``roles`` (file
    path or name -> role) fixes roles the proposal must keep.
    """
    paths = [Path(p) for p in paths]
    if mapping is not None:
        found, problems = match_files(mapping, paths, base)
        unmapped = [p for p in paths if p not in found.values()]
        problems += [f"{p}: given, but the mapping does not say what it is (add it, with role: ignore to skip)"
                     for p in unmapped]
        if problems:
            raise DataImportError("mapping", problems)
        keys = [(e.file, found[e.file], e.types) for e in mapping.files]
        missing = mapping.missing_values
    else:
        if not paths:
            raise DataImportError("leadcal import", ["give at least one CSV or Parquet file"])
        keys = [(str(p), p, dict(types or {})) for p in paths]
    missing = list(missing if missing is not None else MISSING_VALUES)
    prepare(con, missing)
    problems = []
    for _, path, _ in keys:
        try:
            check_file(path)
        except DataImportError as exc:
            problems += [f"{exc.source}: {p}" for p in exc.problems]
    if problems:
        raise DataImportError("input files", problems)
    seen: set[Path] = set()
    for _, path, _ in keys:
        if path.resolve() in seen:
            raise DataImportError(str(path), ["the file is given twice"])
        seen.add(path.resolve())
    profiles: dict[str, FileProfile] = {}
    raw: dict[str, str] = {}
    for i, (key, path, forced) in enumerate(keys):
        table = f"__raw_{i}"
        fmt, encoding = load_raw(con, path, table)
        (rows,) = con.execute(f"SELECT count(*) FROM {raw_quote(table)}").fetchall()[0]
        if rows == 0:  # before profiling: there is nothing to profile
            raise DataImportError(str(path), ["the file has a header but no data rows"])
        try:
            columns = profile_table(con, table, missing, overrides=forced)
        except duckdb.Error as exc:
            raise DataImportError(str(path), [f"cannot read the file ({str(exc).splitlines()[0]})"]) from None
        profiles[key] = FileProfile(path=path, format=fmt, rows=rows, columns=columns,
                                    preview=preview_rows(con, table), encoding=encoding)
        raw[key] = table
    if mapping is not None:
        return _Loaded(profiles, raw, mapping_to_dict(mapping), [])
    if types:
        unknown = [f"no file has a column '{c}'" for c in types if not any(p.column(c) for p in profiles.values())]
        unknown += [f"'{c}': type {k!r} is not one of {', '.join(KINDS)}" for c, k in types.items() if k not in KINDS]
        if unknown:
            raise DataImportError("types", unknown)
    data, notes = _propose(con, profiles, raw, missing, _roles(roles or {}, profiles))
    for entry in data["files"]:  # record forced types in the mapping, per file that has the column
        forced = {c: k for c, k in (types or {}).items() if profiles[entry["file"]].column(c)}
        if forced:
            entry["types"] = forced
    return _Loaded(profiles, raw, data, notes)


def _roles(roles: dict[str, str], profiles: dict[str, FileProfile]) -> dict[str, str]:
    """Roles given by file path or name, keyed by the profile key; DataImportError for an unknown file."""
    out = {}
    for ref, role in roles.items():
        hit = [k for k, p in profiles.items() if k == ref or p.path.name == Path(ref).name]
        if not hit:
            raise DataImportError("roles", [f"'{ref}' is not one of the files given "
                                            f"({', '.join(p.name for p in profiles.values())})"])
        if role not in ROLES:
            raise DataImportError("roles", [f"'{ref}': role {role!r} is not one of {', '.join(ROLES)}"])
        out[hit[0]] = role
    if list(out.values()).count("leads") > 1:
        raise DataImportError("roles", ["only one file can be the leads file"])
    return out


def _overlap(con: duckdb.DuckDBPyConnection, a_table: str, a_col: str, b_table: str, b_col: str) -> int:
    """Distinct values (trimmed, ignoring case) two raw columns share."""
    a = nz(f"CAST({raw_quote(a_col)} AS VARCHAR)")
    b = nz(f"CAST({raw_quote(b_col)} AS VARCHAR)")
    sql = (f"SELECT count(*) FROM (SELECT DISTINCT lower({a}) AS k FROM {raw_quote(a_table)}) "
           f"JOIN (SELECT DISTINCT lower({b}) AS k FROM {raw_quote(b_table)}) USING (k)")
    return con.execute(sql).fetchall()[0][0]


def _key_pair(con, p: FileProfile, table: str, lp: FileProfile, leads_table: str, unique_only: bool = True):
    """The (key column, leads column) pair sharing the most values, and how many; (0, None, None) if none.

    One query compares every candidate pair. ``unique_only``: only columns with one row per
    value can be keys (when the file's role is not given; a file given as attributes gets the
    best pair, and a repeated key is reported when it is built)."""
    keys_a = [c for c in p.columns if c.kind in ("text", "integer") and c.filled
              and (c.distinct == c.filled or not unique_only)]
    keys_l = [c for c in lp.columns if c.kind in ("text", "integer") and c.filled]
    if not keys_a or not keys_l:
        return 0, None, None
    a = stacked(table, [(i, c.original, c.raw_type) for i, c in enumerate(keys_a)])
    b = stacked(leads_table, [(j, c.original, c.raw_type) for j, c in enumerate(keys_l)])
    counts = con.execute(
        f"SELECT a.i, b.i, count(*) FROM (SELECT DISTINCT i, lower(v) AS k FROM {a} WHERE v IS NOT NULL) a "
        f"JOIN (SELECT DISTINCT i, lower(v) AS k FROM {b} WHERE v IS NOT NULL) b USING (k) GROUP BY ALL").fetchall()
    if not counts:
        return 0, None, None
    i, j, n = max(counts, key=lambda r: (r[2], keys_a[r[0]].clean == keys_l[r[1]].clean, -r[0], -r[1]))
    return n, keys_a[i], keys_l[j]


def _propose(con: duckdb.DuckDBPyConnection, profiles: dict[str, FileProfile], raw: dict[str, str],
             missing: list[str], roles: dict[str, str]) -> tuple[dict, list[str]]:
    """A proposed mapping (plain data; may lack an id or outcome) and notes on the choices."""
    keys = list(profiles)
    given = [k for k, r in roles.items() if r == "leads"]
    lead_key = given[0] if given else max((k for k in keys if roles.get(k) in (None, "leads")),
                                          key=lambda k: (leads_score(profiles[k]), -keys.index(k)), default=keys[0])
    lp = profiles[lead_key]
    lead_id = propose_id(lp.columns)
    id_names = {"lead_id", "contact_id", "id"} | ({lead_id.clean} if lead_id else set())
    files: list[dict] = []
    notes: list[str] = []
    attrs: list[tuple[dict, FileProfile]] = []
    for key in keys:
        if key == lead_key:
            continue
        p, role = profiles[key], roles.get(key)
        if role == "ignore":
            files.append({"file": key, "role": "ignore"})
            continue
        if role in (None, "events"):
            ev = propose_events(p, id_names)
            if ev is not None and (role == "events" or lead_id is not None and _looks_like_events(
                    con, p, ev, raw[key], lead_id, raw[lead_key])):
                files.append(ev)
                continue
            if role == "events":
                raise DataImportError(str(p.path), [
                    "cannot tell which columns are the lead id, event type and time (an events file needs a "
                    "lead id and a date/time column); say so in a mapping YAML (role: events, lead_id, type, time)"])
        n, ka, kl = _key_pair(con, p, raw[key], lp, raw[lead_key], unique_only=role is None)
        if ka is not None and (n >= max(1, 0.2 * ka.distinct) or role == "attributes" and n):
            entry = {"file": key, "role": "attributes", "key": ka.original, "joins": kl.original}
            files.append(entry)
            attrs.append((entry, p))
        elif role == "attributes":
            raise DataImportError(str(p.path), [
                f"no column of it shares values with a column of {lp.name}, so it cannot be joined; give 'key' "
                "and 'joins' in a mapping YAML"])
        else:
            files.append({"file": key, "role": "ignore"})
            notes.append(f"{p.name}: not an events file (lead id, type, time) and no column matches a column of "
                         f"{lp.name}; it is ignored unless you give it a role")
    # joined columns are named as on the leads table after the join (as resolve() names them)
    joined: list[tuple] = []
    joins = set()
    taken = [c.clean for c in lp.columns]
    for entry, p in attrs:
        key_col = p.column(entry["key"])
        extra = [c for c in p.columns if c is not key_col]
        names = joined_names(extra, clean_name(p.path.stem), taken)
        taken += names
        joined += list(zip(extra, names))
        joins.add(entry["joins"])
    leads = propose_leads(lead_key, lp.columns, joined, joins)
    return {"import_version": 1, "missing_values": list(missing), "files": [leads] + files}, notes


def _looks_like_events(con, p: FileProfile, ev: dict, table: str, lead_id: ColumnProfile, leads_table: str) -> bool:
    """An events proposal holds when its lead ids repeat (or it has a type) and match the leads' ids."""
    col = p.column(ev["lead_id"])
    if not (col.distinct < col.filled or ev.get("type")):
        return False
    return _overlap(con, table, col.original, leads_table, lead_id.original) > 0


def gaps(data: dict, profiles: dict[str, FileProfile]) -> list[str]:
    """What a (proposed) mapping still lacks that only the user can give: a lead id, an outcome."""
    leads = next((f for f in data.get("files", []) if f.get("role") == "leads"), None)
    if leads is None or leads.get("file") not in profiles:
        return []
    lp = profiles[leads["file"]]
    columns = ", ".join(repr(c.original) for c in lp.columns)
    problems = []
    if not leads.get("id"):
        problems.append(f"{lp.name}: no column could be the lead id (one unique id per row); map one "
                        f"(--id COLUMN); columns: {columns}")
    if not leads.get("outcome"):
        problems.append(
            f"{lp.name}: no column could be the outcome (a yes/no or 0/1 column such as 'Converted', a stage "
            f"column with won and lost values, or a conversion date); map one (--outcome COLUMN); columns: {columns}")
    return problems


def check(data: dict, profiles: dict[str, FileProfile]) -> tuple[ImportMapping | None, list[str]]:
    """A mapping (plain data) checked against the files: the mapping, or every problem."""
    problems = gaps(data, profiles)
    if problems:
        return None, problems
    try:
        mapping = mapping_from_dict(data)
    except DataImportError as exc:
        return None, exc.problems
    _, problems = resolve(mapping, profiles)
    return (None, problems) if problems else (mapping, [])


def inspect_files(paths: Sequence[str | Path], mapping: ImportMapping | dict | str | Path | None = None, *,
                  missing_values: Sequence[str] | None = None, types: dict[str, str] | None = None,
                  roles: dict[str, str] | None = None, base: Path | None = None) -> Inspection:
    """Read and profile the files and propose (or check) a mapping; writes nothing.

    Problems with the files (missing, unreadable) raise DataImportError; problems of the
    mapping (nothing that could be the outcome, a column that does not exist) are listed
    in ``problems`` so a page can show them next to the controls that fix them.
    """
    mapping, base = _as_mapping(mapping, base)
    con = new_connection()
    try:
        loaded = _load(con, paths, mapping, base, missing_values, types, roles)
    finally:
        con.close()
    _, problems = check(loaded.mapping, loaded.profiles)
    return Inspection(profiles=loaded.profiles, mapping=loaded.mapping, problems=problems, notes=loaded.notes)


def lead_choices(inspection: Inspection, data: dict) -> list[tuple[str, ColumnProfile]]:
    """Columns the leads mapping can name, as (reference, column): the leads file's columns by their
    header, then the columns joined from the mapping's attributes files by their name on the leads table."""
    files = data.get("files", [])
    leads = next((f for f in files if f.get("role") == "leads"), None)
    if leads is None or leads.get("file") not in inspection.profiles:
        return []
    lp = inspection.profiles[leads["file"]]
    out = [(c.original, c) for c in lp.columns]
    taken = [c.clean for c in lp.columns]
    for entry in files:
        p = inspection.profiles.get(entry.get("file"))
        if entry.get("role") != "attributes" or p is None:
            continue
        key = p.column(entry.get("key") or "")
        extra = [c for c in p.columns if c is not key]
        names = joined_names(extra, entry.get("table") or clean_name(p.path.stem), taken)
        taken += names
        out += list(zip(names, extra))
    return out


def stage_upload(folder: str | Path, name: str, data: bytes) -> Path:
    """Save an uploaded file's bytes under ``folder`` (a folder leadcal owns) for import; returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    safe = Path(name).name.strip() or "upload.csv"
    path = folder / safe
    if not path.exists() or path.read_bytes() != data:
        from .files import write_atomic

        write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
    return path


def confirm(inspection: Inspection, data: dict | None = None) -> ImportMapping:
    """The mapping to import (the inspection's, or ``data`` edited from it); DataImportError if not usable."""
    mapping, problems = check(inspection.mapping if data is None else data, inspection.profiles)
    if problems:
        raise DataImportError("mapping", problems)
    return mapping


# --------------------------------------------------------------------------- building


def _lead_expr(lc: LeadColumn, plan: Plan) -> str:
    """SQL of a leads-table column's value, in the FROM of the leads build (raw ``l``, joins ``jN``)."""
    p = lc.profile
    if lc.joined is None:
        from_boolean = p.kind == "boolean" and lc.kind in ("integer", "number")
        return clean_expr(f"l.{raw_quote(p.original)}", p.raw_type, lc.kind, p.time_formats, from_boolean)
    k = plan.attributes.index(lc.joined)
    value = f"j{k}.{quote(p.clean)}"
    return value if lc.kind == p.kind or p.kind == "empty" else f"CAST({value} AS {SQL_TYPE[lc.kind]})"


def _finding(table: str, column: str, count: int, problem: str, handling: str) -> dict:
    return {"table": table, "column": column, "count": int(count), "problem": problem, "handling": handling}


def _column_findings(con, plan: Plan, key: str, table: str, columns: list[tuple[str, str, str, bool, bool, str]],
                     params: dict) -> list[dict]:
    """Placeholders and unreadable values of the columns of one raw file, as findings."""
    profile = plan.files[key]
    out = []
    results = unreadable(con, plan.raw[key], [c[:5] for c in columns])
    for (orig, _, kind, _, _, name), (bad, examples, _) in zip(columns, results):
        p = profile.column(orig)
        if p is not None and p.placeholders:
            shown = ", ".join(repr(e) for e in p.placeholder_examples)
            out.append(_finding(table, name, p.placeholders, f"placeholder values ({shown}) in {profile.name} "
                                f"column '{orig}'", "read as missing (NULL)"))
        if bad:
            what = {"time": "dates", "integer": "whole numbers", "number": "numbers", "boolean": "yes/no"}[kind]
            shown = ", ".join(repr(e) for e in examples)
            out.append(_finding(table, name, bad, f"values of {profile.name} column '{orig}' are not {what} "
                                f"(e.g. {shown})", "stored as NULL"))
    return out


def _existing(con: duckdb.DuckDBPyConnection) -> tuple[set[str], set[str], int]:
    """Tables of the database, tables earlier imports made, and the last import id."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database()").fetchall()}
    made: set[str] = set()
    last = 0
    if IMPORT_TABLE in tables:
        for import_id, names in con.execute(f"SELECT import_id, tables FROM {IMPORT_TABLE}").fetchall():
            made |= set(names or [])
            last = max(last, import_id)
    return tables, made, last


def _build(con: duckdb.DuckDBPyConnection, plan: Plan, params: dict) -> tuple[dict, list[dict]]:
    """Create the clean tables and check them; the outcome summary and findings. Raises DataImportError."""
    findings = _build_attributes(con, plan, params)
    findings += _build_leads(con, plan, params)
    summary, more = _check_leads(con, plan, params)
    findings += more
    if plan.events:
        findings += _build_events(con, plan, params, plan.tables[plan.leads.file])
    return summary, findings


def _build_attributes(con: duckdb.DuckDBPyConnection, plan: Plan, params: dict) -> list[dict]:
    """One clean table per attributes file; its key must be unique (ignoring case and spaces)."""
    findings: list[dict] = []
    for entry in plan.attributes:
        ap = plan.files[entry.file]
        table = plan.tables[entry.file]
        cols = [(c.original, c.raw_type, c.kind if c.kind != "empty" else "text", c.time_formats, False, c.clean)
                for c in ap.columns]
        select = ", ".join(f"{clean_expr(raw_quote(o), t, kd, df)} AS {quote(n)}" for o, t, kd, df, _, n in cols)
        sql = f"CREATE OR REPLACE TABLE {quote(table)} AS SELECT {select} FROM {raw_quote(plan.raw[entry.file])}"
        con.execute(sql, bind(sql, params))
        findings += _column_findings(con, plan, entry.file, table, cols, params)
        key = ap.column(entry.key)
        dupes = con.execute(
            f"SELECT min(CAST({quote(key.clean)} AS VARCHAR)), count(*) AS n FROM {quote(table)} "
            f"WHERE {quote(key.clean)} IS NOT NULL GROUP BY lower(trim(CAST({quote(key.clean)} AS VARCHAR))) "
            "HAVING n > 1 ORDER BY n DESC, 1 LIMIT 3").fetchall()
        if dupes:
            shown = ", ".join(f"'{v}' ({n} rows)" for v, n in dupes)
            raise DataImportError(str(ap.path), [
                f"key column '{key.original}' is not unique ({shown}): an attributes file needs one row per key "
                f"to join onto the leads by '{entry.joins}'"])
    return findings


WIDE_SLICE = 16
"""Columns computed per query when building a wide leads table (see ``_wide_select``)."""


def _wide_select(con: duckdb.DuckDBPyConnection, items: list[str], source: str) -> str:
    """``SELECT items FROM source``, built in slices of WIDE_SLICE columns when there are more.

    DuckDB's time to run one projection of n reading expressions grows about as n squared
    (250 columns: 3.5 s, 500: 39 s, on 200 rows); slices of 16, each stored in the raw
    file's row order and put side by side with a POSITIONAL JOIN (a join on the row id
    of 125 slices took 4.4 s, side by side 0.2 s), keep an import linear in its columns.
    The result then has a ``__rid`` column to order by.
    """
    if len(items) <= WIDE_SLICE:
        return f"SELECT {', '.join(items)} FROM {source}"
    parts = []
    for k, start in enumerate(range(0, len(items), WIDE_SLICE)):
        part = f"__leads_part_{k}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {part} AS SELECT l.rowid AS __rid, "
                    f"{', '.join(items[start:start + WIDE_SLICE])} FROM {source} ORDER BY l.rowid")
        parts.append(part if k == 0 else f"(SELECT * EXCLUDE (__rid) FROM {part})")
    return "SELECT * FROM " + " POSITIONAL JOIN ".join(parts)


def _build_leads(con: duckdb.DuckDBPyConnection, plan: Plan, params: dict) -> list[dict]:
    """The leads table: the leads file's columns cleaned, attribute columns joined, the outcome derived."""
    lp = plan.files[plan.leads.file]
    leads_table = plan.tables[plan.leads.file]
    joins = []
    for k, entry in enumerate(plan.attributes):
        ap = plan.files[entry.file]
        key = ap.column(entry.key)
        lcol = lp.column(entry.joins)
        left = nz(f"CAST(l.{raw_quote(lcol.original)} AS VARCHAR)")
        joins.append(f"LEFT JOIN {quote(plan.tables[entry.file])} AS j{k} "
                     f"ON lower({left}) = lower(trim(CAST(j{k}.{quote(key.clean)} AS VARCHAR)))")
    base = _wide_select(con, [f"{_lead_expr(lc, plan)} AS {quote(lc.name)}" for lc in plan.lead_columns],
                        f"{raw_quote(plan.raw[plan.leads.file])} AS l {' '.join(joins)}")
    outer: list[str] = []
    outcome, date = plan.outcome_column, plan.outcome_date
    derived: dict[str, str] = {}
    if outcome is not None and plan.stage:
        params["won"] = [v.strip().lower() for v in plan.leads.outcome.won or []]
        params["lost"] = [v.strip().lower() for v in plan.leads.outcome.lost or []]
        text = quote(outcome.name)
        derived["converted"] = (f"CASE WHEN list_contains($won, lower({text})) THEN true "
                                f"WHEN list_contains($lost, lower({text})) THEN false END")
    if date is not None and outcome is not None:
        conv = derived.get("converted", quote("converted"))
        derived["converted_at"] = f"CASE WHEN {conv} THEN {quote(date.name)} END"
    if date is not None and outcome is None and not plan.point_in_time:
        derived["converted"] = f"({quote(date.name)} IS NOT NULL)"
    first = ["lead_id", "created_at", "converted_at", "converted", "deal_value"]
    names = {lc.name for lc in plan.lead_columns}
    for name in first:
        if name in derived:
            outer.append(f"{derived[name]} AS {quote(name)}")
        elif name in names:
            outer.append(quote(name))
    outer += [quote(lc.name) for lc in plan.lead_columns if lc.name not in first]
    sql = f"CREATE OR REPLACE TABLE {quote(leads_table)} AS WITH base AS ({base}) SELECT {', '.join(outer)} FROM base"
    con.execute(sql + (" ORDER BY __rid" if "__rid" in base else ""), bind(sql, params))
    for part in range(len(plan.lead_columns) // WIDE_SLICE + 1):
        con.execute(f"DROP TABLE IF EXISTS __leads_part_{part}")
    own = [(lc.profile.original, lc.profile.raw_type, lc.kind, lc.profile.time_formats,
            lc.profile.kind == "boolean" and lc.kind in ("integer", "number"), lc.name)
           for lc in plan.lead_columns if lc.joined is None]
    return _column_findings(con, plan, plan.leads.file, leads_table, own, params)


def _check_leads(con: duckdb.DuckDBPyConnection, plan: Plan, params: dict) -> tuple[dict, list[dict]]:
    """Refuse a repeated lead id, no readable creation time, a one-class outcome; count the rest."""
    findings: list[dict] = []
    lp = plan.files[plan.leads.file]
    leads_table = plan.tables[plan.leads.file]
    by_role = {lc.role: lc for lc in plan.lead_columns if lc.role}
    outcome, date = plan.outcome_column, plan.outcome_date
    id_col = by_role["id"]
    dupes = con.execute(f"SELECT lead_id, count(*) AS n FROM {quote(leads_table)} WHERE lead_id IS NOT NULL "
                        "GROUP BY lead_id HAVING n > 1 ORDER BY n DESC, lead_id LIMIT 3").fetchall()
    if dupes:
        (total,) = con.execute(f"SELECT count(*) FROM (SELECT lead_id FROM {quote(leads_table)} "
                               "WHERE lead_id IS NOT NULL GROUP BY lead_id HAVING count(*) > 1)").fetchall()[0]
        shown = ", ".join(f"'{v}' ({n} rows)" for v, n in dupes)
        raise DataImportError(str(lp.path), [
            f"lead id column '{id_col.profile.original}' is not unique: {total} id(s) appear more than once "
            f"(e.g. {shown}); each row of the leads file must be one lead (pick another id column, or remove "
            "the duplicates)"])
    rows, no_id, no_created = con.execute(
        f"SELECT count(*), count(*) - count(lead_id), "
        f"{'count(*) - count(created_at)' if plan.point_in_time else '0'} FROM {quote(leads_table)}").fetchall()[0]
    if no_id:
        findings.append(_finding(leads_table, "lead_id", no_id, "rows have no lead id", "left out of scoring"))
    if plan.point_in_time and no_created == rows:
        created = by_role["created_at"]
        raise DataImportError(str(lp.path), [
            f"no value of the created time column '{created.profile.original}' reads as a date/time; map another "
            "column, or none (--created none) when the data has no creation times"])
    if no_created:
        findings.append(_finding(leads_table, "created_at", no_created, "leads have no created time",
                                 "left out of point-in-time scoring (they cannot be placed in time)"))
    # the outcome has two classes
    summary = _outcome_summary(con, plan, leads_table)
    yes, no = summary["converted"], summary["not_converted"]
    if yes == 0 or no == 0:
        what = "outcome " + " and ".join(f"'{c.profile.original}'" for c in (outcome, date) if c is not None)
        other = "lost" if plan.outcome_mode == "converted" else "not converted"
        raise DataImportError(str((outcome or date).file.path), [
            f"{what} has one class only: {yes} converted, {no} {other} ({summary['open']} open); calibrating "
            "needs both converted and not converted leads"])
    if outcome is not None and date is not None:
        (won_no_date,) = con.execute(f"SELECT count(*) FROM {quote(leads_table)} WHERE converted AND "
                                     "converted_at IS NULL").fetchall()[0]
        if won_no_date and plan.outcome_mode == "converted_at":
            findings.append(_finding(leads_table, "converted_at", won_no_date,
                                     f"won leads have no conversion date ('{date.profile.original}')",
                                     "count as not converted: there is no time to place the conversion"))
    # joined attributes: leads without a match
    for entry in plan.attributes:
        lcol = lp.column(entry.joins)
        key = plan.files[entry.file].column(entry.key)
        left = nz(f"CAST(l.{raw_quote(lcol.original)} AS VARCHAR)")
        right = f"lower(trim(CAST(j.{quote(key.clean)} AS VARCHAR)))"
        sql = (f"SELECT count(*) FROM {raw_quote(plan.raw[plan.leads.file])} AS l LEFT JOIN "
               f"{quote(plan.tables[entry.file])} AS j ON lower({left}) = {right} "
               f"WHERE {left} IS NOT NULL AND j.{quote(key.clean)} IS NULL")
        (unmatched,) = con.execute(sql, bind(sql, params)).fetchall()[0]
        if unmatched:
            findings.append(_finding(leads_table, lcol.clean, unmatched,
                                     f"leads whose '{lcol.original}' has no match in {plan.files[entry.file].name}",
                                     "their joined columns are NULL"))
    return summary, findings


def _outcome_summary(con: duckdb.DuckDBPyConnection, plan: Plan, table: str) -> dict:
    """Counts of the outcome as imported, and (for a stage) what each stage value became."""
    if plan.outcome_mode == "converted_at":
        yes, no = con.execute(f"SELECT count(converted_at), count(*) - count(converted_at) FROM {quote(table)}"
                              ).fetchall()[0]
        open_ = 0
        if "converted" in {c.name for c in plan.lead_columns} or plan.outcome_column is not None:
            (open_,) = con.execute(f"SELECT count(*) - count(converted) FROM {quote(table)}").fetchall()[0]
    else:
        yes, no, open_ = con.execute(
            "SELECT count(*) FILTER (WHERE converted), count(*) FILTER (WHERE NOT converted), "
            f"count(*) - count(converted) FROM {quote(table)}").fetchall()[0]
    summary = {"mode": plan.outcome_mode, "converted": yes, "not_converted": no, "open": open_,
               "column": plan.outcome_column.profile.original if plan.outcome_column else None,
               "date": plan.outcome_date.profile.original if plan.outcome_date else None}
    if plan.stage:
        text = quote(plan.outcome_column.name)
        rows = con.execute(f"SELECT {text}, converted, count(*) AS n FROM {quote(table)} GROUP BY ALL "
                           "ORDER BY n DESC, 1 NULLS LAST").fetchall()
        summary["stages"] = [{"value": "(missing)" if v is None else v,
                              "is": "missing" if v is None else {True: "won", False: "lost"}.get(c, "open"),
                              "leads": n} for v, c, n in rows]
    return summary


def _build_events(con: duckdb.DuckDBPyConnection, plan: Plan, params: dict, leads_table: str) -> list[dict]:
    """The events table: lead id, type, time from every events file."""
    findings = []
    table = plan.tables[plan.events[0].file]
    parts = []
    for k, entry in enumerate(plan.events):
        ep = plan.files[entry.file]
        lead = ep.column(entry.lead_id)
        time = ep.column(entry.time)
        lead_sql = clean_expr(raw_quote(lead.original), lead.raw_type, "text")
        if entry.type is not None:
            col = ep.column(entry.type)
            type_sql = clean_expr(raw_quote(col.original), col.raw_type, "text")
            cols = [(col.original, col.raw_type, "text", False, False, "event_type")]
        else:
            params[f"tv{k}"] = entry.type_value
            type_sql, cols = f"CAST($tv{k} AS VARCHAR)", []
        time_sql = clean_expr(raw_quote(time.original), time.raw_type, "time", time.time_formats)
        parts.append(f"SELECT {lead_sql} AS lead_id, {type_sql} AS event_type, {time_sql} AS occurred_at "
                     f"FROM {raw_quote(plan.raw[entry.file])}")
        cols += [(lead.original, lead.raw_type, "text", False, False, "lead_id"),
                 (time.original, time.raw_type, "time", time.time_formats, False, "occurred_at")]
        findings += _column_findings(con, plan, entry.file, table, cols, params)
    sql = f"CREATE OR REPLACE TABLE {quote(table)} AS " + " UNION ALL ".join(parts)
    con.execute(sql, bind(sql, params))
    no_lead, no_type, no_time, unknown = con.execute(
        f"SELECT count(*) - count(lead_id), count(*) - count(event_type), count(*) - count(occurred_at), "
        f"count(*) FILTER (WHERE lead_id IS NOT NULL AND lead_id NOT IN (SELECT lead_id FROM {quote(leads_table)} "
        f"WHERE lead_id IS NOT NULL)) FROM {quote(table)}").fetchall()[0]
    for column, count, problem in (("lead_id", no_lead, "events have no lead id"),
                                   ("event_type", no_type, "events have no type"),
                                   ("occurred_at", no_time, "events have no time")):
        if count:
            findings.append(_finding(table, column, count, problem, "not counted"))
    if unknown:
        findings.append(_finding(table, "lead_id", unknown, "events belong to no lead of the leads file",
                                 "not counted"))
    return findings


# --------------------------------------------------------------------------- run


@dataclass
class ImportResult:
    """What an import did."""

    db: Path
    mapping: ImportMapping
    report: dict
    """The import report (JSON-able): tables, columns, outcome, findings, notes."""
    config: ScoringConfig
    """The starter config (every rule at 0 points), valid on the imported tables."""
    config_yaml: str


def model_name(db: str | Path) -> str:
    """A model name from a database file name (``CRM export.duckdb`` -> ``crm_export``)."""
    return clean_name(Path(db).stem)[:64]


def _check_target(target: Path, inputs: list[Path]) -> None:
    if target.is_dir():
        raise DataImportError(str(target), ["is a directory; give a DuckDB file name for --db"])
    resolved = target.resolve()
    if any(p.resolve() == resolved for p in inputs):
        raise DataImportError(str(target), ["is one of the input files; leadcal never writes to them"])
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        raise DataImportError(str(target), [
            f"has unsaved changes in {wal.name} (another program has it open or crashed); open and close it "
            "with DuckDB first, then import again"])
    if target.exists():
        try:
            duckdb.connect(str(target), read_only=True).close()
        except duckdb.Error as exc:
            raise DataImportError(str(target), [
                f"exists and is not a readable DuckDB database ({str(exc).splitlines()[0]}); choose another --db"
            ]) from None


def _unlink(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _lock_path(temp: Path) -> Path:
    return temp.with_name(temp.name.removesuffix(".tmp") + ".lock")


def _hold(temp: Path) -> int:
    """Lock the import's working copy as in use (released by the kernel if the process is killed)."""
    import fcntl

    fd = os.open(_lock_path(temp), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _release(fd: int, temp: Path) -> None:
    try:
        _lock_path(temp).unlink()
    except FileNotFoundError:
        pass
    os.close(fd)


def clean_stale_imports(target: str | Path) -> list[Path]:
    """Remove the working copies of imports into ``target`` that were killed; returns them.

    A running import holds a lock on its copy, so only copies whose process is gone are
    removed, never one another import is still building.
    """
    import fcntl
    import glob

    target = Path(target)
    removed = []
    stem = f".{glob.escape(target.name)}.import-"
    temps = set(target.parent.glob(stem + "*.tmp")) | {
        lock.with_name(lock.name.removesuffix(".lock") + ".tmp") for lock in target.parent.glob(stem + "*.lock")}
    for temp in sorted(temps):
        lock = _lock_path(temp)
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            fd = None  # the lock is taken before the copy is made and dropped after it is gone
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # another import is running
        if temp.exists():
            removed.append(temp)
        _unlink(temp)
        if fd is not None:
            _release(fd, temp)
    return removed


def run_import(paths: Sequence[str | Path], db: str | Path,
               mapping: ImportMapping | dict | str | Path | None = None, *, model: str | None = None,
               missing_values: Sequence[str] | None = None, base: Path | None = None,
               now: dt.datetime | None = None) -> ImportResult:
    """Import the files into ``db`` (created, or updated from a copy) atomically.

    Without a mapping the proposed one is used. Raises DataImportError naming the file and
    column at fault; the target is then exactly as it was.
    """
    mapping, base = _as_mapping(mapping, base)
    target = Path(db)
    paths = [Path(p) for p in paths]
    inputs = paths + ([Path(e.file) if base is None else base / e.file for e in mapping.files] if mapping else [])
    _check_target(target, inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_imports(target)
    temp = target.with_name(f".{target.name}.import-{uuid.uuid4().hex[:12]}.tmp")
    name = model or model_name(target)
    now = now or dt.datetime.now()
    con = None
    lock = _hold(temp)
    try:
        if target.exists():
            shutil.copyfile(target, temp)
        crash_point("import:copied")
        con = new_connection(str(temp))
        loaded = _load(con, paths, mapping, base, missing_values)
        final, problems = check(loaded.mapping, loaded.profiles)
        if problems:
            raise DataImportError("mapping", problems)
        plan, _ = resolve(final, loaded.profiles)
        plan.raw = loaded.raw
        tables, made, last = _existing(con)
        ours = set(plan.tables.values())
        clash = sorted(t for t in ours & tables if t not in made)
        if clash:
            raise DataImportError(str(target), [
                f"table '{t}' exists and was not made by leadcal import; import into another --db, or give the "
                "file another 'table' name in the mapping" for t in clash])
        stale = sorted(made & tables - ours)
        for t in stale:
            con.execute(f"DROP TABLE {quote(t)}")
        params: dict = {}
        summary, findings = _build(con, plan, params)
        report = _report(plan, final, summary, findings, target, name, now, stale)
        config, data, config_notes = _starter(con, plan, final, name, now)
        _try_config(con, temp, config, now)
        report["notes"] += config_notes
        report["starter"] = {"model": name, "fit_rules": len(config.fit), "engagement_rules": len(config.engagement),
                             "scoring_point_days": config.evaluation.scoring_point_days,
                             "outcome_window_days": config.evaluation.outcome_window_days}
        files = [str(plan.files[e.file].path) for e in final.files]
        text = starter_yaml(config, data, [Path(f).name for f in files], plan.point_in_time)
        _metadata(con, plan, final, report, text, last + 1, now, name, files)
        con.execute("CHECKPOINT")
        con.close()
        con = None
        if target.exists():
            shutil.copymode(target, temp)
        else:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(temp, 0o666 & ~mask)
        crash_point("import:built")
        os.replace(temp, target)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0].replace(str(temp), str(target))
        raise DataImportError(str(target), [f"building the tables failed ({first})"]) from None
    except DataImportError as exc:  # never name the working copy: the user knows only the target
        if str(temp) not in str(exc):
            raise
        raise DataImportError(exc.source.replace(str(temp), str(target)),
                              [p.replace(str(temp), str(target)) for p in exc.problems]) from None
    finally:
        if con is not None:
            con.close()
        _unlink(temp)
        _release(lock, temp)
    return ImportResult(db=target, mapping=final, report=report, config=config, config_yaml=text)


def _try_config(con: duckdb.DuckDBPyConnection, path: Path, config: ScoringConfig, now: dt.datetime) -> None:
    """Score the imported data with the starter config, as the app will: it must work before anything is kept."""
    from .features import extract_features

    source = Source(path=path, con=con)
    for table, column, data_type in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_catalog = current_database() ORDER BY table_name, ordinal_position").fetchall():
        source.tables.setdefault(table.lower(), {})[column] = data_type
        source.table_names[table.lower()] = table
    try:
        extract_features(source, config, now=now)
    except SourceError as exc:
        raise DataImportError("starter config", [f"does not work on the imported tables: {p}"
                                                 for p in exc.problems]) from None


def _report(plan: Plan, mapping: ImportMapping, summary: dict, findings: list[dict], target: Path, name: str,
            now: dt.datetime, stale: list[str]) -> dict:
    lp = plan.files[plan.leads.file]
    leads_table = plan.tables[plan.leads.file]
    derived_from = {"converted": plan.outcome_column or plan.outcome_date, "converted_at": plan.outcome_date}
    columns = []
    for lc in plan.lead_columns:
        columns.append({"table": leads_table, "column": lc.name, "type": SQL_TYPE[lc.kind], "role": lc.role,
                        "file": lc.file.name, "original": lc.profile.original})
    have = {lc.name for lc in plan.lead_columns}
    for derived in ("converted", "converted_at"):
        src = derived_from[derived]
        made = derived not in have and src is not None and not (derived == "converted" and plan.outcome_column is None
                                                                and plan.point_in_time)
        if made:
            columns.append({"table": leads_table, "column": derived,
                            "type": "BOOLEAN" if derived == "converted" else "TIMESTAMP", "role": "outcome (derived)",
                            "file": src.file.name, "original": src.profile.original})
    tables = [{"table": leads_table, "rows": lp.rows, "files": [lp.name] + [plan.files[a.file].name
                                                                        for a in plan.attributes], "role": "leads"}]
    for entry in plan.attributes:
        ap = plan.files[entry.file]
        tables.append({"table": plan.tables[entry.file], "rows": ap.rows, "files": [ap.name], "role": "attributes",
                       "joined_on": f"{entry.key} = {leads_table}.{lp.column(entry.joins).original}"})
        columns += [{"table": plan.tables[entry.file], "column": c.clean, "type": SQL_TYPE[c.kind],
                     "role": "key" if c.original == ap.column(entry.key).original else "",
                     "file": ap.name, "original": c.original} for c in ap.columns]
    if plan.events:
        table = plan.tables[plan.events[0].file]
        tables.append({"table": table, "rows": sum(plan.files[e.file].rows for e in plan.events),
                       "files": [plan.files[e.file].name for e in plan.events], "role": "events"})
        for e in plan.events:
            ep = plan.files[e.file]
            for column, ref in (("lead_id", e.lead_id), ("event_type", e.type), ("occurred_at", e.time)):
                original = ep.column(ref).original if ref else f"(every row: {e.type_value!r})"
                columns.append({"table": table, "column": column, "type": "TIMESTAMP" if column == "occurred_at"
                                else "VARCHAR", "role": column, "file": ep.name, "original": original})
    notes = []
    if not plan.point_in_time:
        notes.append(NO_TIME_NOTE)
        if plan.events:
            notes.append("The events were imported, but the starter config does not use them: without creation "
                         "times there is no scoring point to count events before.")
    elif plan.by_role("activity"):
        notes.append(TOTALS_NOTE)
    if summary["mode"] == "converted_at" and summary["open"]:
        notes.append("Open stages are not converted yet: a lead whose outcome window has not passed is immature "
                     "(shown, never counted as lost).")
    if stale:
        notes.append(f"Dropped tables of an earlier import that this one does not make: {', '.join(stale)}.")
    ignored = [plan.files[e.file].name for e in mapping.files if e.role == "ignore"]
    if ignored:
        notes.append(f"Ignored: {', '.join(ignored)}.")
    return {"import_version": 1, "db": str(target), "imported_at": now.isoformat(sep=" ", timespec="seconds"),
            "model": name, "point_in_time": plan.point_in_time, "tables": tables, "columns": columns,
            "outcome": summary, "findings": findings, "notes": notes}


def _starter(con, plan: Plan, mapping: ImportMapping, name: str,
             now: dt.datetime) -> tuple[ScoringConfig, dict, list[str]]:
    fit = [(lc.name, "numeric" if lc.kind in ("integer", "number") else "categorical") for lc in plan.by_role("fit")]
    files = ", ".join(plan.files[e.file].name for e in mapping.files if e.role != "ignore")
    description = f"Starter config from leadcal import of {files} on {now:%Y-%m-%d}: every rule at 0 points"
    if not plan.point_in_time:
        description += "; no creation times, so not scored at a point in time"
    segment = plan.one("segment")
    return starter_config(
        con, name=name, description=description, leads_table=plan.tables[plan.leads.file],
        point_in_time=plan.point_in_time, outcome_mode=plan.outcome_mode,
        deal_value=plan.one("deal_value") is not None, segment=segment.name if segment else None,
        fit=fit, activity=[lc.name for lc in plan.by_role("activity")],
        events_table=plan.tables[plan.events[0].file] if plan.events and plan.point_in_time else None,
        missing_values=mapping.missing_values, now=now)


def _metadata(con, plan: Plan, mapping: ImportMapping, report: dict, starter: str, import_id: int,
              now: dt.datetime, name: str, files: list[str]) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {IMPORT_TABLE} (import_id INTEGER, imported_at TIMESTAMP, "
                "model VARCHAR, files VARCHAR[], tables VARCHAR[], mapping_yaml VARCHAR, report_json VARCHAR, "
                "starter_yaml VARCHAR)")
    con.execute(f"CREATE TABLE IF NOT EXISTS {COLUMNS_TABLE} (import_id INTEGER, table_name VARCHAR, "
                "column_name VARCHAR, type VARCHAR, role VARCHAR, file VARCHAR, original_name VARCHAR)")
    tables = sorted(set(plan.tables.values()))
    con.execute(f"INSERT INTO {IMPORT_TABLE} VALUES ($id, $at, $model, $files, $tables, $mapping, $report, $starter)",
                {"id": import_id, "at": now, "model": name, "files": files, "tables": tables,
                 "mapping": dump_mapping(mapping), "report": json.dumps(report, default=str), "starter": starter})
    import pyarrow as pa  # one insert of every column's row: executemany is a query per row

    cols = report["columns"]
    rows = pa.table({"import_id": pa.array([import_id] * len(cols), pa.int32()),
                     **{k: pa.array([c[k] for c in cols], pa.string())
                        for k in ("table", "column", "type", "role", "file", "original")}})
    con.register("__leadcal_columns", rows)
    try:
        con.execute(f"INSERT INTO {COLUMNS_TABLE} SELECT * FROM __leadcal_columns")
    finally:
        con.unregister("__leadcal_columns")


# --------------------------------------------------------------------------- after an import


def last_import(db: str | Path) -> dict | None:
    """The latest import recorded in a database (mapping, report, starter YAML), or None."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables, _, last = _existing(con)
        if IMPORT_TABLE not in tables:
            return None
        row = con.execute(f"SELECT imported_at, model, files, tables, mapping_yaml, report_json, starter_yaml "
                          f"FROM {IMPORT_TABLE} WHERE import_id = $id", {"id": last}).fetchall()[0]
    finally:
        con.close()
    keys = ("imported_at", "model", "files", "tables", "mapping_yaml", "report", "starter_yaml")
    out = dict(zip(keys, row))
    out["report"] = json.loads(out["report"])
    return out


def write_starter(result: ImportResult, out: str | Path, overwrite: bool = False) -> Path:
    """Write the starter config YAML (re-validated; never over an existing file unless asked)."""
    from .files import write_text_atomic

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; choose another name")
    parse_config(result.config_yaml, str(out))
    write_text_atomic(out, result.config_yaml)
    load_config(out)
    return out


def write_mapping(mapping: ImportMapping | dict, out: str | Path, overwrite: bool = False) -> Path:
    """Write a mapping YAML; file paths relative to its folder where they can be (so it moves with the data)."""
    from .files import write_text_atomic

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; choose another name")
    data = mapping_to_dict(mapping) if isinstance(mapping, ImportMapping) else json.loads(json.dumps(mapping))
    folder = out.resolve().parent
    for entry in data.get("files", []):
        path = Path(entry["file"]).resolve()
        try:
            entry["file"] = str(path.relative_to(folder))
        except ValueError:
            entry["file"] = str(path)
    text = _mapping_text(data)
    write_text_atomic(out, text)
    return out


def save_starter(store, name: str, config: ScoringConfig, note: str = "") -> tuple[object, Path | None]:
    """Save the starter config to a config store as a new version of model ``name``.

    Also writes it as the model's seed (``STORE/NAME.yaml``, the model the app compares with
    until a version is approved) when the model has none, so the Calibrate page opens on the
    imported data once the model is picked. Returns (the version, the seed path or None).
    """
    from .store import check_name

    name = check_name(name)
    version = store.save(name, config, note=note or "starter config from leadcal import")
    seed = Path(store.root) / f"{name}.yaml"
    if seed.exists():
        return version, None
    try:
        save_config(config.model_copy(update={"name": name}), seed)
    except FileExistsError:
        return version, None
    return version, seed


# --------------------------------------------------------------------------- text


def format_preview(inspection: Inspection) -> str:
    """The files as read and the proposed mapping, for `leadcal import --dry-run`."""
    lines = []
    for p in inspection.files:
        lines.append(f"{p.name}: {p.rows:,} rows, {len(p.columns)} columns ({p.format})")
        width = max(len(c.original) for c in p.columns)
        for c in p.columns:
            filled = f"{c.filled / c.rows:.0%} filled" if c.rows else ""
            sample = ", ".join(str(v) for v, _ in c.top[:4])
            extra = f"  e.g. {sample}" if sample else ""
            lines.append(f"  {c.original:<{width}} -> {c.clean:<28} {c.kind:<8} {filled:>11}{extra}")
    if inspection.notes:
        lines += ["", *inspection.notes]
    lines += ["", "# proposed mapping (edit and pass with --mapping FILE, or change it with flags):",
              _mapping_text(inspection.mapping)]
    if inspection.problems:
        lines += ["problems to fix before importing:", *[f"  - {p}" for p in inspection.problems]]
    return "\n".join(lines)


def _mapping_text(data: dict) -> str:
    import yaml

    try:
        return dump_mapping(mapping_from_dict(data))
    except DataImportError:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def outcome_sentence(outcome: dict) -> str:
    """What the imported outcome is and how many leads converted, lost or are still open."""
    o = outcome
    if o["mode"] == "converted_at":
        src = f"'{o['date']}'" + (f" where '{o['column']}' is won" if o["column"] else "")
        return (f"converted_at from {src}: {o['converted']:,} converted, "
                f"{o['not_converted']:,} not (yet) converted")
    return (f"converted (yes/no) from '{o['column'] or o['date']}': {o['converted']:,} won, "
            f"{o['not_converted']:,} lost, {o['open']:,} open (immature)")


def file_identity(path: Path) -> tuple:
    """(path, size, modification time): a cache key that changes when the file does."""
    try:
        st = path.stat()
        return str(path), st.st_size, st.st_mtime_ns
    except OSError:
        return str(path), None, None


def parse_types(text: str) -> dict[str, str]:
    """``'Zip=text, Employees=integer'`` -> {column: type}; the mapping check judges the types."""
    types = {}
    for part in filter(None, (x.strip() for x in text.split(","))):
        column, _, kind = part.rpartition("=")
        if column.strip():
            types[column.strip()] = kind.strip()
    return types


def format_types(types: dict[str, str]) -> str:
    """The text form ``parse_types`` reads."""
    return ", ".join(f"{c}={k}" for c, k in types.items())


def column_rows(profile: FileProfile) -> list[dict]:
    """One row per column of a file: clean name, type, how filled, placeholders, top values."""
    return [{"column": c.original, "clean name": c.clean, "type": c.kind,
             "filled": c.filled / c.rows if c.rows else None, "placeholders": c.placeholders,
             "unreadable": c.unreadable, "values": ", ".join(str(v) for v, _ in c.top[:5])}
            for c in profile.columns]


def drop_unset(leads: dict) -> None:
    """Remove, in place, the optional columns a leads entry sets to none (``created_at: null``
    stays: it means the data has no creation times)."""
    for key in [k for k, v in leads.items() if v is None and k != "created_at"]:
        del leads[key]


def format_report(report: dict) -> str:
    """The import report for the terminal."""
    lines = [f"imported into {report['db']}:"]
    for t in report["tables"]:
        how = f" (joined on {t['joined_on']})" if t.get("joined_on") else ""
        lines.append(f"  {t['table']:<16} {t['rows']:>10,} rows from {', '.join(t['files'])}{how}")
    o = report["outcome"]
    lines.append(f"outcome: {outcome_sentence(o)}")
    for s in o.get("stages", []):
        lines.append(f"  {str(s['value']):<30} {s['is']:<8} {s['leads']:>8,}")
    lines.append("columns (file column -> table.column type, role):")
    for c in report["columns"]:
        role = f", {c['role']}" if c["role"] else ""
        lines.append(f"  {c['file']}: '{c['original']}' -> {c['table']}.{c['column']} {c['type']}{role}")
    if report["findings"]:
        lines.append("findings:")
        lines += [f"  - {f['table']}.{f['column']}: {f['count']:,} {f['problem']} ({f['handling']})"
                  for f in report["findings"]]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


__all__ = ["DataImportError", "ImportResult", "Inspection", "check", "column_rows", "confirm", "drop_unset",
           "file_identity", "format_preview", "format_report", "format_types", "inspect_files", "last_import",
           "lead_choices", "model_name", "outcome_sentence", "parse_types", "run_import", "save_starter",
           "stage_upload", "write_mapping", "write_starter"]
