"""Copy a DuckDB test database into PostgreSQL and Spark, table by table, types kept.

DuckDB writes each table once as CSV (for PostgreSQL's COPY) and as Parquet (for
Spark); no row passes through Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

PG_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint", "VARCHAR": "text",
            "TIMESTAMP": "timestamp", "DATE": "date", "DOUBLE": "double precision", "FLOAT": "real",
            "BOOLEAN": "boolean"}


@dataclass(frozen=True)
class EngineData:
    """A test dataset: its DuckDB file and one Parquet file per table."""

    name: str
    db: Path
    parquet: dict[str, Path]
    """table name -> Parquet directory holding that table."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        out.setdefault(table, []).append((column, data_type))
    return out


def parquet_dump(db: Path, folder: Path) -> dict[str, Path]:
    """Each table of ``db`` as ``folder/<table>/part-0.parquet``."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for table in _tables(con):
            target = folder / table
            target.mkdir(parents=True)
            con.execute(f"COPY {_ident(table)} TO '{target / 'part-0.parquet'}' (FORMAT parquet)")
            out[table] = target
    return out


def load_postgres(pg, data: EngineData) -> None:
    """The dataset's tables in schema ``data.name`` (replaced if it exists), via CSV and COPY."""
    schema = _ident(data.name)
    pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    pg.execute(f"CREATE SCHEMA {schema}")
    with duckdb.connect(str(data.db), read_only=True) as con:
        for table, columns in _tables(con).items():
            ddl = ", ".join(f"{_ident(c)} {PG_TYPES[t]}" for c, t in columns)
            pg.execute(f"CREATE TABLE {schema}.{_ident(table)} ({ddl})")
            csv = data.parquet[table].parent.parent / f"{data.name}-{table}.csv"
            con.execute(f"COPY {_ident(table)} TO '{csv}' (FORMAT csv, HEADER false)")
            with pg.cursor() as cur, cur.copy(f"COPY {schema}.{_ident(table)} FROM STDIN (FORMAT csv)") as copy:
                with open(csv, "rb") as f:
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
            csv.unlink()
        pg.execute(f"ANALYZE")


def use_spark(spark, data: EngineData) -> None:
    """The dataset's tables as Spark temp views over their Parquet folders, replacing any of the same name.

    Temp views, not catalog tables: Spark's catalog refuses names like ``lead list``,
    and a temp view accepts them (a warehouse table with such a name is read through a
    view in Spark too). Cheap: a view is only a name for the files.
    """
    for table, folder in data.parquet.items():
        location = str(folder).replace("`", "``")
        spark.sql(f"CREATE OR REPLACE TEMP VIEW `{table.replace('`', '``')}` AS SELECT * FROM parquet.`{location}`")
