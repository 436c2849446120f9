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

from ..base.crash import crash_point
from ..data.source import Source, SourceError, quote
from ..model.config import ScoringConfig, load_config, parse_config, save_config
from .mapping import (
    NAME_ACCOUNT,
    NAME_DEAL,
    ROLES,
    ImportMapping,
    dump_mapping,
    load_mapping,
    mapping_from_dict,
    mapping_to_dict,
    propose_events,
    propose_id,
)
from .plan import LeadColumn, Plan, joined_names, match_files, resolve
from .read import (
    KINDS,
    MISSING_VALUES,
    SQL_TYPE,
    ColumnProfile,
    DataImportError,
    FileProfile,
    bind,
    check_file,
    clean_expr,
    clean_name,
    load_raw,
    new_connection,
    nz,
    prepare,
    preview_rows,
    profile_table,
    raw_quote,
    stacked,
    unreadable,
)
from .roles import (
    EVENTS_ROWS_PER_KEY,
    ColumnChoice,
    Outcome,
    creation_time,
    leads_entry,
    links,
    outcome_column,
    outcome_date,
)
from .starter import starter_config, starter_yaml

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
    reasons: list[str] = field(default_factory=list)
    """Why each file and the main columns got their role (values first, names second)."""
    columns: list[ColumnChoice] = field(default_factory=list)
    """Why each leads column got its role (fit, activity, or none)."""
    leaks: list[dict] = field(default_factory=list)
    """Columns left out as post-outcome (possible leakage), with the reason."""

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
    reasons: list[str] = field(default_factory=list)
    columns: list[ColumnChoice] = field(default_factory=list)


def _date_orders(profiles: dict[str, FileProfile], given: str | None) -> list[str]:
    """Decide the order of date columns whose values read both ways; the reasons.

    Given (``--date-order``, the mapping's ``date_order``) wins; else the order every other
    numeric date column of the import shows; else it stays undecided and ``check`` asks.
    """
    reasons = []
    shown = {c.date_order for p in profiles.values() for c in p.columns if c.kind == "time" and c.date_order}
    for p in profiles.values():
        for c in p.columns:
            if c.kind != "time":
                continue
            if c.date_ambiguous and c.date_order is None:
                if given:
                    c.set_date_order(given)
                    reasons.append(f"dates of {p.name} '{c.original}': read {given}, as given (every day and "
                                   "month in it is at most 12, so its values cannot tell)")
                elif len(shown) == 1:
                    order = next(iter(shown))
                    c.set_date_order(order)
                    reasons.append(f"dates of {p.name} '{c.original}': read {order}, as the import's other date "
                                   "columns show (its own values read both ways)")
            elif c.date_order:
                reasons.append(f"dates of {p.name} '{c.original}': {c.date_order} (values with a "
                               f"{'day' if c.date_order == 'day-first' else 'month'} first read and the other way "
                               "round do not)")
    return reasons


def undecided_dates(profiles: dict[str, FileProfile], data: dict) -> list[str]:
    """Date columns (of files not ignored) whose values read both day-first and month-first: the import asks."""
    ignored = {f.get("file") for f in data.get("files", []) if f.get("role") == "ignore"}
    out = []
    for key, p in profiles.items():
        if key in ignored:
            continue
        for c in p.columns:
            if c.kind == "time" and c.date_ambiguous and c.date_order is None:
                example = next((str(v) for v, _ in c.top[:1]), "")
                out.append(f"{p.name}: the dates of '{c.original}' read both day-first and month-first (no day above "
                           f"12{', e.g. ' + repr(example) if example else ''}); say which: --date-order "
                           "day-first|month-first (mapping: date_order)")
    return out


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
          roles: dict[str, str] | None = None, date_order: str | None = None) -> _Loaded:
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
    date_reasons = _date_orders(profiles, mapping.date_order if mapping is not None else date_order)
    if mapping is not None:
        return _Loaded(profiles, raw, mapping_to_dict(mapping), [], date_reasons)
    if types:
        unknown = [f"no file has a column '{c}'" for c in types if not any(p.column(c) for p in profiles.values())]
        unknown += [f"'{c}': type {k!r} is not one of {', '.join(KINDS)}" for c, k in types.items() if k not in KINDS]
        if unknown:
            raise DataImportError("types", unknown)
    data, notes, reasons, choices = _propose(con, profiles, raw, missing, _roles(roles or {}, profiles))
    for entry in data["files"]:  # record forced types in the mapping, per file that has the column
        forced = {c: k for c, k in (types or {}).items() if profiles[entry["file"]].column(c)}
        if forced:
            entry["types"] = forced
    if date_order:
        data["date_order"] = date_order
    return _Loaded(profiles, raw, data, notes, reasons + date_reasons, choices)


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


def _choose_leads(profiles: dict[str, FileProfile], link_map: dict, roles: dict[str, str]) -> tuple[str, str]:
    """The leads file and why: given, else the one whose unique ids cover the most other files' keys,
    then the one with an outcome of its own, then the most rows."""
    keys = list(profiles)
    given = [k for k, r in roles.items() if r == "leads"]
    if given:
        return given[0], f"{profiles[given[0]].name}: the leads file, as given"
    candidates = [k for k in keys if roles.get(k) is None]
    if not candidates:
        return keys[0], f"{profiles[keys[0]].name}: the only file without a given role"

    def strong(k: str) -> bool:
        col, _, lost, _ = outcome_column(profiles[k].columns)
        return col is not None and (col.kind == "boolean" or bool(lost))

    # a file whose unique ids another file repeats many times, where that other file has an outcome of its
    # own, is a dimension of it (accounts of opportunities), not its leads
    link_map = {k: [link for link in links_ if not (link.rows_per_key > EVENTS_ROWS_PER_KEY and strong(link.file))]
                for k, links_ in link_map.items()}

    def rank(k: str):
        own = outcome_column(profiles[k].columns)[0] is not None
        return (len(link_map[k]), own, profiles[k].rows, -keys.index(k))

    best = max(candidates, key=rank)
    p = profiles[best]
    covered = link_map[best]
    if covered:
        what = ", ".join(f"{profiles[l.file].name} ('{l.column.original}': {l.coverage:.0%} of its values)"
                         for l in covered)
        why = f"{p.name}: the leads file: its ids ('{covered[0].id_column.original}') cover the keys of {what}"
    elif len(keys) == 1:
        why = f"{p.name}: the leads file (the only file)"
    elif outcome_column(p.columns)[0] is not None:
        why = f"{p.name}: the leads file: one row per id and an outcome of its own; no other file's ids cover its keys"
    else:
        why = f"{p.name}: the leads file: no file's ids cover another's keys, and it has the most rows"
    return best, why


def _propose(con: duckdb.DuckDBPyConnection, profiles: dict[str, FileProfile], raw: dict[str, str],
             missing: list[str], roles: dict[str, str]) -> tuple[dict, list[str], list[str], list[ColumnChoice]]:
    """A proposed mapping (plain data; may lack an id or outcome), notes, why each file and the main
    columns got their role, and why each leads column got its role."""
    keys = list(profiles)
    link_map = links(con, profiles, raw)
    lead_key, why_leads = _choose_leads(profiles, link_map, roles)
    lp = profiles[lead_key]
    lead_links = {link.file: link for link in link_map[lead_key]}
    linked_ids = [link.id_column for link in lead_links.values()]
    lead_id = max(linked_ids, key=linked_ids.count) if linked_ids else propose_id(lp.columns)
    reasons = [why_leads]
    if lead_id is not None:
        reasons.append(f"lead id '{lead_id.original}': " + ("unique, and the other files' keys are its values"
                                                          if linked_ids else "unique, named like an id"))
    own_col, own_won, own_lost, own_why = outcome_column(lp.columns)
    own_date, own_date_why = outcome_date(con, lp, raw[lead_key], own_col, own_won,
                                          exclude={lead_id.original} if lead_id else set())
    own_strong = (own_col is not None and (own_col.kind == "boolean" or bool(own_lost))) or (
        own_col is None and own_date is not None)
    id_names = {"lead_id", "contact_id", "id"} | ({lead_id.clean} if lead_id else set())
    files: list[dict] = []
    notes: list[str] = []
    attrs: list[tuple[dict, FileProfile]] = []
    outcome_entry: dict | None = None
    for key in keys:
        if key == lead_key:
            continue
        p, role = profiles[key], roles.get(key)
        link = lead_links.get(key)
        if role == "ignore":
            files.append({"file": key, "role": "ignore"})
            reasons.append(f"{p.name}: ignored, as given")
            continue
        if outcome_entry is None and role in (None, "outcome") and link is not None and (
                role == "outcome" or not own_strong):
            entry = _outcome_file(con, key, p, raw[key], link)
            if entry is not None and (role == "outcome" or entry[2] or link.rows_per_key <= EVENTS_ROWS_PER_KEY):
                outcome_entry = entry[0]
                files.append(outcome_entry)
                reasons.append(entry[1])
                continue
        if role in (None, "events"):
            ev = propose_events(p, id_names, link.column if link is not None else None)
            if ev is not None and (role == "events" or (link is not None and link.rows_per_key > EVENTS_ROWS_PER_KEY)
                                   or (link is None and lead_id is not None and _looks_like_events(
                                       con, p, ev, raw[key], lead_id, raw[lead_key]))):
                files.append(ev)
                reasons.append(f"{p.name}: events: " + (f"'{link.column.original}' names lead ids, "
                                                         f"{link.rows_per_key:.1f} rows per lead, with a time"
                                                         if link is not None else "a lead id, a type and a time"))
                continue
            if role == "events":
                raise DataImportError(str(p.path), [
                    "cannot tell which columns are the lead id, event type and time (an events file needs a "
                    "lead id and a date/time column); say so in a mapping YAML (role: events, lead_id, type, time)"])
        if role == "outcome":
            raise DataImportError(str(p.path), [
                "cannot tell which column names the leads and which is the outcome (an outcome file needs a "
                "column of lead ids, and a stage or yes/no column or a date); say so in a mapping YAML "
                "(role: outcome, lead_id, outcome)"])
        n, ka, kl = _key_pair(con, p, raw[key], lp, raw[lead_key], unique_only=role is None)
        if ka is not None and (n >= max(1, 0.2 * ka.distinct) or role == "attributes" and n):
            entry = {"file": key, "role": "attributes", "key": ka.original, "joins": kl.original}
            files.append(entry)
            attrs.append((entry, p))
            reasons.append(f"{p.name}: attributes joined onto the leads: its '{ka.original}' (one row per value) "
                           f"matches {n:,} values of the leads' '{kl.original}'")
        elif role == "attributes":
            raise DataImportError(str(p.path), [
                f"no column of it shares values with a column of {lp.name}, so it cannot be joined; give 'key' "
                "and 'joins' in a mapping YAML"])
        else:
            files.append({"file": key, "role": "ignore"})
            notes.append(f"{p.name}: not an events, outcome or attributes file (no column matches a column of "
                         f"{lp.name}); it is ignored unless you give it a role")
    # joined columns are named as on the leads table after the join (as resolve() names them)
    joined: list[tuple] = []
    taken = [c.clean for c in lp.columns]
    for entry, p in attrs:
        key_col = p.column(entry["key"])
        extra = [c for c in p.columns if c is not key_col]
        names = joined_names(extra, clean_name(p.path.stem), taken)
        taken += names
        joined += list(zip(extra, names))
    outcome = None
    if outcome_entry is None and (own_col is not None or own_date is not None):
        outcome = Outcome(own_col, own_won, own_lost, own_date, own_strong,
                          "; ".join(w for w in (own_why, own_date_why) if w))
        reasons.append(f"outcome: {outcome.why}")
    elif outcome_entry is not None and own_col is not None:
        reasons.append(f"not the outcome: {own_why} (the outcome file says more)")
    outcome_sql = _outcome_date_sql(lp, lead_id, outcome, outcome_entry, profiles, raw)
    exclude = {c.original for c in (lead_id, own_date if outcome else None) if c is not None}
    created = creation_time(con, lp, raw[lead_key], outcome_sql, exclude)
    reasons.append(("creation time " + created.why) if created.column is not None else created.why)
    if created.ask:
        notes.append(created.why)
    leads, choices = leads_entry(lead_key, lp.columns, joined, lead_id, created.column, outcome, NAME_DEAL,
                                 account_names=NAME_ACCOUNT)
    if outcome_entry is not None:
        leads.pop("outcome", None)
    return ({"import_version": 1, "missing_values": list(missing), "files": [leads] + files}, notes, reasons,
            choices)


def _outcome_file(con, key: str, p: FileProfile, table: str, link) -> tuple[dict, str, bool] | None:
    """An outcome file's mapping entry, why, and whether it has a stage (None: no stage and no date)."""
    col, won, lost, why = outcome_column([c for c in p.columns if c is not link.column])
    date, date_why = outcome_date(con, p, table, col, won, exclude={link.column.original}, whole=True)
    if col is None and date is None:
        return None
    outcome = Outcome(col, won, lost, date, True, "; ".join(w for w in (why, date_why) if w))
    entry = {"file": key, "role": "outcome", "lead_id": link.column.original, "outcome": outcome.mapping()}
    named = (f"{p.name}: the outcome file: '{link.column.original}' names {link.named:,} leads "
             f"({link.coverage:.0%} of its values are lead ids); {outcome.why}; a lead it does not name has not "
             "converted")
    return entry, named, col is not None


def _outcome_date_sql(lp: FileProfile, lead_id, outcome: Outcome | None, outcome_entry: dict | None,
                      profiles: dict[str, FileProfile], raw: dict[str, str]) -> str | None:
    """SQL of each leads row's outcome date (raw alias ``r``), for the creation-time evidence; None if none."""
    if outcome is not None and outcome.date is not None:
        d = outcome.date
        return clean_expr(f"r.{raw_quote(d.original)}", d.raw_type, "time", d.time_formats)
    if outcome_entry is None or lead_id is None or "date" not in outcome_entry["outcome"]:
        return None
    op = profiles[outcome_entry["file"]]
    d, k = op.column(outcome_entry["outcome"]["date"]), op.column(outcome_entry["lead_id"])
    value = clean_expr(f"o.{raw_quote(d.original)}", d.raw_type, "time", d.time_formats)
    okey = nz(f"CAST(o.{raw_quote(k.original)} AS VARCHAR)")
    lkey = nz(f"CAST(r.{raw_quote(lead_id.original)} AS VARCHAR)")
    return f"(SELECT min({value}) FROM {raw_quote(raw[outcome_entry['file']])} AS o WHERE lower({okey}) = lower({lkey}))"


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
    if not leads.get("outcome") and not any(f.get("role") == "outcome" for f in data.get("files", [])):
        problems.append(
            f"{lp.name}: no column could be the outcome (a yes/no or 0/1 column such as 'Converted', a stage "
            f"column with won and lost values, or a conversion date); map one (--outcome COLUMN); columns: {columns}")
    return problems


def check(data: dict, profiles: dict[str, FileProfile]) -> tuple[ImportMapping | None, list[str]]:
    """A mapping (plain data) checked against the files: the mapping, or every problem."""
    problems = gaps(data, profiles) + undecided_dates(profiles, data)
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
                  roles: dict[str, str] | None = None, base: Path | None = None,
                  date_order: str | None = None) -> Inspection:
    """Read and profile the files and propose (or check) a mapping; writes nothing.

    Problems with the files (missing, unreadable) raise DataImportError; problems of the
    mapping (nothing that could be the outcome, a column that does not exist) are listed
    in ``problems`` so a page can show them next to the controls that fix them.
    """
    mapping, base = _as_mapping(mapping, base)
    con = new_connection()
    leaks: list[dict] = []
    try:
        loaded = _load(con, paths, mapping, base, missing_values, types, roles, date_order)
        if mapping is None:
            leaks = _leave_out_leaks(con, loaded)
    finally:
        con.close()
    _, problems = check(loaded.mapping, loaded.profiles)
    return Inspection(profiles=loaded.profiles, mapping=loaded.mapping, problems=problems, notes=loaded.notes,
                      reasons=loaded.reasons, columns=loaded.columns, leaks=leaks)


def _leave_out_leaks(con: duckdb.DuckDBPyConnection, loaded: _Loaded) -> list[dict]:
    """Build the proposal in the inspection's own (in-memory) connection, score it as the starter would,
    and take the columns ``scoring.analysis.leakage`` flags out of the proposed fit and activity lists.

    The proposal never offers a post-outcome column as a rule; the reasons go to the report.
    A proposal that cannot be built yet (no outcome, one class) is left as it is: ``check`` and
    the import say why.
    """
    from ..analysis.leakage import config_leaks

    final, problems = check(loaded.mapping, loaded.profiles)
    if problems:
        return []
    plan, _ = resolve(final, loaded.profiles)
    plan.raw = loaded.raw
    now = dt.datetime.now()
    try:
        _build(con, plan, {})
        config, _, _ = _starter(con, plan, final, "proposal", now)
        features = _features(con, None, config, now)
    except (DataImportError, SourceError, duckdb.Error, ValueError):
        return []
    leaks = config_leaks(config, features)
    if not leaks:
        return []
    leads = next(f for f in loaded.mapping["files"] if f["role"] == "leads")
    names = {lc.name: lc for lc in plan.lead_columns}
    out = []
    for column, leak in leaks.items():
        lc = names.get(column)
        if lc is None:
            continue
        ref = lc.profile.original if lc.joined is None else lc.name
        for key in ("fit", "activity"):
            if ref in leads.get(key, []):
                leads[key].remove(ref)
        out.append({**leak.to_dict(), "column": ref, "table_column": column})
        for choice in loaded.columns:
            if choice.column == ref:
                choice.role, choice.why = "", f"post-outcome: {leak.message.split(': ', 1)[-1]}"
    return out


def _features(con: duckdb.DuckDBPyConnection, path: Path | None, config: ScoringConfig, now: dt.datetime):
    """Features of a config on the tables of an import connection, as the app will read them."""
    from ..data.extract import extract_features

    source = Source(path=path or Path(":memory:"), con=con)
    for table, column, data_type in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_catalog = current_database() ORDER BY table_name, ordinal_position").fetchall():
        source.tables.setdefault(table.lower(), {})[column] = data_type
        source.table_names[table.lower()] = table
    return extract_features(source, config, now=now)


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
        from ..base.files import write_atomic

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
    if plan.outcome_file is not None:
        findings += _build_outcome_file(con, plan, params)
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


def _build_outcome_file(con: duckdb.DuckDBPyConnection, plan: Plan, params: dict) -> list[dict]:
    """The outcome file as its own table: its columns cleaned (lead ids as text, as on the leads table), then
    ``converted`` (won true, lost false, open NULL) and/or ``converted_at`` (the date of each win)."""
    entry = plan.outcome_file
    op = plan.files[entry.file]
    table = plan.tables[entry.file]
    o = entry.outcome
    cols = [(c.original, c.raw_type, "text" if c is plan.outcome_key else (c.kind if c.kind != "empty" else "text"),
             c.time_formats, False, c.clean) for c in op.columns]
    select = [f"{clean_expr(raw_quote(orig), t, kd, df)} AS {quote(n)}" for orig, t, kd, df, _, n in cols]
    names = plan.outcome_names
    converted = None
    if o.column is not None:
        col = op.column(o.column)
        v = nz(f"CAST({raw_quote(col.original)} AS VARCHAR)")
        if o.won or o.lost:
            params["o_won"] = [w.strip().lower() for w in o.won or []]
            params["o_lost"] = [w.strip().lower() for w in o.lost or []]
            converted = (f"CASE WHEN list_contains($o_won, lower({v})) THEN true "
                         f"WHEN list_contains($o_lost, lower({v})) THEN false END")
        else:
            converted = clean_expr(raw_quote(col.original), col.raw_type, "boolean")
    date = None
    if o.date is not None:
        d = op.column(o.date)
        date = clean_expr(raw_quote(d.original), d.raw_type, "time", d.time_formats)
    if converted is None and not plan.point_in_time:  # a date alone, no creation times: named with a date = won
        converted = f"({date} IS NOT NULL)"
    if converted is not None:
        select.append(f"{converted} AS {quote(names['converted'])}")
    if date is not None:
        select.append(f"{f'CASE WHEN {converted} THEN {date} END' if o.column is not None else date} "
                      f"AS {quote(names['converted_at'])}")
    sql = f"CREATE OR REPLACE TABLE {quote(table)} AS SELECT {', '.join(select)} FROM {raw_quote(plan.raw[entry.file])}"
    con.execute(sql, bind(sql, params))
    findings = _column_findings(con, plan, entry.file, table, cols, params)
    key = quote(plan.outcome_key.clean)
    leads_table = plan.tables[plan.leads.file]
    unknown, repeated = con.execute(
        f"SELECT count(*) FILTER (WHERE {key} IS NOT NULL AND {key} NOT IN (SELECT lead_id FROM {quote(leads_table)} "
        f"WHERE lead_id IS NOT NULL)), count({key}) - count(DISTINCT {key}) FROM {quote(table)}").fetchall()[0]
    if unknown:
        findings.append(_finding(table, plan.outcome_key.clean, unknown, f"rows of {op.name} name no lead of the "
                                 "leads file", "not counted"))
    if repeated:
        findings.append(_finding(table, plan.outcome_key.clean, repeated, f"extra rows of {op.name} for a lead "
                                 "(several deals)", "won if any is won, else open if any is open, else lost; "
                                 "the earliest win's date"))
    return findings


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
        if plan.outcome_file is not None:
            of = plan.files[plan.outcome_file.file]
            raise DataImportError(str(of.path), [
                f"the outcome from {of.name} has one class only: {yes} converted, {no} not converted "
                f"({summary['open']} open); calibrating needs both converted and not converted leads"])
        what = "outcome " + " and ".join(f"'{c.profile.original}'" for c in (outcome, date) if c is not None)
        other = "not converted" if plan.outcome_mode == "time" else "lost"
        raise DataImportError(str((outcome or date).file.path), [
            f"{what} has one class only: {yes} converted, {no} {other} ({summary['open']} open); calibrating "
            "needs both converted and not converted leads"])
    if outcome is not None and date is not None:
        (won_no_date,) = con.execute(f"SELECT count(*) FROM {quote(leads_table)} WHERE converted AND "
                                     "converted_at IS NULL").fetchall()[0]
        if won_no_date and plan.outcome_mode == "states+time":
            findings.append(_finding(leads_table, "converted_at", won_no_date,
                                     f"won leads have no conversion date ('{date.profile.original}')",
                                     "count as converted; their time is unknown, so the outcome window cannot "
                                     "place them"))
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
    if plan.outcome_file is not None:
        return _outcome_file_summary(con, plan, table)
    if plan.outcome_mode == "time":
        yes, no = con.execute(f"SELECT count(converted_at), count(*) - count(converted_at) FROM {quote(table)}"
                              ).fetchall()[0]
        open_ = None  # a date alone cannot tell open from lost
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


def _outcome_file_summary(con: duckdb.DuckDBPyConnection, plan: Plan, table: str) -> dict:
    """Per lead, as the engine reads an outcome table: won if any row is won, else open if any is open,
    else lost; a lead the file does not name has not converted."""
    entry, names = plan.outcome_file, plan.outcome_names
    op = plan.files[entry.file]
    t, key = quote(plan.tables[entry.file]), quote(plan.outcome_key.clean)
    has_col = entry.outcome.column is not None or not plan.point_in_time
    state = (f"CASE WHEN bool_or({quote(names['converted'])}) THEN true WHEN count(*) > "
             f"count({quote(names['converted'])}) THEN NULL ELSE false END" if has_col else "NULL::BOOLEAN")
    at = f"min({quote(names['converted_at'])})" if entry.outcome.date is not None else "NULL::TIMESTAMP"
    row = con.execute(
        f"WITH o AS (SELECT {key} AS k, {state} AS c, {at} AS at FROM {t} WHERE {key} IS NOT NULL GROUP BY 1) "
        "SELECT count(*) FILTER (WHERE o.c), count(*) FILTER (WHERE NOT o.c), "
        "count(*) FILTER (WHERE o.k IS NOT NULL AND o.c IS NULL), count(*) FILTER (WHERE o.k IS NULL), "
        f"count(o.at) FROM {quote(table)} AS l LEFT JOIN o ON l.lead_id = o.k WHERE l.lead_id IS NOT NULL"
    ).fetchall()[0]
    won, lost, open_, unnamed, dated = row
    summary = {"mode": plan.outcome_mode, "file": op.name,
               "column": op.column(entry.outcome.column).original if entry.outcome.column else None,
               "date": op.column(entry.outcome.date).original if entry.outcome.date else None,
               "named": won + lost + open_ if has_col else dated, "unnamed": unnamed}
    if has_col:
        summary |= {"converted": won, "not_converted": lost + unnamed, "open": open_, "lost": lost}
    else:
        summary |= {"converted": dated, "not_converted": row[3] + (won + lost + open_ - dated), "open": None}
    if entry.outcome.won or entry.outcome.lost:
        col = quote(op.column(entry.outcome.column).clean)
        rows = con.execute(f"SELECT {col}, {quote(names['converted'])}, count(*) AS n FROM {t} GROUP BY ALL "
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
        from ..data.source import SourceError, connect_read_only

        try:
            connect_read_only(target).close()  # hardened: a file of another kind never triggers a download
        except (duckdb.Error, SourceError) as exc:
            why = "; ".join(getattr(exc, "problems", None) or [str(exc).splitlines()[0]])
            raise DataImportError(str(target), [
                f"exists and is not a readable DuckDB database ({why}); choose another --db"]) from None


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
               now: dt.datetime | None = None, inspection: Inspection | None = None,
               date_order: str | None = None) -> ImportResult:
    """Import the files into ``db`` (created, or updated from a copy) atomically.

    Without a mapping the proposed one is used (``inspect_files``: roles from the values,
    post-outcome columns left out). ``inspection``: the inspection the mapping was confirmed
    from, whose reasons go into the report. Raises DataImportError naming the file and
    column at fault; the target is then exactly as it was.
    """
    mapping, base = _as_mapping(mapping, base)
    if mapping is None:
        inspection = inspect_files(paths, missing_values=missing_values, base=base, date_order=date_order)
        mapping = confirm(inspection)
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
        features = _try_config(con, temp, config, now)
        report["notes"] += config_notes
        _explain(report, loaded, inspection, config, features, plan)
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


def _explain(report: dict, loaded: _Loaded, inspection: Inspection | None, config: ScoringConfig, features,
             plan: Plan) -> None:
    """Why each file and column got its role, and the post-outcome columns (left out, or kept as mapped)."""
    from ..analysis.leakage import config_leaks

    reasons = list(inspection.reasons) if inspection is not None else []
    reasons += [r for r in loaded.reasons if r not in reasons]
    report["roles"] = reasons
    report["column_roles"] = [{"column": c.column, "role": c.role, "why": c.why}
                              for c in (inspection.columns if inspection is not None else loaded.columns)]
    left_out = [dict(x, kept=False) for x in (inspection.leaks if inspection is not None else [])]
    names = {lc.name: lc for lc in plan.lead_columns}
    kept = []
    for column, leak in config_leaks(config, features).items():
        lc = names.get(column)
        ref = column if lc is None else (lc.profile.original if lc.joined is None else lc.name)
        kept.append({**leak.to_dict(), "column": ref, "table_column": column, "kept": True})
    report["leakage"] = left_out + kept
    if left_out:
        report["notes"].append("Left out of the starter as post-outcome (possible leakage): " + "; ".join(
            x["message"] for x in left_out) + ". Map one with --fit to score it anyway.")
    if kept:
        report["notes"].append("Mapped, but looks post-outcome (possible leakage): " + "; ".join(
            x["message"] for x in kept) + ". `leadcal suggest` leaves it out unless --include.")


def _try_config(con: duckdb.DuckDBPyConnection, path: Path, config: ScoringConfig, now: dt.datetime):
    """Score the imported data with the starter config, as the app will: it must work before anything is kept."""
    try:
        return _features(con, path, config, now)
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
    if plan.outcome_file is not None:
        entry, op = plan.outcome_file, plan.files[plan.outcome_file.file]
        table = plan.tables[entry.file]
        tables.append({"table": table, "rows": op.rows, "files": [op.name], "role": "outcome",
                       "joined_on": f"{plan.outcome_key.original} = {leads_table}.lead_id"})
        columns += [{"table": table, "column": c.clean, "type": "VARCHAR" if c is plan.outcome_key else SQL_TYPE[c.kind],
                     "role": "lead_id" if c is plan.outcome_key else "", "file": op.name, "original": c.original}
                    for c in op.columns]
        src = ", ".join(f"'{x}'" for x in (entry.outcome.column, entry.outcome.date) if x)
        for derived, kind in (("converted", "BOOLEAN"), ("converted_at", "TIMESTAMP")):
            if (derived == "converted" and (entry.outcome.column or not plan.point_in_time)) or (
                    derived == "converted_at" and entry.outcome.date):
                columns.append({"table": table, "column": plan.outcome_names[derived], "type": kind,
                                "role": "outcome (derived)", "file": op.name, "original": src})
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
    if summary["mode"] != "time" and summary["open"]:
        notes.append("Open outcomes (neither won nor lost) are immature: shown, never counted as lost, whatever "
                     "their age (a config can count stale open leads as lost with outcome.open_lost_after_days; "
                     "the starter leaves it off).")
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
    outcome_table = None
    if plan.outcome_file is not None:
        o, names = plan.outcome_file.outcome, plan.outcome_names
        outcome_table = {"table": plan.tables[plan.outcome_file.file], "lead_id": plan.outcome_key.clean,
                         "converted": names["converted"] if plan.outcome_mode != "time" else None,
                         "converted_at": names["converted_at"] if o.date and plan.outcome_mode != "states" else None}
    return starter_config(
        con, name=name, description=description, leads_table=plan.tables[plan.leads.file],
        point_in_time=plan.point_in_time, outcome_mode=plan.outcome_mode, outcome_table=outcome_table,
        deal_value=plan.one("deal_value") is not None, segment=segment.name if segment else None,
        account=plan.one("account").name if plan.one("account") is not None else None,
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
    from ..data.source import connect_read_only

    con = connect_read_only(db)  # a database from elsewhere: DuckDB's hardening for untrusted files
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


def mismatch_sentence(db: str | Path, model: str, approved_ref: str, models: Sequence[str],
                      store: str | Path, in_app: bool = False) -> str:
    """One sentence saying which model does not fit which database, and how to fix it.

    For the app started with only ``LEADCAL_DB``: the model picked (the shipped default
    unless an import saved one) names tables or columns the database does not have.
    ``in_app``: the sentence is for the browser, which never names a server path (the
    database by its file name, the store as "the config store").
    """
    try:
        imported = (last_import(db) or {}).get("model") if Path(db).is_file() else None
    except (duckdb.Error, OSError, ValueError, KeyError):
        imported = None
    db_text = Path(db).name if in_app else str(db)
    store = "of this app" if in_app else store
    head = (f"Model '{model}' ({approved_ref}) does not fit the database {db_text}: it names tables or columns it "
            "does not have.")
    if imported and imported != model and imported in models:
        return (f"{head} The import into this database saved model '{imported}': pick it under Model in the "
                f"sidebar (or start the app with LEADCAL_MODEL={imported}).")
    if imported and imported != model:
        return (f"{head} The import into this database made model '{imported}', which is not in the config store "
                f"{store}: import again without --no-save-model (or with --store {store}), or point LEADCAL_STORE at "
                "the store it was saved to.")
    if imported == model:
        return (f"{head} The version of '{model}' the app compares with was made for other data: save and approve "
                f"a version that fits, or import again into a new database.")
    return (f"{head} Pick a model made for it under Model, or import your files (the Import data page, or "
            f"`leadcal import FILES --db {db_text}`), which saves a model for it.")


def write_starter(result: ImportResult, out: str | Path, overwrite: bool = False) -> Path:
    """Write the starter config YAML (re-validated; never over an existing file unless asked)."""
    from ..base.files import write_text_atomic

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; choose another name")
    parse_config(result.config_yaml, str(out))
    write_text_atomic(out, result.config_yaml)
    load_config(out)
    return out


def write_mapping(mapping: ImportMapping | dict, out: str | Path, overwrite: bool = False) -> Path:
    """Write a mapping YAML; file paths relative to its folder where they can be (so it moves with the data)."""
    from ..base.files import write_text_atomic

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
    from ..registry.store import check_name

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
    if inspection.reasons:
        lines += ["", "why (values first, names second):", *[f"  - {r}" for r in inspection.reasons]]
    if inspection.leaks:
        lines += ["left out as post-outcome (possible leakage; map with --fit to score one anyway):",
                  *[f"  - {x['message']}" for x in inspection.leaks]]
    if inspection.columns:
        lines += ["columns of the leads:", *[f"  - {c.column}: {c.role or 'not a rule'} ({c.why})"
                                             for c in inspection.columns]]
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
    where = f" of {o['file']}" if o.get("file") else ""
    unnamed = (f"; {o['unnamed']:,} leads {o['file']} does not name have not converted (counted once their outcome "
               "window has passed)") if o.get("file") else ""
    if o["mode"] == "time":
        return (f"converted_at from '{o['date']}'{where}: {o['converted']:,} converted, {o['not_converted']:,} with "
                "no conversion (not converted once their outcome window has passed)")
    src = f"'{o['column'] or o['date']}'{where}" + (f", the date of each win from '{o['date']}'"
                                                    if o["mode"] == "states+time" else "")
    lost = o.get("lost", o["not_converted"])
    return (f"won / lost / open from {src}: {o['converted']:,} won, {lost:,} lost, "
            f"{o['open']:,} open (immature, never counted lost){unnamed}")


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
    if report.get("roles"):
        lines.append("why (values first, names second):")
        lines += [f"  - {r}" for r in report["roles"]]
    for t in report["tables"]:
        how = f" (joined on {t['joined_on']})" if t.get("joined_on") else ""
        lines.append(f"  {t['table']:<16} {t['rows']:>10,} rows from {', '.join(t['files'])}{how}")
    o = report["outcome"]
    lines.append(f"outcome: {outcome_sentence(o)}")
    for s in o.get("stages", []):
        lines.append(f"  {str(s['value']):<30} {s['is']:<8} {s['leads']:>8,}")
    lines.append("columns (file column -> table.column type, role):")
    why = {c["column"]: c["why"] for c in report.get("column_roles", [])}
    for c in report["columns"]:
        role = f", {c['role']}" if c["role"] else ""
        reason = why.get(c["original"]) if c["role"] in ("fit", "activity", "") else None
        reason = f" ({reason})" if reason and reason != "chosen above" else ""
        lines.append(f"  {c['file']}: '{c['original']}' -> {c['table']}.{c['column']} {c['type']}{role}{reason}")
    if report["findings"]:
        lines.append("findings:")
        lines += [f"  - {f['table']}.{f['column']}: {f['count']:,} {f['problem']} ({f['handling']})"
                  for f in report["findings"]]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


__all__ = ["DataImportError", "ImportResult", "Inspection", "check", "column_rows", "confirm", "drop_unset",
           "file_identity", "format_preview", "format_report", "format_types", "inspect_files", "last_import",
           "lead_choices", "mismatch_sentence", "model_name", "outcome_sentence", "parse_types", "run_import", "save_starter",
           "stage_upload", "write_mapping", "write_starter"]
