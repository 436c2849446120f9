"""Validation and import are linear in their input (issue 17): time them at growing sizes.

    python -m benchmarks.linear                       # rules 1k/10k/40k, columns 250/1000/2000
    python -m benchmarks.linear --results benchmarks/RESULTS.md

- *validate*: ``load_config`` (strict YAML, then pydantic) of a config with N rules, half
  categorical fit rules, half engagement rules (what `leadcal validate` does);
- *import*: ``run_import`` of one CSV with N columns and 200 rows (an id, a creation date,
  a yes/no outcome, then numbers, text, M/D/YYYY dates and yes/no in turn), into a new
  DuckDB file: reading, profiling, the proposed mapping, the leads table, the starter
  config and its trial on the imported tables (what `leadcal import FILE --db NEW` does).

Each size runs once in this process after a warm-up at the smallest size; the ratio to
the previous size shows the growth (linear: about the size ratio; quadratic: its square).
With ``--results FILE`` the table replaces the part of FILE between
``<!-- linear:start -->`` and ``<!-- linear:end -->``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import tempfile
import time
from pathlib import Path


def config_text(rules: int) -> str:
    """A valid config with ``rules`` rules (half fit, half engagement)."""
    fit = rules // 2
    lines = ["name: big", "source:", "  events: {}", "  outcome: {table: outcomes}", "fit:"]
    lines += [f"  - {{type: categorical, column: c{i}, points: {{a: 1, b: 2}}, other: 0}}" for i in range(fit)]
    lines += ["engagement:"]
    lines += [f"  - {{event: e{i}, points: {i % 7}, cap: 5}}" for i in range(rules - fit)]
    lines += ["thresholds: {mql: 10, sql: 30}", "bands: [10, 20, 30]"]
    return "\n".join(lines) + "\n"


def wide_csv(path: Path, columns: int, rows: int = 200, seed: int = 1) -> Path:
    """A CRM-like export with ``columns`` columns."""
    rnd = random.Random(seed)
    names = ["Lead ID", "Create Date", "Won?"] + [f"Field {i}" for i in range(columns - 3)]
    out = [",".join(names)]
    for r in range(rows):
        values = [f"L{r:05d}", f"2024-01-{1 + r % 28:02d}", rnd.choice(["Yes", "No"])]
        for i in range(columns - 3):
            k = i % 4
            values.append(str(rnd.randint(0, 100)) if k == 0 else rnd.choice(["a", "b", "c"]) if k == 1
                          else f"{rnd.randint(1, 12)}/{rnd.randint(1, 28)}/2024" if k == 2
                          else rnd.choice(["Yes", "No", ""]))
        out.append(",".join(values))
    path.write_text("\n".join(out) + "\n")
    return path


def time_validate(folder: Path, rules: int) -> float:
    from scoring.model.config import load_config

    path = folder / f"rules{rules}.yaml"
    path.write_text(config_text(rules))
    start = time.perf_counter()
    config = load_config(path)
    elapsed = time.perf_counter() - start
    assert len(config.fit) + len(config.engagement) == rules
    return elapsed


def time_import(folder: Path, columns: int) -> float:
    from scoring.imports.importer import run_import

    csv = wide_csv(folder / f"wide{columns}.csv", columns)
    db = folder / f"wide{columns}.duckdb"
    start = time.perf_counter()
    run_import([csv], db)
    elapsed = time.perf_counter() - start
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:  # every column and row made it
        assert len(con.execute("DESCRIBE leads").fetchall()) == columns
        assert con.execute("SELECT count(*) FROM leads").fetchone()[0] == len(csv.read_text().splitlines()) - 1
    finally:
        con.close()
    return elapsed


def _table(title: str, unit: str, sizes: list[int], times: list[float]) -> list[str]:
    rows = [f"| {title} | seconds | per 1,000 {unit} | growth vs previous size |", "|---:|---:|---:|---|"]
    for i, (n, t) in enumerate(zip(sizes, times)):
        growth = "" if i == 0 else f"x{t / times[i - 1]:.1f} for x{n / sizes[i - 1]:.0f} {unit}"
        rows.append(f"| {n:,} | {t:.2f} | {t / n * 1000:.3f} | {growth} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, nargs="+", default=[1000, 10000, 40000])
    parser.add_argument("--columns", type=int, nargs="+", default=[250, 1000, 2000])
    parser.add_argument("--results", help="Markdown file whose linear:start/end section is replaced")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadcal-linear-") as tmp:
        folder = Path(tmp)
        time_validate(folder, min(args.rules))  # warm-up: imports, pydantic schema
        time_import(folder, 10)
        rules = [time_validate(folder, n) for n in args.rules]
        columns = [time_import(folder, n) for n in args.columns]
    try:
        load = f"{os.getloadavg()[0]:.1f}"
    except OSError:
        load = "?"
    from subprocess import run

    commit = run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
    lines = [f"Measured {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} on {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores, load average {load}, Python {platform.python_version()}; leadcal at git {commit}.",
             "", "Command: `python -m benchmarks.linear " + " ".join(
                 [*(["--rules", *map(str, args.rules)]), *(["--columns", *map(str, args.columns)])]) + "`", "",
             *_table("rules (validate)", "rules", args.rules, rules), "",
             *_table("CSV columns (import, 200 rows)", "columns", args.columns, columns)]
    text = "\n".join(lines)
    print(text)
    if args.results:
        path = Path(args.results)
        doc = path.read_text()
        start, end = "<!-- linear:start -->", "<!-- linear:end -->"
        if start in doc and end in doc:
            doc = doc[:doc.index(start) + len(start)] + "\n" + text + "\n" + doc[doc.index(end):]
        else:
            doc += f"\n## Validation and import, linear in their input (issue 17)\n\n{start}\n{text}\n{end}\n"
        path.write_text(doc)


if __name__ == "__main__":
    main()
