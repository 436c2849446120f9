"""The exported SQL at warehouse scale: Spark local mode beside DuckDB on the same data.

    python -m benchmarks.warehouse --sizes 1000000 10000000 --results benchmarks/RESULTS.md

For each size the demo database of ``benchmarks.run`` (seed 7, about 10 events per lead)
is written once more as Parquet (one folder per table). Then two queries of the shipped
``data/configs/default.yaml`` run on three engines, each writing its whole result as
Parquet (what a scheduled job does):

- ``scoring``: ``export_sql`` (fit, engagement, total score and tier per lead);
- ``features``: ``export_features_sql`` (the point-in-time features per lead);

- ``duckdb``: DuckDB on its own database file (2 threads, 8 GB memory limit);
- ``duckdb-parquet``: DuckDB over the Parquet folders (in-memory database, views);
- ``spark``: Spark local mode (``local[2]``, ``--spark-memory``) over the Parquet folders.

Times are medians of ``--repeats`` runs (the first Spark run of each query includes its
JIT warm-up and is reported apart as ``first``). Every result is checked against
DuckDB's: the same leads, and the largest score / activity difference. Spark's start-up
is reported once. Written as JSON into ``--out-dir`` and, with ``--results``, between the
``<!-- results-warehouse:start/end -->`` markers of that file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import duckdb

from benchmarks.run import OUT, ROOT, demo_db, log, machine, put_between_markers
from scoring.data.feature_set import activity_column
from scoring.export.features_sql import export_features_sql
from scoring.export.sql import export_sql
from scoring.model.config import load_config
from scoring.model.features import feature_spec

DEFAULT_CONFIG = ROOT / "data" / "configs" / "default.yaml"
TABLES = ("leads", "events", "outcomes")
DUCKDB_MEMORY = "8GB"
"""DuckDB's memory limit here (its default is 80% of RAM; Spark gets --spark-memory). At 10M
leads the scoring query ran out of memory within 4 GB (a window sort and a hash join over
100M events that do not spill far enough)."""


def parquet_tables(db: Path, out_dir: Path) -> Path:
    """The database's tables as Parquet folders under ``out_dir/parquet-<name>`` (written once)."""
    folder = out_dir / f"parquet-{db.stem}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    with duckdb.connect(str(db), read_only=True) as con:
        for table in TABLES:
            (folder / table).mkdir(parents=True)
            con.execute(f"COPY {table} TO '{folder / table / 'part-0.parquet'}' (FORMAT parquet)")
    (folder / "done").write_text("")
    return folder


def _timed(run) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def duckdb_setup(con: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    """2 threads, DUCKDB_MEMORY, spilling into ``out_dir`` (a read-only file has no spill directory of its own)."""
    spill = out_dir / "duckdb-tmp"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET threads = 2; SET memory_limit = '{DUCKDB_MEMORY}'; SET temp_directory = '{spill}'; "
                "SET preserve_insertion_order = false")


def duckdb_runs(con: duckdb.DuckDBPyConnection, sql: str, out: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        if out.exists():
            out.unlink()
        times.append(_timed(lambda: con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")))
    return times


def spark_session(memory: str, local_dir: Path):
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    local_dir.mkdir(parents=True, exist_ok=True)
    session = (SparkSession.builder.master("local[2]").appName("leadcal-benchmark")
               .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", memory).config("spark.local.dir", str(local_dir))
               .config("spark.sql.warehouse.dir", str(local_dir / "warehouse"))
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_runs(spark, parquet: Path, sql: str, out: Path, repeats: int) -> list[float]:
    for table in TABLES:
        spark.sql(f"CREATE OR REPLACE TEMP VIEW `{table}` AS SELECT * FROM parquet.`{parquet / table}`")
    times = []
    for _ in range(repeats):
        times.append(_timed(lambda: spark.sql(sql).write.mode("overwrite").parquet(str(out))))
    return times


def compare(reference: Path, other: Path, key: str, values: list[str]) -> dict:
    """Leads in both results and the largest absolute difference of ``values``, by DuckDB."""
    def source(p: Path) -> str:
        return f"read_parquet('{p}/*.parquet')" if p.is_dir() else f"read_parquet('{p}')"

    diffs = ", ".join(f"max(abs(a.{v} - b.{v}))" for v in values)
    with duckdb.connect() as con:
        ((n_a,),) = con.execute(f"SELECT count(*) FROM {source(reference)}").fetchall()
        ((n_b,),) = con.execute(f"SELECT count(*) FROM {source(other)}").fetchall()
        row = con.execute(f"SELECT count(*), {diffs} FROM {source(reference)} a JOIN {source(other)} b "
                          f"USING ({key})").fetchall()[0]
    worst = max((d for d in row[1:] if d is not None), default=0.0)
    return {"rows_ref": n_a, "rows": n_b, "matched": row[0], "max_diff": worst}


def measure(leads: int, repeats: int, spark_repeats: int, memory: str, out_dir: Path, spark) -> dict:
    db, _ = demo_db(leads, out_dir)
    parquet = parquet_tables(db, out_dir)
    config = load_config(DEFAULT_CONFIG)
    with duckdb.connect(str(db), read_only=True) as con:
        ((events,),) = con.execute("SELECT count(*) FROM events").fetchall()
    queries = {"scoring": (export_sql(config, "duckdb"), export_sql(config, "spark"), "lead_id",
                           ["fit_score", "engagement_score", "score"]),
               "features": (export_features_sql(config, "duckdb"), export_features_sql(config, "spark"),
                            "leadcal_lead_id", [activity_column(s) for s in feature_spec(config).signals])}
    rows = []
    work = out_dir / f"warehouse-{leads}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name, (duck_sql, spark_sql, key, values) in queries.items():
        ref = work / f"{name}-duckdb.parquet"
        log(f"{leads:,} {name}: duckdb")
        with duckdb.connect(str(db), read_only=True) as con:
            duckdb_setup(con, out_dir)
            t = duckdb_runs(con, duck_sql, ref, repeats)
        rows.append({"leads": leads, "events": events, "query": name, "engine": "duckdb", "first_s": t[0],
                     "median_s": statistics.median(t), "runs": len(t), "check": None})
        log(f"{leads:,} {name}: duckdb-parquet")
        with duckdb.connect() as con:
            duckdb_setup(con, out_dir)
            for table in TABLES:
                con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{parquet / table}/*.parquet')")
            out = work / f"{name}-duckdb-parquet.parquet"
            t = duckdb_runs(con, duck_sql, out, repeats)
        rows.append({"leads": leads, "events": events, "query": name, "engine": "duckdb-parquet", "first_s": t[0],
                     "median_s": statistics.median(t), "runs": len(t), "check": compare(ref, out, key, values)})
        if spark is not None:
            log(f"{leads:,} {name}: spark")
            out = work / f"{name}-spark"
            t = spark_runs(spark, parquet, spark_sql, out, spark_repeats)
            rows.append({"leads": leads, "events": events, "query": name, "engine": "spark", "first_s": t[0],
                         "median_s": statistics.median(t[1:] or t), "runs": len(t),
                         "check": compare(ref, out, key, values)})
    shutil.rmtree(work, ignore_errors=True)
    return {"leads": leads, "events": events, "rows": rows}


def markdown(sizes: list[dict], info: dict, spark_start: float | None, spark_memory: str) -> str:
    lines = [f"Measured {info['date']} at `{info['git']}` on {info['cpu']} ({info['cores']} cores, "
             f"{info['ram_gib']} GiB), load average before the run {info['load']}; DuckDB "
             f"{info['libs']['duckdb']} (2 threads, {DUCKDB_MEMORY}), Spark {info.get('spark', '-')} local[2] with {spark_memory} driver "
             f"memory (start-up {spark_start:.1f} s, not counted)." if spark_start is not None else "",
             "", "| leads | events | query | engine | time (s) | first run (s) | leads/s | checked against DuckDB |",
             "|---:|---:|---|---|---:|---:|---:|---|"]
    for size in sizes:
        for r in size["rows"]:
            check = r["check"]
            if check is None:
                text = "reference"
            else:
                same = check["rows"] == check["rows_ref"] == check["matched"]
                text = (f"{'same' if same else 'DIFFERENT'} {check['matched']:,} leads, max diff "
                        f"{check['max_diff']:.1e}")
            runs = f" (median of {r['runs'] - 1})" if r["engine"] == "spark" and r["runs"] > 1 else (
                f" (median of {r['runs']})" if r["runs"] > 1 else "")
            lines.append(f"| {r['leads']:,} | {r['events']:,} | {r['query']} | {r['engine']} | "
                         f"{r['median_s']:.2f}{runs} | {r['first_s']:.2f} | {r['leads'] / r['median_s']:,.0f} | {text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="DuckDB runs per query (median)")
    parser.add_argument("--spark-repeats", type=int, default=3,
                        help="Spark runs per query: the first is reported apart, the median is of the others")
    parser.add_argument("--spark-memory", default="6g", help="Spark driver memory (local mode runs in the driver)")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    parser.add_argument("--results", type=Path, help="Markdown file whose warehouse section to replace")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="only render saved warehouse-*.json results together (no measuring)")
    args = parser.parse_args(argv)

    if args.render:
        saved = [json.loads(p.read_text()) for p in args.render]
        text = "\n".join(markdown(s["sizes"], s["machine"], s["spark_start_s"], s.get("spark_memory", "6g"))
                         for s in saved)
        print(text)
        if args.results:
            put_between_markers(args.results, text, "warehouse")
        return 0

    info = machine()
    info["load"] = f"{os.getloadavg()[0]:.2f}"
    spark, spark_start = None, None
    if not args.skip_spark:
        t = time.perf_counter()
        spark = spark_session(args.spark_memory, args.out_dir / "spark-local")
        spark_start = time.perf_counter() - t
        info["spark"] = spark.version
    try:
        sizes = [measure(n, args.repeats, args.spark_repeats, args.spark_memory, args.out_dir, spark)
                 for n in args.sizes]
    finally:
        if spark is not None:
            spark.stop()
    text = markdown(sizes, info, spark_start, args.spark_memory)
    print(text)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out_dir / f"warehouse-{stamp}.json").write_text(json.dumps({"machine": info, "sizes": sizes,
                                                                      "spark_start_s": spark_start,
                                                                      "spark_memory": args.spark_memory}, default=str))
    if args.results:
        put_between_markers(args.results, text, "warehouse")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
