"""From files and a mapping to a plan: every column of every output table, resolved and checked.

Part of ``leadcal import`` (see ``scoring.imports.importer``). Resolving a mapping finds each
named column in its file (by the header as written, its clean name, or ignoring case
and spaces), checks that it can play its role (a creation time must read as dates, an
activity as numbers, ...) and names the output columns. Every problem is collected, so
the user fixes a mapping in one go; each names the file, the key and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .mapping import FileMapping, ImportMapping
from .read import ColumnProfile, FileProfile, clean_name, unique_names

RESERVED_TABLES = ("leadcal_import", "leadcal_columns")
CANONICAL = ("lead_id", "created_at", "converted", "converted_at", "deal_value")
"""Names the mapped columns of the leads table get, whatever they were called in the file."""
KIND_WORDS = {"time": "a date/time", "integer": "a whole number", "number": "a number", "boolean": "yes/no",
              "text": "text", "empty": "empty (every value missing)"}


@dataclass
class LeadColumn:
    """A column of the leads table: from the leads file, or joined from an attributes file."""

    profile: ColumnProfile
    file: FileProfile
    joined: FileMapping | None
    """The attributes file it comes from, or None for the leads file."""
    name: str
    """Its (unique) clean name on the leads table."""
    role: str = ""
    """id, created_at, deal_value, segment, account, fit, activity, outcome, outcome_date, join, or ''."""
    kind: str = ""
    """The type it is stored as."""

    @property
    def where(self) -> str:
        """'file.csv' column 'Original', for messages."""
        return f"column '{self.profile.original}' of {self.file.name}"


@dataclass
class Plan:
    """A resolved mapping: tables, columns, roles and kinds; built by ``scoring.imports.importer``."""

    mapping: ImportMapping
    files: dict[str, FileProfile]
    """mapping file key -> its profile."""
    leads: FileMapping
    lead_columns: list[LeadColumn]
    events: list[FileMapping]
    attributes: list[FileMapping]
    outcome_column: LeadColumn | None = None
    outcome_date: LeadColumn | None = None
    stage: bool = False
    """The outcome column is a stage (text with won/lost values), not a yes/no."""
    tables: dict[str, str] = field(default_factory=dict)
    """mapping file key -> output table name."""
    outcome_file: FileMapping | None = None
    """The file holding the outcome, when it is not the leads file (kept as its own table)."""
    outcome_key: ColumnProfile | None = None
    """Its column of lead ids."""
    outcome_names: dict[str, str] = field(default_factory=dict)
    """'converted' / 'converted_at' -> the derived column's name in the outcome file's table."""
    raw: dict[str, str] = field(default_factory=dict)
    """mapping file key -> the raw TEMP table it was read into (set by the importer)."""

    def by_role(self, role: str) -> list[LeadColumn]:
        """Lead columns with this role, in order."""
        return [c for c in self.lead_columns if c.role == role]

    def one(self, role: str) -> LeadColumn | None:
        """The lead column with this role, if any."""
        found = self.by_role(role)
        return found[0] if found else None

    @property
    def point_in_time(self) -> bool:
        """Whether the leads have a creation time."""
        return self.one("created_at") is not None

    @property
    def outcome_mode(self) -> str:
        """How the starter config reads the outcome: 'time' (a conversion date alone: converted within
        the window or not), 'states' (``converted``: won, lost, or open), or 'states+time' (both: won
        with its date, lost, open)."""
        if self.outcome_file is not None:
            column = self.outcome_file.outcome.column is not None
            if not column:
                return "time" if self.point_in_time else "states"
            return "states+time" if self.outcome_file.outcome.date and self.point_in_time else "states"
        if self.outcome_column is None:
            return "time" if self.outcome_date is not None and self.point_in_time else "states"
        return "states+time" if self.outcome_date is not None and self.point_in_time else "states"


def match_files(mapping: ImportMapping, paths: list[Path], base: Path | None) -> tuple[dict[str, Path], list[str]]:
    """The path of each mapping entry: a given FILE with that path or name, else the entry's own path."""
    found: dict[str, Path] = {}
    problems = []
    for entry in mapping.files:
        want = Path(entry.file)
        hit = [p for p in paths if p == want or p.resolve() == want.resolve()] or \
              [p for p in paths if p.name == want.name]
        if len(hit) > 1:
            problems.append(f"mapping file '{entry.file}' matches several given files: {[str(p) for p in hit]}")
        elif hit:
            found[entry.file] = hit[0]
        elif not paths:
            found[entry.file] = want if want.is_absolute() or base is None else base / want
        else:
            problems.append(f"mapping names file '{entry.file}', which is not among the files given "
                            f"({', '.join(p.name for p in paths)})")
    return found, problems


def joined_names(columns: list[ColumnProfile], table: str, taken: list[str]) -> list[str]:
    """Names of an attributes file's columns on the leads table: clean, or ``<table>_<clean>`` when taken."""
    wanted = [c.clean if c.clean not in taken else f"{table}_{c.clean}" for c in columns]
    return unique_names(wanted, taken)


def _columns_text(profile: FileProfile) -> str:
    names = ", ".join(f"'{c.original}'" for c in profile.columns[:40])
    more = f" and {len(profile.columns) - 40} more" if len(profile.columns) > 40 else ""
    return names + more


def resolve(mapping: ImportMapping, profiles: dict[str, FileProfile]) -> tuple[Plan | None, list[str]]:
    """Check a mapping against the files' columns; the plan, or every problem found."""
    problems: list[str] = []
    leads = mapping.leads
    attributes = [f for f in mapping.files if f.role == "attributes"]
    events = [f for f in mapping.files if f.role == "events"]
    lp = profiles[leads.file]

    def find(profile: FileProfile, ref: str | None, key: str) -> ColumnProfile | None:
        if ref is None:
            return None
        col = profile.column(ref)
        if col is None:
            problems.append(f"{profile.name} has no column '{ref}' ({key}); its columns: {_columns_text(profile)}")
        return col

    # tables
    tables: dict[str, str] = {}
    for entry in mapping.files:
        if entry.role == "ignore":
            continue
        default = {"leads": "leads", "events": "events"}.get(entry.role) or clean_name(profiles[entry.file].path.stem)
        if entry.role == "outcome" and default in ("leads", "events"):
            default = f"{default}_outcome"
        tables[entry.file] = entry.table or default
    names = [t for f, t in tables.items() if next(e for e in mapping.files if e.file == f).role != "events"]
    names += sorted({tables[e.file] for e in events})
    for t in sorted({t for t in names if names.count(t) > 1 or t in RESERVED_TABLES}):
        problems.append(f"table name '{t}' is used twice or reserved; give the files different 'table' names")
    if len({tables[e.file] for e in events}) > 1:
        problems.append("all events files go into one events table; give them the same 'table' (or none)")

    # types forced by the mapping must name existing columns
    for entry in mapping.files:
        for ref in entry.types:
            find(profiles[entry.file], ref, "types")

    # the leads table: the leads file's columns, then joined attribute columns
    lead_columns = [LeadColumn(c, lp, None, c.clean) for c in lp.columns]
    for entry in attributes:
        ap = profiles[entry.file]
        key = find(ap, entry.key, "key")
        target = find(lp, entry.joins, "joins")
        if target is not None:
            next(lc for lc in lead_columns if lc.profile is target).role = "join"
        extra = [c for c in ap.columns if c is not key]
        for c, name in zip(extra, joined_names(extra, tables[entry.file], [lc.name for lc in lead_columns])):
            lead_columns.append(LeadColumn(c, ap, entry, name))

    own_columns: dict[int, LeadColumn] = {}  # the leads file's columns by profile: one lookup per mapped name
    for lc in lead_columns:
        if lc.joined is None:
            own_columns.setdefault(id(lc.profile), lc)

    def lead(ref: str | None, key: str) -> LeadColumn | None:
        """A leads-table column: the leads file first, then joined columns (by original or final name)."""
        if ref is None:
            return None
        own = lp.column(ref)
        if own is not None and id(own) in own_columns:
            return own_columns[id(own)]
        for test in (lambda lc: lc.name == ref,
                     lambda lc: lc.joined is not None and lc.profile.original == ref,
                     lambda lc: lc.joined is not None and lc.profile is lc.file.column(ref)):
            hit = [lc for lc in lead_columns if test(lc)]
            if hit:
                return hit[0]
        joined = [profiles[a.file].name for a in attributes]
        also = f" (or the joined files {', '.join(joined)})" if joined else ""
        problems.append(f"{lp.name}{also} has no column '{ref}' ({key}); its columns: {_columns_text(lp)}")
        return None

    def assign(lc: LeadColumn | None, role: str, key: str, kinds: tuple[str, ...], store: str | None = None,
               hint: str = "") -> None:
        if lc is None:
            return
        if lc.role and lc.role != "join":
            problems.append(f"{lc.where} is mapped twice ({lc.role} and {key}); map each column once")
            return
        if lc.profile.kind not in kinds:
            problems.append(f"{lc.where} ({key}) is {KIND_WORDS[lc.profile.kind]}, needs "
                            f"{' or '.join(KIND_WORDS[k] for k in kinds)}" + (hint or _hint(lc.profile, kinds)))
            return
        lc.role = role
        lc.kind = store or lc.profile.kind

    id_col = lead(leads.id, "id")
    if id_col is not None and id_col.joined is not None:
        problems.append(f"the lead id ('{leads.id}') must be a column of the leads file {lp.name}")
    assign(id_col, "id", "id", ("text", "integer", "number"), "text")
    assign(lead(leads.created_at, "created_at"), "created_at", "created_at", ("time",))
    assign(lead(leads.deal_value, "deal_value"), "deal_value", "deal_value", ("integer", "number"), "number")
    seg = lead(leads.segment, "segment")
    assign(seg, "segment", "segment", ("text", "boolean", "integer", "number"))
    assign(lead(leads.account, "account"), "account", "account", ("text", "integer", "number"), "text")
    out = leads.outcome
    stage = bool(out and (out.won or out.lost))
    outcome_column = lead(out.column, "outcome.column") if out else None
    outcome_date = lead(out.date, "outcome.date") if out else None
    if outcome_column is not None:
        kinds = ("text", "boolean", "integer", "number") if stage else ("boolean",)
        assign(outcome_column, "outcome", "outcome.column", kinds, "text" if stage else "boolean",
               _stage_hint(outcome_column.profile) if outcome_column.profile.kind == "text" else "")
    assign(outcome_date, "outcome_date", "outcome.date", ("time",))
    if out and stage and not out.won:
        problems.append(f"outcome.won: list the values of '{out.column}' that mean won")
    for ref in leads.activity:
        lc = lead(ref, "activity")
        if lc is not None:
            kind = "integer" if lc.profile.kind in ("integer", "boolean") else "number"
            assign(lc, "activity", f"activity '{ref}'", ("integer", "number", "boolean"), kind)
    for ref in leads.fit:
        lc = lead(ref, "fit")
        if lc is not None:
            assign(lc, "fit", f"fit '{ref}'", ("text", "boolean", "integer", "number"))
    for lc in lead_columns:
        if not lc.kind:
            lc.kind = lc.profile.kind if lc.profile.kind != "empty" else "text"

    # canonical names for the mapped columns; the rest keep their clean names (made unique)
    rename = {"id": "lead_id", "created_at": "created_at", "deal_value": "deal_value"}
    if outcome_column is not None and not stage:
        rename["outcome"] = "converted"
    if outcome_date is not None and outcome_column is None:
        rename["outcome_date"] = "converted_at"
    canonical = []
    for lc in lead_columns:
        if lc.role in rename:
            lc.name = rename[lc.role]
            canonical.append(lc.name)
    others = [lc for lc in lead_columns if lc.role not in rename]
    derived = [n for n in ("converted", "converted_at") if n not in canonical]
    for lc, name in zip(others, unique_names([lc.name for lc in others], canonical + derived)):
        lc.name = name

    # an outcome file: its lead ids, its stage or yes/no column and/or date, derived column names
    outcome_file = mapping.outcome_file
    outcome_key, outcome_names = None, {}
    if outcome_file is not None:
        op = profiles[outcome_file.file]
        outcome_key = find(op, outcome_file.lead_id, "lead_id")
        if outcome_key is not None and outcome_key.kind not in ("text", "integer", "number"):
            problems.append(f"column '{outcome_key.original}' of {op.name} (lead_id) is {KIND_WORDS[outcome_key.kind]}, "
                            "needs lead ids (text or whole numbers)")
        o = outcome_file.outcome
        col = find(op, o.column, "outcome.column")
        stage_file = bool(o.won or o.lost)
        if col is not None and col.kind not in (("text", "boolean", "integer", "number") if stage_file
                                                else ("boolean",)):
            problems.append(f"column '{col.original}' of {op.name} (outcome.column) is {KIND_WORDS[col.kind]}, needs "
                            + ("a stage" if stage_file else "yes/no") + (_stage_hint(col) if col.kind == "text" else ""))
        if stage_file and not o.won:
            problems.append(f"outcome.won: list the values of '{o.column}' that mean won")
        date = find(op, o.date, "outcome.date")
        if date is not None and date.kind != "time":
            problems.append(f"column '{date.original}' of {op.name} (outcome.date) is {KIND_WORDS[date.kind]}, needs "
                            f"a date/time" + _hint(date, ("time",)))
        taken = [c.clean for c in op.columns]
        derived = unique_names(["converted", "converted_at"], taken)
        outcome_names = {"converted": derived[0], "converted_at": derived[1]}

    # events files
    for entry in events:
        ep = profiles[entry.file]
        for key, kinds in (("lead_id", ("text", "integer", "number")), ("type", ("text", "boolean", "integer")),
                           ("time", ("time",))):
            col = find(ep, getattr(entry, key), key)
            if col is not None and col.kind not in kinds:
                problems.append(f"column '{col.original}' of {ep.name} ({key}) is {KIND_WORDS[col.kind]}, needs "
                                f"{' or '.join(KIND_WORDS[k] for k in kinds)}" + _hint(col, kinds))
    if problems:
        return None, problems
    return Plan(mapping=mapping, files=profiles, leads=leads, lead_columns=lead_columns, events=events,
                attributes=attributes, outcome_column=outcome_column, outcome_date=outcome_date, stage=stage,
                tables=tables, outcome_file=outcome_file, outcome_key=outcome_key, outcome_names=outcome_names), []


def _hint(profile: ColumnProfile, kinds: tuple[str, ...]) -> str:
    examples = profile.examples_unreadable or [str(v) for v, _ in profile.top[:3]]
    hint = f" (values such as {', '.join(repr(e) for e in examples[:3])})" if examples else ""
    if "time" in kinds:
        hint += (f"; if these are dates, force the type (mapping: types: {{'{profile.original}': time}}, "
                 f"command line: --type '{profile.original}=time')")
    return hint


def _stage_hint(profile: ColumnProfile) -> str:
    values = ", ".join(repr(v) for v, _ in profile.top[:8])
    return (f"; if it is a stage, say which values are won (and lost): outcome.won / outcome.lost in a mapping, "
            f"--won / --lost on the command line (values: {values})")
