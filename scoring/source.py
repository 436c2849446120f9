"""Read-only access to the user's DuckDB file and checks of the column mapping.

The user's database is never written to: it is opened with ``read_only=True``. Table
and column names come from the user's config, so each is validated against the
catalogue and quoted; values (event types, missing markers) are bound as parameters.
No SQL is built by pasting user strings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .config import IDENTIFIER, SourceMapping
from .errors import ProblemsError


NUMERIC_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL",
)  # fmt: skip


class SourceError(ProblemsError):
    """The database cannot be used with this mapping; ``problems`` lists every reason."""

    topic = "with the data"


def quote(name: str) -> str:
    """Quote an identifier for DuckDB after checking it is one we allow."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a usable table or column name")
    return '"' + name.replace('"', '""') + '"'


def is_time_type(data_type: str) -> bool:
    """True for DuckDB date and timestamp types."""
    return data_type.upper().startswith(("TIMESTAMP", "DATE"))


def is_numeric_type(data_type: str) -> bool:
    """True for DuckDB integer, float and decimal types."""
    t = data_type.upper()
    return t in NUMERIC_TYPES or t.startswith("DECIMAL")


@dataclass(frozen=True)
class ColumnNeed:
    """A column the config needs: where, and what kind of values."""

    table: str
    column: str
    kind: str  # 'any' | 'time' | 'numeric' | 'flag'
    role: str  # what it is for, for messages


@dataclass
class Source:
    """An open, read-only DuckDB database and what its tables hold."""

    path: Path
    con: duckdb.DuckDBPyConnection
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    """lower-case table name -> {column name as stored: type}."""
    table_names: dict[str, str] = field(default_factory=dict)
    """lower-case table name -> name as stored."""

    def column_type(self, table: str, column: str) -> str | None:
        """The stored type of a column, or None when table or column is absent."""
        cols = self.tables.get(table.lower())
        if cols is None:
            return None
        for name, data_type in cols.items():
            if name.lower() == column.lower():
                return data_type
        return None

    def fingerprint(self) -> dict:
        """File identity, for caches and approval records."""
        st = self.path.stat()
        return {"path": str(self.path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_database_file(path: str | Path) -> Path:
    """The path, if it names a readable file; else SourceError saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise SourceError(str(path), ["database file not found"])
    if path.is_dir():
        raise SourceError(str(path), ["is a directory, not a DuckDB database file"])
    if not os.access(path, os.R_OK):
        raise SourceError(str(path), ["cannot read the file (permission denied)"])
    return path


def open_source(path: str | Path) -> Source:
    """Open a DuckDB file read-only and read its catalogue.

    A missing file is an error here, never an empty new database.
    """
    path = check_database_file(path)
    try:
        con = duckdb.connect(str(path), read_only=True)
        con.execute("SET enable_progress_bar = false")  # no progress bars on stdout
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(str(path), [f"not a readable DuckDB database ({first})"]) from None
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    names: dict[str, str] = {}
    for table, column, data_type in rows:
        tables.setdefault(table.lower(), {})[column] = data_type
        names[table.lower()] = table
    return Source(path=path, con=con, tables=tables, table_names=names)


def check_columns(source: Source, needs: list[ColumnNeed]) -> None:
    """Raise SourceError naming every missing table/column and unusable type at once."""
    problems: list[str] = []
    missing_tables: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for need in needs:
        if (need.table.lower(), need.column.lower()) in seen:
            continue
        seen.add((need.table.lower(), need.column.lower()))
        if source.tables.get(need.table.lower()) is None:
            if need.table.lower() not in missing_tables:
                missing_tables.add(need.table.lower())
                have = ", ".join(sorted(source.table_names.values())) or "none"
                problems.append(f"table '{need.table}' ({need.role}) not found; tables present: {have}")
            continue
        data_type = source.column_type(need.table, need.column)
        if data_type is None:
            have = ", ".join(source.tables[need.table.lower()])
            problems.append(
                f"column '{need.column}' ({need.role}) not found in table '{need.table}'; "
                f"columns present: {have}"
            )
        elif need.kind == "time" and not is_time_type(data_type):
            problems.append(
                f"column '{need.table}.{need.column}' ({need.role}) is {data_type}, "
                "needs a DATE or TIMESTAMP (convert it, or load the file with `leadcal import`)"
            )
        elif need.kind == "flag" and not (data_type.upper() == "BOOLEAN" or is_numeric_type(data_type)):
            problems.append(
                f"column '{need.table}.{need.column}' ({need.role}) is {data_type}, needs BOOLEAN or 0/1 "
                "(load the file with `leadcal import`, which reads Yes/No, True/False and stages)"
            )
        elif need.kind == "numeric" and not is_numeric_type(data_type):
            problems.append(
                f"column '{need.table}.{need.column}' ({need.role}) is {data_type}, needs a number"
            )
    if problems:
        raise SourceError(str(source.path), problems)


def mapping_needs(mapping: SourceMapping) -> list[ColumnNeed]:
    """The columns the mapping itself names (ids, times, outcome)."""
    leads = mapping.leads
    needs = [ColumnNeed(leads.table, leads.id, "any", "lead id")]
    if leads.created_at is not None:
        needs.append(ColumnNeed(leads.table, leads.created_at, "time", "lead creation time"))
    if leads.segment:
        needs.append(ColumnNeed(leads.table, leads.segment, "any", "segment"))
    if mapping.events is not None:
        ev = mapping.events
        needs += [
            ColumnNeed(ev.table, ev.lead_id, "any", "event lead id"),
            ColumnNeed(ev.table, ev.type, "any", "event type"),
            ColumnNeed(ev.table, ev.time, "time", "event time"),
        ]
    out = mapping.outcome
    out_table = out.table or leads.table
    if out.table:
        needs.append(ColumnNeed(out_table, out.lead_id, "any", "outcome lead id"))
    if out.converted_at is not None:
        needs.append(ColumnNeed(out_table, out.converted_at, "time", "conversion time"))
    else:
        needs.append(ColumnNeed(out_table, out.converted, "flag", "converted yes/no"))
    if out.deal_value:
        needs.append(ColumnNeed(out_table, out.deal_value, "numeric", "deal value"))
    return needs
