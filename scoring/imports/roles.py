"""Roles from the values first, names second: which file is the leads, which column is what.

Part of ``leadcal import`` (see ``scoring.imports.importer``). Every choice comes with a reason in
words, for the import report:

- **files by keys**: the leads file is the one whose unique ids cover the other files'
  keys; a file naming a subset of those ids with a stage or a date is an outcome file
  (when the leads file has no outcome of its own), one that names them many times with a
  time is an events file, one keyed on values of a leads column is an attributes file;
- **the outcome date by values**: with a won / lost / open column, the date filled on the
  won rows (and least on the others); alone, a date named like a conversion;
- **the creation time by evidence**: a time column filled on (nearly) every row and
  before the outcome date wherever both exist; common CRM names are a second hint;
- **columns by values**: ids, constants, free text and near-unique text are never rules;
  whole numbers from 0 named like an activity are activity counts; other numbers (scores,
  rates, sizes) are numeric fit attributes, binned; yes/no flags and a few categories
  are categorical fit attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from .mapping import MAX_CATEGORIES, NAME_ACTIVITY, NAME_CONV_DATE, won_lost_values
from .read import ColumnProfile, FileProfile, bool_expr, clean_expr, nz, raw_quote, stacked

LINK_SHARE = 0.8
"""A column links to the leads when at least this share of its distinct values are lead ids."""
EVENTS_ROWS_PER_KEY = 1.5
"""A linked file with more rows per lead than this (and a time) is an events file."""
CREATED_FILLED = 0.95
"""A creation time is filled on at least this share of the rows..."""
CREATED_BEFORE = 0.98
"""...and is at or before the outcome date on at least this share of the rows that have both."""
NEAR_UNIQUE = 0.9
"""Text with at least this many distinct values per filled row is an id, a name or an e-mail."""
FREE_TEXT_LENGTH = 40
"""Text longer than this on average, with many values, is free text (notes, descriptions)."""
NAME_CREATED_HINT = re.compile(
    r"creat|sign_?up|first_seen|first_contact|date_added|added_(on|at|date)|registered|submitted|became_a_lead"
    r"|lead_date|inquiry|^date$|optin|opt_in_time|confirm_time|entered")
"""Creation-time names of HubSpot (Create Date), Salesforce (Created Date), Pipedrive (Deal created),
Zoho (Created Time), Dynamics (Created On), Marketo (Created At, Date Created), Mailchimp (OPTIN_TIME,
CONFIRM_TIME): a second hint after the values."""
NAME_PERSONAL = re.compile(r"(^|_)(first|last|full)?_?name$|e_?mail$|^email|phone|mobile|fax|url|website|linkedin"
                           r"|address|street|zip|postal|post_code|description|notes?$|comment")
"""Personal data and free-text fields: never a rule, whatever the values (a second hint)."""
NAME_NOT_ACTIVITY = re.compile(r"(^|_)(score|index|rating|grade|rank|employees?|revenue|size|amount|value|price|age"
                               r"|years?)($|_)")
"""Counts of what a lead is, not of what it did (employees, a score): numeric attributes."""


@dataclass
class Link:
    """A column of another file whose values are (mostly) ids of a candidate leads file."""

    file: str
    column: ColumnProfile
    id_column: ColumnProfile
    coverage: float
    """Share of the column's distinct values that are ids of the leads file."""
    named: int
    """Distinct lead ids the column names."""
    rows: int
    """Rows of the other file with a value in the column."""

    @property
    def rows_per_key(self) -> float:
        return self.rows / self.named if self.named else 0.0


def _unique(c: ColumnProfile) -> bool:
    return c.filled > 0 and c.distinct == c.filled and c.kind in ("text", "integer")


def links(con: duckdb.DuckDBPyConnection, profiles: dict[str, FileProfile],
          raw: dict[str, str]) -> dict[str, list[Link]]:
    """For every file: the columns of the other files whose values are its unique ids (coverage >= 0.8)."""
    out: dict[str, list[Link]] = {k: [] for k in profiles}
    for a_key, ap in profiles.items():
        ids = [c for c in ap.columns if _unique(c)]
        if not ids:
            continue
        for b_key, bp in profiles.items():
            if b_key == a_key:
                continue
            cols = [c for c in bp.columns if c.kind in ("text", "integer") and c.filled]
            if not cols:
                continue
            a = stacked(raw[a_key], [(i, c.original, c.raw_type) for i, c in enumerate(ids)])
            b = stacked(raw[b_key], [(j, c.original, c.raw_type) for j, c in enumerate(cols)])
            rows = con.execute(
                f"SELECT b.i, a.i, count(*) FROM (SELECT DISTINCT i, lower(v) AS k FROM {b} WHERE v IS NOT NULL) b "
                f"JOIN (SELECT DISTINCT i, lower(v) AS k FROM {a} WHERE v IS NOT NULL) a USING (k) "
                "GROUP BY ALL").fetchall()
            for j, i, n in rows:
                col = cols[j]
                coverage = n / col.distinct if col.distinct else 0.0
                if coverage >= LINK_SHARE and n >= 1:
                    out[a_key].append(Link(b_key, col, ids[i], coverage, n, col.filled))
    for key in out:  # per other file, its best column only
        best: dict[str, Link] = {}
        for link in out[key]:
            have = best.get(link.file)
            if have is None or (link.named, link.coverage) > (have.named, have.coverage):
                best[link.file] = link
        out[key] = list(best.values())
    return out


# --------------------------------------------------------------------------- the outcome


@dataclass
class Outcome:
    """A proposed outcome: a yes/no or stage column and/or a date, and how sure we are."""

    column: ColumnProfile | None
    won: list[str] | None
    lost: list[str] | None
    date: ColumnProfile | None
    strong: bool
    """A yes/no column, a stage with won and lost values, or a conversion date; weak: a stage with
    won values only (e.g. a lifecycle stage where every other lead is open forever)."""
    why: str

    def mapping(self, ref=lambda c: c.original) -> dict:
        return {k: v for k, v in {"column": ref(self.column) if self.column else None, "won": self.won,
                                  "lost": self.lost, "date": ref(self.date) if self.date else None}.items()
                if v is not None}


NAME_OUTCOME_FLAG = re.compile(r"convert|(^|_)won($|_)|is_won|closed_won|became_customer|customer|outcome|result"
                               r"|success|purchased|^sale$|deal_won|^won$|is_customer|win")
NAME_STAGE = re.compile(r"stage|status|lifecycle|outcome|result|disposition")


def outcome_column(columns: list[ColumnProfile]) -> tuple[ColumnProfile | None, list | None, list | None, str]:
    """The yes/no or stage column of an outcome, its won and lost values, and why (None when there is none).

    A yes/no column needs an outcome name (a flag like 'Do Not Email' is an attribute). A
    stage is text with a few values of which some look won; with lost values too, or with a
    stage-like name.
    """
    flags = [c for c in columns if c.kind == "boolean" and NAME_OUTCOME_FLAG.search(c.clean)]
    if flags:
        c = flags[0]
        return c, None, None, f"'{c.original}': yes/no values, named like an outcome"
    scored = []
    for c in columns:
        if c.kind != "text" or c.distinct > 50:
            continue
        won, lost = won_lost_values(c)
        if won and (lost or NAME_STAGE.search(c.clean)):
            scored.append(((1 if lost else 0, 1 if NAME_STAGE.search(c.clean) else 0, -columns.index(c)), c, won, lost))
    if not scored:
        return None, None, None, ""
    _, c, won, lost = max(scored, key=lambda s: s[0])
    why = (f"'{c.original}': a stage with won values ({', '.join(map(str, won[:3]))})"
           + (f" and lost values ({', '.join(map(str, lost[:3]))}); other values are open" if lost
              else "; no value looks lost, so every other lead would stay open"))
    return c, won, lost, why


def won_mask_sql(column: ColumnProfile, won: list | None, alias: str = "") -> str:
    """SQL: the row is won (a yes/no column true, or a stage value listed as won)."""
    v = nz(f"CAST({alias}{raw_quote(column.original)} AS VARCHAR)")
    if not won:
        return f"coalesce({bool_expr(v)}, false)"
    values = ", ".join("'" + str(w).strip().lower().replace("'", "''") + "'" for w in won)
    return f"coalesce(lower({v}) IN ({values}), false)"


def outcome_date(con: duckdb.DuckDBPyConnection, profile: FileProfile, table: str, column: ColumnProfile | None,
                 won: list | None, exclude: set[str] = frozenset(),
                 whole: bool = False) -> tuple[ColumnProfile | None, str]:
    """The conversion date: with a won / lost / open column, the time column filled on (nearly) every won
    row and least on the others (a close date, a won time); alone, a time column named like a conversion
    and filled on part of the rows (``whole``: an outcome file, where every row may be a conversion, and
    its only date is the conversion date)."""
    times = [c for c in profile.columns if c.kind == "time" and c.original not in exclude]
    if not times:
        return None, ""
    if column is None:
        named = [c for c in times if NAME_CONV_DATE.search(c.clean) and not NAME_CREATED_HINT.search(c.clean)
                 and (whole or c.filled < profile.rows)]
        if not named and whole and len(times) == 1:
            named = times
        if not named:
            return None, ""
        c = max(named, key=lambda c: ("convert" in c.clean or "won" in c.clean, -times.index(c)))
        return c, (f"'{c.original}': filled on {c.filled / profile.rows:.0%} of rows, "
                   + ("named like a conversion date" if NAME_CONV_DATE.search(c.clean) else "its only date"))
    won_sql = won_mask_sql(column, won)
    fills = ", ".join(f"count({raw_quote(c.original)}) FILTER (WHERE w), count({raw_quote(c.original)}) "
                      f"FILTER (WHERE NOT w)" for c in times)
    row = con.execute(f"SELECT count(*) FILTER (WHERE w), count(*) FILTER (WHERE NOT w), {fills} FROM "
                      f"(SELECT *, {won_sql} AS w FROM {raw_quote(table)})").fetchall()[0]
    n_won, n_other = row[0], row[1]
    if not n_won:
        return None, ""
    scored = []
    for k, c in enumerate(times):
        on_won, on_other = row[2 + 2 * k] / n_won, (row[3 + 2 * k] / n_other if n_other else 0.0)
        named = bool(NAME_CONV_DATE.search(c.clean)) and not NAME_CREATED_HINT.search(c.clean)
        if NAME_CREATED_HINT.search(c.clean):
            continue  # a creation date is never the date of a win
        if on_won >= 0.9 and (on_other <= 0.5 or named):  # a date of every row is not a win's date by itself
            scored.append(((-round(on_other / 0.05), bool(NAME_CONV_DATE.search(c.clean)),
                            not NAME_CREATED_HINT.search(c.clean), -k), c, on_won, on_other))
    if not scored:
        return None, ""
    _, c, on_won, on_other = max(scored, key=lambda s: s[0])
    return c, (f"'{c.original}': filled on {on_won:.0%} of the won rows and {on_other:.0%} of the others: "
               "the date of each win")


# --------------------------------------------------------------------------- the creation time


@dataclass
class Created:
    column: ColumnProfile | None
    why: str
    ask: bool = False
    """No column qualified although the file has time columns: the report asks for one."""


def creation_time(con: duckdb.DuckDBPyConnection, profile: FileProfile, table: str,
                  outcome_sql: str | None, exclude: set[str] = frozenset()) -> Created:
    """The creation time by evidence: filled on (nearly) every row, at or before the outcome date wherever
    both exist, and the earliest of the qualifying dates; a creation-like name is a second hint.

    ``outcome_sql``: an SQL expression of the outcome date per row of ``table`` (raw alias ``r``), or
    None when there is none.
    """
    times = [c for c in profile.columns if c.kind == "time" and c.original not in exclude]
    if not times:
        return Created(None, "no date/time column: the data has no creation times")
    exprs = [clean_expr(f"r.{raw_quote(c.original)}", c.raw_type, "time", c.time_formats) for c in times]
    parts = [f"count({e})" for e in exprs]
    if outcome_sql is not None:
        parts += [f"count(*) FILTER (WHERE {e} IS NOT NULL AND ({outcome_sql}) IS NOT NULL)" for e in exprs]
        parts += [f"count(*) FILTER (WHERE {e} <= ({outcome_sql}))" for e in exprs]
    # for each pair: rows where one is at or before the other (the earliest date is the creation)
    pairs = [(i, j) for i in range(len(times)) for j in range(len(times)) if i != j]
    parts += [f"count(*) FILTER (WHERE {exprs[i]} <= {exprs[j]})" for i, j in pairs]
    parts += [f"count(*) FILTER (WHERE {exprs[i]} IS NOT NULL AND {exprs[j]} IS NOT NULL)" for i, j in pairs]
    row = con.execute(f"SELECT count(*), {', '.join(parts)} FROM {raw_quote(table)} AS r").fetchall()[0]
    rows, k = row[0], len(times)
    filled = row[1:1 + k]
    both = row[1 + k:1 + 2 * k] if outcome_sql is not None else [0] * k
    before = row[1 + 2 * k:1 + 3 * k] if outcome_sql is not None else [0] * k
    rest = row[1 + (3 if outcome_sql is not None else 1) * k:]
    le, pair_both = rest[:len(pairs)], rest[len(pairs):]
    earliest = []
    for i in range(k):
        shares = [le[p] / pair_both[p] for p, (a, b) in enumerate(pairs) if a == i and pair_both[p]]
        earliest.append(min(shares) if shares else 1.0)
    candidates, partial = [], []
    for i, c in enumerate(times):
        share = filled[i] / rows if rows else 0.0
        ok_before = both[i] == 0 or before[i] / both[i] >= CREATED_BEFORE
        named = bool(NAME_CREATED_HINT.search(c.clean))
        if share >= CREATED_FILLED and ok_before:
            candidates.append(((named, round(earliest[i], 2), share, -i), c, share, both[i], before[i], named))
        elif named and ok_before and share >= 0.5:
            partial.append(((share, -i), c, share))
    if not candidates and partial:
        _, c, share = max(partial, key=lambda s: s[0])
        return Created(c, f"'{c.original}': named like a creation time and before the outcome date, but filled on "
                          f"only {share:.0%} of rows: the leads without it are left out of scoring (reported)")
    if candidates:
        _, c, share, n_both, n_before, named = max(candidates, key=lambda s: s[0])
        why = f"'{c.original}': filled on {share:.0%} of rows"
        if n_both:
            why += f", at or before the outcome date on {n_before / n_both:.0%} of the {n_both:,} rows with both"
        others = [t.original for t in times if t is not c]
        if others:
            why += f", the earliest of the dates ({', '.join(repr(o) for o in others[:3])})"
        why += ", named like a creation time" if named else " (its name says nothing: chosen by its values)"
        return Created(c, why)
    return Created(None, "no date/time column is filled on nearly every row and before the outcome date "
                         f"({', '.join(repr(t.original) for t in times)} checked): the data is imported without "
                         "creation times; give one with --created COLUMN if one of them is", ask=True)


# --------------------------------------------------------------------------- columns


def column_role(c: ColumnProfile) -> tuple[str, str]:
    """('fit' | 'activity' | '', why) of a leads column from its values, then its name.

    Never a rule: empty columns, dates, constants, near-unique text or numbers (ids, names,
    e-mails), free text, text with more than ``MAX_CATEGORIES`` values, personal fields.
    """
    if c.filled == 0:
        return "", "empty"
    if c.kind == "time":
        return "", "a date/time"
    if c.distinct <= 1:
        value = f" ({c.top[0][0]!r})" if c.top else ""
        return "", f"constant: one value{value} in every filled row"
    if c.kind == "boolean":
        return "fit", "a yes/no flag"
    if c.kind == "text":
        if c.filled >= 20 and c.distinct >= NEAR_UNIQUE * c.filled:
            return "", f"near-unique text ({c.distinct:,} values in {c.filled:,} rows): an id, a name or an e-mail"
        if NAME_PERSONAL.search(c.clean):
            return "", "personal data or free text (by its name)"
        if c.avg_length > FREE_TEXT_LENGTH and c.distinct > 0.2 * c.filled:
            return "", f"free text (values {c.avg_length:.0f} characters long on average)"
        if c.distinct > MAX_CATEGORIES or (c.filled >= 50 and c.distinct > 0.5 * c.filled):
            return "", f"too many values ({c.distinct:,}) for a category"
        return "fit", f"a category ({c.distinct} values)"
    if c.kind in ("integer", "number"):
        if c.kind == "integer" and c.filled >= 20 and c.distinct == c.filled:
            return "", "unique whole numbers: an id"
        count = c.kind == "integer" and c.minimum == 0
        if count and NAME_ACTIVITY.search(c.clean) and not NAME_NOT_ACTIVITY.search(c.clean):
            return "activity", "a count (whole numbers from 0) named like an activity: points per unit"
        if count:
            return "fit", "a count, not named like an activity: a numeric attribute, binned"
        what = "decimals" if c.kind == "number" else f"whole numbers from {c.minimum:g}"
        return "fit", f"a score or measure ({what}): a numeric attribute, binned"
    return "", f"{c.kind}"


# --------------------------------------------------------------------------- the leads entry


@dataclass
class ColumnChoice:
    """Why a leads column got its role (or none), for the import report."""

    column: str
    """Its name in the mapping (the header, or its name on the leads table when joined)."""
    role: str
    why: str


def leads_entry(file: str, columns: list[ColumnProfile], joined: list[tuple[ColumnProfile, str]],
                lead_id: ColumnProfile | None, created: ColumnProfile | None, outcome: Outcome | None,
                deal_names, segment_name: str = "segment",
                account_names=None) -> tuple[dict, list[ColumnChoice]]:
    """The proposed mapping (plain data) of the leads file, and why each column got its role.

    ``joined``: (column, its name on the leads table) of attribute files joined onto the leads.
    """
    refs = {id(c): c.original for c in columns} | {id(c): name for c, name in joined}
    universe = list(columns) + [c for c, _ in joined]

    def ref(c: ColumnProfile | None) -> str | None:
        return None if c is None else refs[id(c)]

    used = {id(c) for c in (outcome.column, outcome.date) if c is not None} if outcome else set()
    deal = next((c for c in universe if c.kind in ("integer", "number") and deal_names.search(c.clean)
                 and id(c) not in used and c is not lead_id), None)
    segment = next((c for c in universe if c.clean == segment_name and c.kind in ("text", "boolean")), None)
    account = next((c for c in universe if account_names is not None and account_names.search(c.clean)
                    and c.kind in ("text", "integer") and 0 < c.distinct < c.filled  # leads share an account
                    and c is not lead_id and id(c) not in used), None)
    fixed = {id(lead_id): "id", id(created): "created_at", id(deal): "deal_value", id(segment): "segment",
             id(account): "account"}
    if outcome:
        fixed |= {id(c): r for c, r in ((outcome.column, "outcome"), (outcome.date, "outcome date")) if c is not None}
    fit, activity, choices = [], [], []
    for c in universe:
        if c is None:
            continue
        if id(c) in fixed:
            choices.append(ColumnChoice(ref(c), fixed[id(c)], "chosen above"))
            continue
        role, why = column_role(c)
        (fit if role == "fit" else activity if role == "activity" else []).append(c)
        choices.append(ColumnChoice(ref(c), role, why))
    data: dict = {"file": file, "role": "leads"}
    if lead_id is not None:
        data["id"] = ref(lead_id)
    data["created_at"] = ref(created)
    if outcome is not None:
        data["outcome"] = outcome.mapping(ref)
    if deal is not None:
        data["deal_value"] = ref(deal)
    if segment is not None:
        data["segment"] = ref(segment)
    if account is not None:
        data["account"] = ref(account)
    data["fit"] = [ref(c) for c in fit]
    data["activity"] = [ref(c) for c in activity]
    return data, choices
