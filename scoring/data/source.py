"""Read-only access to the user's DuckDB file and checks of the column mapping.

The user's database is never written to: it is opened with ``read_only=True``, and with
DuckDB's hardening for untrusted files (no file, network or extension access; the
configuration locked; views and macros that read files refused). Table
and column names come from the user's config, so each is validated against the
catalogue and quoted; values (event types, missing markers) are bound as parameters.
No SQL is built by pasting user strings.
"""

from __future__ import annotations

import getpass
import os
import re
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..base.errors import ProblemsError
from ..model.config import IDENTIFIER, SourceMapping

NUMERIC_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL",
)  # fmt: skip


DEFAULT_MEMORY_LIMIT = "1536MB"
"""DuckDB's memory limit unless ``$LEADCAL_DUCKDB_MEMORY`` says otherwise.

1.5 GB since an account key is extracted with the leads (issue 22): the demo's default config
maps one, and at 10M leads (2M companies) 1 GB ran out of memory while the leads were held
in DuckDB's temp storage; 1.5 GB reads them in 49 s with a peak RSS of 3.7 GB (2 GB: 48 s,
4.0 GB). Without an account key the figures below hold.

DuckDB's own default is 80% of RAM, and feature extraction then holds sorts and joins
in memory next to the numpy arrays it fills. Measured on 2 cores, 23 GB RAM (demo data,
default config, dense activities then): at 10M leads 1 GB gave a peak RSS of 3.1 GB in
44 s, 2 GB 3.7 GB in 42 s, 16 GB 5.2 GB in 40 s (DuckDB spills the rest to
``temp_directory()``); at 1M leads the limit changes nothing (2.7-3.1 s either way). With
sparse activities and the quality queries first, 1 GB peaks at 2.4 GB at 10M (768 MB:
1.5 GB but 30% more CPU time). A lower peak is worth a few seconds on a first load that
happens once.
"""


_fallback_temp: Path | None = None
"""The private spill directory of this process when the default one is not private."""


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
    """An open, read-only DuckDB database (or a Parquet feature set) and what its tables hold."""

    path: Path
    con: duckdb.DuckDBPyConnection
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    """lower-case table name -> {column name as stored: type}."""
    table_names: dict[str, str] = field(default_factory=dict)
    """lower-case table name -> name as stored."""
    feature_set: bool = False
    """A folder of per-lead features from the warehouse (``scoring.feature_set``), not raw tables."""

    def column_type(self, table: str, column: str) -> str | None:
        """The stored type of a column, or None when table or column is absent."""
        cols = self.tables.get(table.lower())
        if cols is None:
            return None
        index = self.__dict__.setdefault("_lower_index", {})  # per table: lower-case name -> type, first wins
        key = (table.lower(), len(cols))
        if key not in index:
            lower: dict[str, str] = {}
            for name, data_type in cols.items():
                lower.setdefault(name.lower(), data_type)
            index[key] = lower
        return index[key].get(column.lower())

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


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a feature set: the file itself, or the folder's ``*.parquet`` (sorted)."""
    if path.is_file():
        return [path] if path.suffix.lower() == ".parquet" else []
    return sorted(p for p in path.glob("*.parquet") if p.is_file())


def is_feature_set(path: str | Path) -> bool:
    """A folder holding ``.parquet`` files, or one ``.parquet`` file: per-lead features from the warehouse."""
    path = Path(path)
    return path.exists() and bool(parquet_files(path))


def check_database_file(path: str | Path) -> Path:
    """The path, if it names a readable file (or a feature-set folder); else SourceError saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise SourceError(str(path), ["database file not found"])
    if path.is_dir():
        if is_feature_set(path):
            return path
        raise SourceError(str(path), ["is a directory without .parquet files: give a DuckDB database file, or a "
                                      "folder of Parquet features (`leadcal configs export --format features-sql`)"])
    if not path.is_file():  # a FIFO or device would block or never end
        raise SourceError(str(path), ["is not a regular file (a pipe, socket or device), not a DuckDB database"])
    if not os.access(path, os.R_OK):
        raise SourceError(str(path), ["cannot read the file (permission denied)"])
    return path


def temp_directory() -> Path:
    """Where DuckDB may spill: ``$LEADCAL_TMP``, else ``<system temp>/leadcal-duckdb-<uid>`` (mode 0700).

    DuckDB's default for a read-only database is ``<database>.tmp``, next to the user's
    file; leadcal never writes there. A default directory that exists but is not this
    user's alone (another user could read the spilled rows) is not used: a private one
    made once per process is used instead.
    """
    global _fallback_temp
    override = os.environ.get("LEADCAL_TMP")
    if override:
        return Path(override)
    user = os.getuid() if hasattr(os, "getuid") else getpass.getuser()
    path = Path(tempfile.gettempdir()) / f"leadcal-duckdb-{user}"
    path.mkdir(mode=0o700, exist_ok=True)
    if _is_private(path):
        return path
    if _fallback_temp is None:
        _fallback_temp = Path(tempfile.mkdtemp(prefix=f"leadcal-duckdb-{user}-"))
    return _fallback_temp


def _is_private(path: Path) -> bool:
    """A real directory owned by this user that nobody else may enter (always true without POSIX owners)."""
    if not hasattr(os, "getuid"):
        return True
    info = path.lstat()
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077 == 0


def memory_limit() -> str:
    """DuckDB's memory limit: ``$LEADCAL_DUCKDB_MEMORY`` (e.g. '4GB'), else DEFAULT_MEMORY_LIMIT."""
    return os.environ.get("LEADCAL_DUCKDB_MEMORY") or DEFAULT_MEMORY_LIMIT


FILE_READERS = (
    "read_text", "read_blob", "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "parquet_metadata",
    "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata", "read_json", "read_json_auto",
    "read_json_objects", "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
    "json_execute_serialized_sql", "glob", "sniff_csv", "read_xlsx", "st_read", "sqlite_scan", "sqlite_attach",
    "postgres_scan", "postgres_attach", "mysql_scan", "iceberg_scan", "delta_scan", "read_duckdb", "getenv",
    "query_table", "query",
)
"""Functions through which a view or macro stored in a database could read files, the network or
the environment. A database whose views or macros call one is refused before anything runs."""

_READS = re.compile(r"\b(" + "|".join(FILE_READERS) + r")\"?\s*\(", re.IGNORECASE)


def untrusted_config() -> dict:
    """DuckDB settings for a database file that came from elsewhere (DuckDB's "Securing DuckDB"):
    no file or network access beyond the database itself, no extension installed or loaded
    automatically (an SQLite or other file never triggers a download), community extensions
    off; spills go to ``temp_directory()`` within ``memory_limit()``. The configuration is then
    locked, so nothing stored in the file can turn these back on."""
    return {"enable_external_access": False, "autoinstall_known_extensions": False,
            "autoload_known_extensions": False, "allow_community_extensions": False,
            "temp_directory": str(temp_directory()), "memory_limit": memory_limit()}


def _file_kind(path: Path) -> str | None:
    """None for a DuckDB database file; else what the file looks like, in words."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if len(head) >= 12 and head[8:12] == b"DUCK":
        return None
    if head.startswith(b"SQLite format 3"):
        return ("an SQLite database, not a DuckDB one (export its tables to CSV or Parquet and import them "
                "with `leadcal import` or the Import data page)")
    if head.startswith(b"PAR1"):
        return "a Parquet file, not a DuckDB database (import it with `leadcal import` or the Import data page)"
    if head.startswith(b"PK"):
        return "a ZIP or Excel file, not a DuckDB database (save the sheets as CSV and import them)"
    if not head:
        return "an empty file, not a DuckDB database"
    return "not a DuckDB database file (it does not start like one)"


def connect_read_only(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only, hardened DuckDB connection to a user's database file (see :func:`untrusted_config`).

    The file's first bytes are checked before DuckDB opens it, so a file of another kind gets a
    clear message and DuckDB never looks for an extension to read it. Every connection of this
    process to a user's file uses this same configuration (DuckDB refuses a second connection
    to a file with another one).
    """
    path = check_database_file(path)
    try:
        kind = _file_kind(path)
    except OSError as exc:
        raise SourceError(str(path), [f"cannot read the file ({exc.strerror or exc})"]) from None
    if kind is not None:
        raise SourceError(str(path), [kind])
    with _connecting:  # the configuration is locked by the first connection: two at once raced to lock it
        return _connect_locked(path)


_connecting = threading.Lock()


def _connect_locked(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=True, config=untrusted_config())
    except (duckdb.Error, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "memory" in first.lower():
            raise SourceError(str(path), [f"cannot set DuckDB's memory limit {memory_limit()!r} from "
                                          f"LEADCAL_DUCKDB_MEMORY ({first})"]) from None
        if "temp" in first.lower():
            raise SourceError(str(path), [f"cannot set up DuckDB's temp directory ({first})"]) from None
        raise SourceError(str(path), [f"not a readable DuckDB database ({first})"]) from None
    try:
        if not con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:
            con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        con.close()
        raise SourceError(str(path), [f"cannot lock DuckDB's configuration ({str(exc).splitlines()[0]})"]) from None
    return con


def file_readers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Views and macros of the database that would read files, the network or the environment."""
    found = []
    for kind, name, sql in con.execute(
        "SELECT 'view', view_name, sql FROM duckdb_views() WHERE NOT internal "
        "UNION ALL SELECT 'macro', function_name, coalesce(macro_definition, '') FROM duckdb_functions() "
        "WHERE function_type IN ('macro', 'table_macro') AND NOT internal ORDER BY 1, 2"
    ).fetchall():
        calls = sorted({m.lower() for m in _READS.findall(sql or "")})
        if calls:
            found.append(f"{kind} '{name}' calls {', '.join(calls)}")
    return found


def open_source(path: str | Path) -> Source:
    """Open a DuckDB file read-only and hardened (:func:`connect_read_only`) and read its catalogue.

    A missing file is an error here, never an empty new database. A database whose views or
    macros read files is refused with their names. DuckDB spills to ``temp_directory()``
    (never next to the user's file) within ``memory_limit()``.
    """
    if is_feature_set(check_database_file(path)):
        return _open_feature_set(Path(path))
    con = connect_read_only(path)
    path = Path(path)
    try:
        readers = file_readers(con)
    except duckdb.Error as exc:
        con.close()
        raise SourceError(str(path), [f"cannot read the catalogue ({str(exc).splitlines()[0]})"]) from None
    if readers:
        con.close()
        raise SourceError(str(path), [f"{r}: leadcal does not run views or macros that read files; keep plain "
                                      "tables in the database" for r in readers])
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


def _open_feature_set(path: Path) -> Source:
    """A Parquet feature set as the view ``leadcal_features`` of an in-memory DuckDB (the files are only read)."""
    files = parquet_files(path)
    listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    try:  # our own view over the listed files needs file access; nothing else is allowed or loaded
        con = duckdb.connect(":memory:", config={**untrusted_config(), "enable_external_access": True})
    except (duckdb.Error, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(str(path), [f"cannot open DuckDB for the Parquet files ({first})"]) from None
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")  # a zoned timestamp is read as its UTC wall time
        con.execute(f"CREATE VIEW leadcal_features AS SELECT * FROM read_parquet([{listing}])")
        con.execute("SET lock_configuration = true")
        rows = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'leadcal_features' ORDER BY ordinal_position").fetchall()
    except (duckdb.Error, OSError) as exc:
        con.close()
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(str(path), [f"cannot read the Parquet files ({first})"]) from None
    return Source(path=path, con=con, tables={"leadcal_features": dict(rows)},
                  table_names={"leadcal_features": "leadcal_features"}, feature_set=True)


def is_nested_type(data_type: str) -> bool:
    """A STRUCT, LIST, MAP, UNION or fixed-size ARRAY: not one value per row."""
    t = data_type.strip().upper()
    return t.startswith(("STRUCT", "MAP", "UNION")) or t.endswith("]")


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
        elif is_nested_type(data_type):
            problems.append(
                f"column '{need.table}.{need.column}' ({need.role}) is {data_type}, a nested type; "
                "needs one text, number or yes/no value per row"
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
    if leads.account:
        needs.append(ColumnNeed(leads.table, leads.account, "any", "account key"))
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
