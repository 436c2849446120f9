"""The column mapping of an import: what each file and column is, proposed and confirmed.

A mapping is YAML (``leadcal import --dry-run`` prints the proposal, ``--save-mapping``
writes the one used, ``--mapping`` reads an edited one). Columns are named as in the
file (its header), or by their clean snake_case name::

    import_version: 1
    missing_values: ['', Select, N/A, NA, '-', 'null', None, ...]  # text meaning missing
    files:
      - file: contacts.csv            # path, or name of a FILE given on the command line
        role: leads                   # leads | events | attributes | ignore
        id: Contact ID                # unique lead id
        created_at: Create Date       # null: the data has no creation times
        outcome:                      # one of: a yes/no (or 0/1) column, a stage column, a date
          column: Lifecycle Stage     # yes/no, true/false, 1/0, or a stage (text)
          won: [Customer]             # stage values meaning won (case-insensitive)
          lost: [Disqualified]        # stage values meaning lost; any other value is open
          date: Became Customer Date  # optional: when it converted
        deal_value: Amount            # optional
        segment: Segment              # optional: a column the app can filter on
        account: Company Name         # optional: the account (company) key, for account scores
        fit: [Job Title, Industry, Employees]   # attributes scored for who the lead is
        activity: [Page Views]        # numeric activity counts (engagement rules per unit)
        types: {Zip: text}            # optional: force a column's type
                                      # (text | boolean | integer | number | time)
      - file: activities.csv
        role: events                  # one row per event
        lead_id: Contact ID
        type: Activity Type           # or `type_value: webinar` when the file is one type
        time: Activity Date
      - file: companies.parquet
        role: attributes              # joined onto the leads (one row per key)
        key: Company Name             # the key column in this file
        joins: Company                # the leads column it matches (trimmed, ignoring case)
      - file: deals.csv               # instead of the leads file's outcome: a file naming some leads
        role: outcome                 # (kept as its own table; a lead it does not name has not converted)
        lead_id: Associated Contact ID
        outcome: {column: Deal Stage, won: [closedwon], lost: [closedlost], date: Close Date}
    date_order: day-first             # only when a file's dates read both ways (no day above 12)

Fit, activity, outcome, deal value and segment may name columns of an attributes file
(after the join they are columns of the leads table); a joined column whose clean name
is taken on the leads table is called ``<table>_<name>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..model.config import format_errors
from .read import MISSING_VALUES, ColumnProfile, DataImportError, FileProfile

ROLES = ("leads", "events", "attributes", "outcome", "ignore")
ROLE_KEYS = {
    "leads": {"id", "created_at", "outcome", "deal_value", "segment", "account", "fit", "activity"},
    "events": {"lead_id", "type", "type_value", "time"},
    "attributes": {"key", "joins"},
    "outcome": {"lead_id", "outcome"},
    "ignore": set(),
}
COMMON_KEYS = {"file", "role", "table", "types"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutcomeMapping(_Model):
    """Where the outcome is: a yes/no column, a stage column, a conversion date, or a stage and a date."""

    column: str | None = None
    """A yes/no, true/false or 1/0 column, or a stage column (then ``won`` is needed)."""
    won: list[str] | None = None
    """Stage values meaning won (matched trimmed, ignoring case)."""
    lost: list[str] | None = None
    """Stage values meaning lost; values neither won nor lost are open (immature)."""
    date: str | None = None
    """When the lead converted (NULL: not converted)."""

    @model_validator(mode="after")
    def _something(self) -> "OutcomeMapping":
        if self.column is None and self.date is None:
            raise ValueError("give 'column' (yes/no or stage) and/or 'date' (conversion time)")
        if self.column is None and (self.won or self.lost):
            raise ValueError("'won' and 'lost' are values of 'column'; give the column")
        return self


class FileMapping(_Model):
    """One input file and what it is."""

    file: str
    """Path of the file, or the name of a file given on the command line."""
    role: Literal["leads", "events", "attributes", "outcome", "ignore"]
    table: str | None = None
    """Table name in the database (default: leads, events, or the file's clean name)."""
    types: dict[str, Literal["text", "boolean", "integer", "number", "time"]] = Field(default_factory=dict)
    """Force the type of a column (by original or clean name)."""
    # leads
    id: str | None = None
    created_at: str | None = None
    outcome: OutcomeMapping | None = None
    deal_value: str | None = None
    segment: str | None = None
    account: str | None = None
    """The account (company name or id) each lead belongs to."""
    fit: list[str] = Field(default_factory=list)
    activity: list[str] = Field(default_factory=list)
    # events
    lead_id: str | None = None
    type: str | None = None
    type_value: str | None = None
    time: str | None = None
    # attributes
    key: str | None = None
    joins: str | None = None

    @model_validator(mode="after")
    def _keys_of_role(self) -> "FileMapping":
        wrong = sorted(k for k in self.model_fields_set - COMMON_KEYS - ROLE_KEYS[self.role]
                       if getattr(self, k) not in (None, [], {}))
        problems = [f"'{k}' is not a key of a {self.role} file" for k in wrong]
        if self.role == "leads":
            if not self.id:
                problems.append("a leads file needs 'id' (the lead id column)")
        elif self.role == "outcome":
            missing = [k for k in ("lead_id", "outcome") if not getattr(self, k)]
            if missing:
                problems.append(f"an outcome file needs {' and '.join(repr(k) for k in missing)} (its lead id "
                                "column, and its stage or yes/no column and/or conversion date)")
        elif self.role == "events":
            missing = [k for k in ("lead_id", "time") if not getattr(self, k)]
            if missing:
                problems.append(f"an events file needs {' and '.join(repr(k) for k in missing)}")
            if (self.type is None) == (self.type_value is None):
                problems.append("an events file needs exactly one of 'type' (a column) or 'type_value' (one type)")
        elif self.role == "attributes" and not (self.key and self.joins):
            problems.append("an attributes file needs 'key' (its column) and 'joins' (the leads column)")
        if self.table is not None and not re.match(r"^[a-z_][a-z0-9_]{0,59}$", self.table):
            problems.append(f"table {self.table!r}: use lower-case letters, digits and '_'")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ImportMapping(_Model):
    """The whole mapping of an import."""

    import_version: Literal[1] = 1
    missing_values: list[str] = Field(default_factory=lambda: list(MISSING_VALUES))
    """Text values meaning missing (compared trimmed, ignoring case); they become NULL."""
    files: list[FileMapping] = Field(min_length=1)
    date_order: Literal["day-first", "month-first"] | None = None
    """How to read numeric dates whose values read both ways (every day at most 12); None:
    decided from the import's other date columns, else the import asks."""

    @model_validator(mode="after")
    def _one_leads(self) -> "ImportMapping":
        leads = [f.file for f in self.files if f.role == "leads"]
        if len(leads) != 1:
            raise ValueError(f"exactly one file must have role 'leads' (found {len(leads)}: {leads})")
        outcome_files = [f.file for f in self.files if f.role == "outcome"]
        if len(outcome_files) > 1:
            raise ValueError(f"at most one file can have role 'outcome' (found {outcome_files})")
        has_own = self.leads.outcome is not None
        if has_own and outcome_files:
            raise ValueError("the outcome is given twice: in the leads file ('outcome') and by an outcome file; "
                             "keep one")
        if not has_own and not outcome_files:
            raise ValueError("a leads file needs 'outcome' (a yes/no or stage column, or a conversion date), or "
                             "another file needs role 'outcome'")
        return self

    @property
    def outcome_file(self) -> FileMapping | None:
        """The file holding the outcome, when it is not the leads file."""
        return next((f for f in self.files if f.role == "outcome"), None)

    @property
    def leads(self) -> FileMapping:
        """The leads file's mapping."""
        return next(f for f in self.files if f.role == "leads")


def mapping_from_dict(data: object, source: str = "mapping") -> ImportMapping:
    """Validate plain data into a mapping; DataImportError lists every problem with its path."""
    if not isinstance(data, dict):
        raise DataImportError(source, ["(top level): expected a mapping with 'files'"])
    try:
        return ImportMapping.model_validate(data)
    except ValidationError as exc:
        raise DataImportError(source, format_errors(exc, data)) from None


def load_mapping(path: str | Path) -> ImportMapping:
    """Read a mapping YAML file."""
    path = Path(path)
    from ..base.yamlsafe import YamlError, load_yaml

    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataImportError(str(path), ["mapping file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataImportError(str(path), [f"cannot read the mapping ({exc})"]) from None
    except YamlError as exc:  # duplicate keys, aliases, YAML 1.1 number forms, too deep
        raise DataImportError(str(path), [str(exc)]) from None
    return mapping_from_dict(data, str(path))


def mapping_to_dict(mapping: ImportMapping) -> dict:
    """Plain data of a mapping, without empty keys."""
    data = mapping.model_dump(mode="json", exclude_none=True)
    if mapping.date_order is None:
        data.pop("date_order", None)
    for f, model in zip(data["files"], mapping.files):
        for key in ("fit", "activity", "types"):
            if not f.get(key) and key not in model.model_fields_set:
                f.pop(key, None)
        if model.role == "leads":
            f.setdefault("created_at", None)  # explicit: null means no creation times
    return data


def dump_mapping(mapping: ImportMapping) -> str:
    """YAML text of a mapping."""
    return yaml.safe_dump(mapping_to_dict(mapping), sort_keys=False, allow_unicode=True, width=100)


# --------------------------------------------------------------------------- proposal

WON = re.compile(r"\b(won|win|customer|converted|purchased|paid|signed)\b|closed[ _-]*won", re.I)
LOST = re.compile(r"\b(lost|disqualified|unqualified|rejected|dead|junk|churned|closed[ _-]*lost|no[ _-]*sale)\b"
                  r"|closed[ _-]*lost|\bdq\b|\bnot[ _-]*(converted|won)\b|\b(un|non)[ _-]?converted\b", re.I)
NAME_ID = re.compile(r"^(lead|contact|person|prospect|record|customer|user)?_?id$"
                     r"|^(lead|contact|prospect)_(id|key|number)$")
NAME_CONV_DATE = re.compile(r"convert|won|close|became_(a_)?customer|customer_since|purchase|sale_date|win")
NAME_ACCOUNT = re.compile(r"^(associated_|deal_|lead_|contact_)?(company|company_name|company_id|company_account|"
                          r"account|account_name|account_id|organi[sz]ation|organi[sz]ation_name|organi[sz]ation_id|"
                          r"org|org_name|org_id)$")
"""Names of an account key column on the leads (``company``, ``Account Name``, ``Associated Company ID``)."""
NAME_DEAL = re.compile(r"amount|deal_value|deal_size|revenue_won|value|acv|arr|mrr|contract|opportunity_amount|booking")
NAME_ACTIVITY = re.compile(r"visit|view|open|click|download|webinar|attend|session|email|call|meeting|page"
                           r"|count|number_of|^num_|_num$|total|activit|form|submission|event|login|repl|touch"
                           r"|sent|demo|trial|message|time_spent|duration")
NAME_EVENT_TYPE = re.compile(r"type|event|activity|action|kind|name|category")
NAME_EVENT_TIME = re.compile(r"time|date|_at$|when|occurred|timestamp")
MAX_CATEGORIES = 100
"""A text column with more distinct values than this is not proposed as a fit attribute."""


def won_lost_values(column: ColumnProfile) -> tuple[list[str], list[str]]:
    """Values of a stage column that look won and lost (case-insensitive patterns)."""
    won = [v for v, _ in column.top if WON.search(str(v)) and not LOST.search(str(v))]
    lost = [v for v, _ in column.top if LOST.search(str(v))]
    return won, lost


def _best(candidates: list[tuple[float, ColumnProfile]]) -> ColumnProfile | None:
    candidates = [c for c in candidates if c[0] > 0]
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


def _unique(c: ColumnProfile) -> bool:
    return c.filled > 0 and c.distinct == c.filled and c.kind in ("text", "integer")


def propose_id(columns: list[ColumnProfile]) -> ColumnProfile | None:
    """The lead id: an id-like name (unique or not: a repeated id is reported), else a unique column."""
    named = [c for c in columns if NAME_ID.search(c.clean) and c.kind in ("text", "integer")]
    if named:
        return max(named, key=lambda c: (_unique(c), c.kind == "text", "lead" in c.clean or "contact" in c.clean,
                                         -columns.index(c)))
    for c in columns:
        if _unique(c) and c.clean.endswith(("_id", "id", "email", "e_mail", "key")):
            return c
    return next((c for c in columns if _unique(c) and c.kind == "text"), None)  # numbers are rarely ids


def propose_events(profile: FileProfile, lead_id_names: set[str], lead: ColumnProfile | None = None) -> dict | None:
    """An events file: a lead id column (``lead`` when its values are known to be lead ids), an event
    type column (or one type), a time column."""
    times = [c for c in profile.columns if c.kind == "time"]
    if not times:
        return None
    time = _best([(2.0 if NAME_EVENT_TIME.search(c.clean) else 1.0, c) for c in times])
    if lead is None:
        ids = [c for c in profile.columns if c.kind in ("text", "integer") and c is not time
               and (c.clean in lead_id_names or NAME_ID.search(c.clean))]
        if not ids:
            return None
        lead = max(ids, key=lambda c: (c.clean in lead_id_names, "lead" in c.clean or "contact" in c.clean))
    types = [c for c in profile.columns if c.kind == "text" and c not in (lead, time) and 0 < c.distinct <= 200]
    kind = _best([(2.0 if NAME_EVENT_TYPE.search(c.clean) else 0.5, c) for c in types])
    if kind is None:
        return {"file": str(profile.path), "role": "events", "lead_id": lead.original,
                "type_value": profile.stem, "time": time.original}
    return {"file": str(profile.path), "role": "events", "lead_id": lead.original, "type": kind.original,
            "time": time.original}
