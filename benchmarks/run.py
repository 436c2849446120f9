"""leadcal benchmarks: slider latency and memory from 50k to 10M leads, against plain SQL.

    python -m benchmarks.run --sizes 50000 1000000 10000000 --repeats 7 --results benchmarks/RESULTS.md

For each size the demo database is generated once into ``benchmarks/out/`` (seeded, about
10 events per lead; generation runs in its own process and is not timed as part of any
metric). Then, each in a fresh process so that peak memory is per size:

core process (``--child core``), on the shipped ``data/configs/default.yaml``:
  - ``load_s``        first load: ``open_source`` + ``extract_features`` (median of
                      ``--load-repeats``; ``load_cold_s`` is the first one in the process);
  - ``points_ms``     ``calibrate.model_view`` (scores + band table + AUC/KS + KPIs) after
                      a points change on demo_request (a rule for 8% of leads: only those
                      leads are scored again, ``scoring.model.rescore``), a new value each run;
  - ``points_dense_ms`` the same on email_open (65% of leads: scored from scratch);
  - ``threshold_ms``  the same after a threshold change (MQL 30, 31, ...);
  - ``full_ms``       ``rescore.full``: the same result scored from scratch, no reuse;
  - ``view_ms``       ``calibrate.calibration_view`` (draft vs the cached approved view:
                      what the page computes per rerun, without rendering);
  - ``decay_s``       a decay change: ``features.derive_features`` (the decayed sums from the
                      events kept by the first load) + ``model_view``;
  - ``sql_ms``        a hand-written DuckDB query computing the same band table from the
                      same feature arrays (registered zero-copy via pyarrow); the band
                      table it returns must equal leadcal's exactly (``sql_equal``);
  - peak RSS (``ru_maxrss``) after the load, after all leadcal work, and after the SQL.
app process (``--child apptest``, skipped with ``--skip-apptest``):
  - ``rerun_points_ms`` / ``rerun_threshold_ms``: server-side rerun of the Calibrate page
    (Streamlit AppTest) after a slider move, and that process's own peak RSS.

Times are medians over ``--repeats`` runs (``--load-repeats`` for load and decay, which
take seconds). The machine description, a table and the targets of issue 8 are printed,
written as JSON and Markdown into ``--out-dir``, and, with ``--results FILE``, put
between the ``<!-- results:start -->`` / ``<!-- results:end -->`` markers of FILE.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scoring.model.metrics import BandRow

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
DEFAULT_CONFIG = ROOT / "data" / "configs" / "default.yaml"
SEED = 7

# Targets of issue 8 on the 2-core benchmark machine: (metric, leads, limit, unit).
TARGETS = [
    ("points_ms", 1_000_000, 30.0, "ms"),
    ("points_dense_ms", 1_000_000, 30.0, "ms"),
    ("threshold_ms", 1_000_000, 30.0, "ms"),
    ("points_ms", 10_000_000, 250.0, "ms"),
    ("points_dense_ms", 10_000_000, 250.0, "ms"),
    ("threshold_ms", 10_000_000, 250.0, "ms"),
    ("points_over_sql", 1_000_000, 1 / 3, "x"),
    ("threshold_over_sql", 1_000_000, 1 / 3, "x"),
    ("points_over_sql", 10_000_000, 1 / 3, "x"),
    ("points_dense_over_sql", 1_000_000, 1 / 3, "x"),
    ("points_dense_over_sql", 10_000_000, 1 / 3, "x"),
    ("threshold_over_sql", 10_000_000, 1 / 3, "x"),
    ("decay_s", 1_000_000, 2.0, "s"),
    ("load_s", 1_000_000, 10.0, "s"),
    ("rerun_points_ms", 1_000_000, 500.0, "ms"),
    ("rerun_threshold_ms", 1_000_000, 500.0, "ms"),
    ("peak_rss_mb", 10_000_000, 3072.0, "MB"),
]

CORE_METRICS = ["load_s", "load_cold_s", "points_ms", "points_dense_ms", "threshold_ms", "full_ms", "view_ms", "decay_s", "sql_ms", "features_mb", "events_mb", "rescore_alloc_mb",
                "rss_after_load_mb", "peak_rss_mb", "peak_rss_with_sql_mb"]
APP_METRICS = ["rerun_points_ms", "rerun_threshold_ms", "app_first_run_s", "app_peak_rss_mb"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rss_peak_mb() -> float:
    """Peak resident set of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


# --------------------------------------------------------------------------- demo data


def demo_db(leads: int, out_dir: Path = OUT) -> tuple[Path, float | None]:
    """The demo database of this size (generated once, in its own process); generation seconds."""
    path = out_dir / f"demo-{leads}.duckdb"
    from scoring.data.demo import is_current

    if path.exists() and is_current(path):  # one made by an older generator is made again
        return path, None
    out_dir.mkdir(parents=True, exist_ok=True)
    log(f"generating {leads:,} demo leads into {path} ...")
    t = time.perf_counter()
    code = ("import sys; from scoring.data.demo import generate; "
            f"generate(sys.argv[1], leads={leads}, seed={SEED})")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=ROOT)
    return path, time.perf_counter() - t


# --------------------------------------------------------------------------- configs


def variant(config, **changes):
    """A copy of a config with changes applied to its plain-data form (validated again)."""
    from scoring.model.config import config_from_dict, config_to_dict

    data = config_to_dict(config)
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        last = keys[-1]
        node[int(last) if last.isdigit() else last] = value
    return config_from_dict(data)


def rule_index(config, event: str) -> int:
    return next(i for i, r in enumerate(config.engagement) if event in r.events)


# --------------------------------------------------------------------------- SQL baseline


def _lit(x: float) -> str:
    """A DOUBLE literal that DuckDB parses to exactly this float."""
    r = repr(float(x))
    return r if "e" in r else r + "e0"


def _clip_sql(expr: str, cap) -> str:
    if cap is None:
        return expr
    if cap.min is not None:
        expr = f"greatest({expr}, {_lit(cap.min)})"
    if cap.max is not None:
        expr = f"least({expr}, {_lit(cap.max)})"
    return expr


def baseline_table(config, features):
    """The features a config reads as one Arrow table (zero-copy for the numeric arrays)."""
    import numpy as np
    import pyarrow as pa

    from scoring.model.features import rule_signal_key

    if config.segments:
        raise NotImplementedError("the SQL baseline covers configs without segments")
    cols = {"mature": pa.array(features.mature),
            "converted": pa.array(np.asarray(features.converted) & np.asarray(features.mature))}
    for rule in config.fit:
        if rule.type == "categorical":
            cols["c_" + rule.column] = pa.array(features.categorical[rule.column].codes)
        else:
            cols["n_" + rule.column] = pa.array(features.numeric[rule.column])
    for i, rule in enumerate(config.engagement):
        key = rule_signal_key(config, rule)
        raw = features.numeric[key[4:]] if key.startswith("col:") else features.signals[key].dense()
        cols[f"e{i}"] = pa.array(raw)
    return pa.table(cols)


def baseline_sql(config, features, z: float) -> str:
    """Hand-written SQL: points per rule, caps, total, band, then the band table columns.

    Written from the config's meaning (README), not from the engine's code: categorical
    points by a CASE on the dictionary code (values matched ignoring case and spaces),
    numeric bins as ranges [min, max), engagement as points x activity capped per rule,
    caps on the parts and the total, band = number of cut points at or below the score.
    """
    from scoring.model.config import normalise_value

    fit_terms = []
    for rule in config.fit:
        if rule.type == "categorical":
            points = {normalise_value(k): v for k, v in rule.points.items()}
            cats = features.categorical[rule.column].categories
            whens = " ".join(f"WHEN {i} THEN {_lit(points.get(normalise_value(v), rule.other))}"
                             for i, v in enumerate(cats))
            fit_terms.append(f"(CASE c_{rule.column} WHEN -1 THEN {_lit(rule.missing)} {whens} "
                             f"ELSE {_lit(rule.other)} END)")
        else:
            x = f"n_{rule.column}"
            whens = []
            for b in rule.bins:
                conds = ([f"{x} >= {_lit(b.min)}"] if b.min is not None else []) + \
                        ([f"{x} < {_lit(b.max)}"] if b.max is not None else [])
                whens.append(f"WHEN {' AND '.join(conds) or 'TRUE'} THEN {_lit(b.points)}")
            fit_terms.append(f"(CASE WHEN {x} IS NULL OR isnan({x}) THEN {_lit(rule.missing)} "
                             f"{' '.join(whens)} ELSE {_lit(rule.other)} END)")
    eng_terms = []
    for i, rule in enumerate(config.engagement):
        act = f"e{i}" if rule.column is None else f"(CASE WHEN isnan(e{i}) THEN 0.0e0 ELSE e{i} END)"
        term = f"({act} * {_lit(rule.points)})"
        if rule.cap is not None:
            term = f"least(greatest({term}, {_lit(-rule.cap)}), {_lit(rule.cap)})"
        eng_terms.append(term)
    fit = _clip_sql("(" + " + ".join(["0.0e0"] + fit_terms) + ")", config.caps.fit)
    eng = _clip_sql("(" + " + ".join(["0.0e0"] + eng_terms) + ")", config.caps.engagement)
    total = _clip_sql(f"({fit} + {eng})", config.caps.total)
    band = " + ".join(["0"] + [f"(total >= {_lit(c)})::INTEGER" for c in config.bands])
    k = len(config.bands) + 1
    return f"""
WITH scored AS (SELECT mature, converted, {total} AS total FROM feats),
banded AS (SELECT mature, converted, {band} AS band FROM scored),
counts AS (
  SELECT band, count(*) FILTER (WHERE mature) AS leads,
         count(*) FILTER (WHERE converted) AS conversions,
         count(*) FILTER (WHERE NOT mature) AS immature
  FROM banded GROUP BY band),
bands AS (
  SELECT r.range AS band, coalesce(leads, 0) AS leads, coalesce(conversions, 0) AS conversions,
         coalesce(immature, 0) AS immature
  FROM range(0, {k}) r LEFT JOIN counts c ON c.band = r.range),
tot AS (SELECT sum(leads)::DOUBLE AS tl, sum(conversions)::DOUBLE AS tc FROM bands),
w AS (
  SELECT b.*, tot.tl, tot.tc, b.conversions::DOUBLE AS k, b.leads::DOUBLE AS n,
         CASE WHEN b.leads > 0 THEN b.conversions::DOUBLE / b.leads::DOUBLE END AS rate,
         sum(b.conversions) OVER (ORDER BY b.band DESC ROWS UNBOUNDED PRECEDING)::DOUBLE AS conv_above
  FROM bands b, tot),
wil AS (
  SELECT *, k / n AS p, 1 + $z * $z / n AS denom FROM w),
wil2 AS (
  SELECT *, (p + $z * $z / (2 * n)) / denom AS centre,
         $z * sqrt(p * (1 - p) / n + $z * $z / (4 * n * n)) / denom AS half FROM wil)
SELECT band, leads, conversions, immature, rate,
  CASE WHEN n > 0 THEN (CASE WHEN k = 0 THEN 0.0 ELSE least(greatest(centre - half, 0), 1) END) END AS ci_low,
  CASE WHEN n > 0 THEN (CASE WHEN k = n THEN 1.0 ELSE least(greatest(centre + half, 0), 1) END) END AS ci_high,
  CASE WHEN tl > 0 AND tc > 0 THEN rate / (tc / tl) END AS lift,
  CASE WHEN tl > 0 THEN n / tl END AS share,
  CASE WHEN tc > 0 THEN conv_above / tc END AS capture
FROM wil2 ORDER BY band
"""


def baseline_rows(con, sql: str, config, z: float) -> list[BandRow]:
    """Run the baseline and shape its rows like ``metrics.band_table``'s."""
    from scoring.model.metrics import SMALL_BAND, BandRow, band_bounds, band_label, total_bounds

    result = con.execute(sql, {"z": z}).fetchall()
    low, high = total_bounds(config)
    rows = []
    for (band, leads, conv, imm, rate, ci_low, ci_high, lift, share, capture), (lo, hi) in zip(
            result, band_bounds(config.bands, low, high)):
        rows.append(BandRow(
            band=band_label(lo, hi), low=lo, high=hi, leads=int(leads),
            conversions=int(conv), rate=_f(rate), ci_low=_f(ci_low), ci_high=_f(ci_high),
            lift=_f(lift), share=_f(share), capture=_f(capture), immature=int(imm),
            small=bool(leads < SMALL_BAND),
        ))
    return rows


def _f(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def band_table_diff(a: list[BandRow], b: list[BandRow]) -> list[str]:
    """Where two band tables differ (empty when equal, floats compared exactly)."""
    if len(a) != len(b):
        return [f"{len(a)} bands vs {len(b)}"]
    return [f"band {ra.band}: {key} {value!r} vs {rb.to_dict()[key]!r}"
            for ra, rb in zip(a, b) for key, value in ra.to_dict().items() if value != rb.to_dict()[key]]


# --------------------------------------------------------------------------- core process


def run_core(db: Path, repeats: int, load_repeats: int, config_path: Path = DEFAULT_CONFIG) -> dict:
    """Every leadcal measurement on one database (run in a fresh process per size)."""
    import gc
    import tracemalloc

    import duckdb
    import numpy as np

    from scoring.analysis.calibrate import calibration_view, model_view
    from scoring.data.extract import extract_features
    from scoring.data.source import open_source
    from scoring.model import rescore
    from scoring.model.config import load_config
    from scoring.model.features import derive_features, feature_spec
    from scoring.model.kernels import warm_up
    from scoring.model.metrics import Z95

    out: dict = {"rss_start_mb": rss_peak_mb()}
    config = load_config(config_path)
    with duckdb.connect(str(db), read_only=True) as con:
        out["leads_in_db"], = con.execute("SELECT count(*) FROM leads").fetchone()
        out["events_in_db"], = con.execute("SELECT count(*) FROM events").fetchone()

    def load(cfg):
        with open_source(db) as source:
            return extract_features(source, cfg)

    # first load
    loads, features = [], None
    for i in range(load_repeats):
        features = None
        gc.collect()
        t = time.perf_counter()
        features = load(config)
        loads.append(time.perf_counter() - t)
        log(f"  load {i + 1}/{load_repeats}: {loads[-1]:.2f} s")
    out.update(load_s=statistics.median(loads), load_cold_s=loads[0], load_runs_s=loads,
               rss_after_load_mb=rss_peak_mb(), leads=features.n)
    arrays = [features.lead_id, features.created_at, features.scoring_at, features.converted,
              features.mature,
              *(c.codes for c in features.categorical.values()), *features.numeric.values(),
              *features.signals.values()]  # signals are sparse (``Activity.nbytes``)
    out["features_mb"] = sum(a.nbytes for a in arrays) / 2**20
    events = features.events
    out["events_mb"] = (events.row.nbytes + events.age.nbytes) / 2**20 if events else 0.0

    # points and threshold changes, a value never used before on every repeat (leadcal
    # remembers recent configs: an alternating pair would hit its cache). demo_request fires
    # for 8% of leads (the incremental path); email_open for 65% (scored from scratch).
    i_demo = rule_index(config, "demo_request")
    i_open = rule_index(config, "email_open")
    points = [variant(config, **{f"engagement__{i_demo}__points": 12.0 + 0.5 * r}) for r in range(repeats)]
    dense = [variant(config, **{f"engagement__{i_open}__points": 0.25 + 0.05 * r}) for r in range(repeats)]
    thresholds = [variant(config, thresholds__mql=30.0 + r) for r in range(repeats)]
    model_view(config, features)  # warm-up (first-touch of lazily cached arrays)
    warm_up(len(config.engagement))  # the compiled loops, as the Calibrate page does on its first view
    for name, configs in (("points", points), ("points_dense", dense), ("threshold", thresholds)):
        times = []
        for r in range(repeats):
            t = time.perf_counter()
            model_view(configs[r], features)
            times.append(time.perf_counter() - t)
        out[f"{name}_ms"] = median_ms(times)
        out[f"{name}_runs_ms"] = [1000 * x for x in times]
        out[f"{name}_path"] = rescore.scored(configs[-1], features).path
    # scoring from scratch (no reuse), and the page's whole compute (cached approved view)
    parts: dict[str, list[float]] = {"full": [], "view": []}
    approved = model_view(config, features)
    for r in range(repeats):
        cfg = points[r]
        t0 = time.perf_counter()
        rescore.full(cfg, features)
        t1 = time.perf_counter()
        calibration_view(variant(cfg, thresholds__sql=61.0 + r), config, features, approved_view=approved)
        t2 = time.perf_counter()
        for key, dt_ in zip(parts, (t1 - t0, t2 - t1)):
            parts[key].append(dt_)
    for key, values in parts.items():
        out[f"{key}_ms"] = median_ms(values)
    # what one re-scoring pass allocates at its peak (numpy reports to tracemalloc)
    tracemalloc.start()
    model_view(variant(config, **{f"engagement__{i_demo}__points": 3.0}), features)
    out["rescore_alloc_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    # decay change: the features for another half-life from the kept events (the old
    # features stay cached, as in the app), then the model on them
    decays = [variant(config, decay={"kind": "exponential", "half_life_days": h}) for h in (14.0, 21.0)]
    times = []
    for r in range(load_repeats):
        t = time.perf_counter()
        draft_features = derive_features(features, feature_spec(decays[r % 2])) or load(decays[r % 2])
        model_view(decays[r % 2], draft_features)
        times.append(time.perf_counter() - t)
        draft_features = None
        log(f"  decay change {r + 1}/{load_repeats}: {1000 * times[-1]:.0f} ms")
    out.update(decay_s=statistics.median(times), decay_runs_s=times, peak_rss_mb=rss_peak_mb())

    # the SQL baseline on the same features
    gc.collect()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    equal, diffs, times = True, [], []
    for r in range(repeats):
        cfg = points[r]
        table = baseline_table(cfg, features)
        con.register("feats", table)
        sql = baseline_sql(cfg, features, Z95)
        t = time.perf_counter()
        rows = baseline_rows(con, sql, cfg, Z95)
        times.append(time.perf_counter() - t)
        con.unregister("feats")
        if r < 2:  # check both configs against leadcal
            d = band_table_diff(model_view(cfg, features).result.bands, rows)
            equal &= not d
            diffs += d
    con.close()
    out.update(sql_ms=median_ms(times), sql_runs_ms=[1000 * x for x in times], sql_equal=equal,
               sql_diffs=diffs[:10], sql_example=sql, peak_rss_with_sql_mb=rss_peak_mb(),
               numpy=np.__version__)
    out["points_over_sql"] = out["points_ms"] / out["sql_ms"]  # leadcal / SQL: <= 1/3 is the target
    out["points_dense_over_sql"] = out["points_dense_ms"] / out["sql_ms"]
    out["threshold_over_sql"] = out["threshold_ms"] / out["sql_ms"]
    return out


# --------------------------------------------------------------------------- app process


def run_apptest(db: Path, repeats: int) -> dict:
    """Server-side rerun of the Calibrate page after a points and a threshold slider move."""
    from benchmarks.page_rerun import measure

    r = measure(0, repeats, db=db)
    return {"rerun_points_ms": r["points_rerun_ms"], "rerun_threshold_ms": r["threshold_rerun_ms"],
            "app_first_run_s": r["first_run_s"], "app_peak_rss_mb": rss_peak_mb()}


# --------------------------------------------------------------------------- orchestration


def in_child(kind: str, db: Path, repeats: int, load_repeats: int) -> dict:
    """Run one measurement in a fresh Python process; its result and its own peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as fh:
        result_file = Path(fh.name)
    cmd = [sys.executable, "-m", "benchmarks.run", "--child", kind, "--db", str(db),
           "--repeats", str(repeats), "--load-repeats", str(load_repeats),
           "--result-file", str(result_file)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        if proc.returncode != 0:
            raise RuntimeError(f"{kind} benchmark on {db} failed (exit {proc.returncode})")
        result = json.loads(result_file.read_text())
    finally:
        result_file.unlink(missing_ok=True)
    result[f"{kind}_process_maxrss_mb"] = usage.ru_maxrss / 1024
    return result


def measure_size(leads: int, repeats: int, load_repeats: int, apptest: bool, out_dir: Path) -> dict:
    db, gen_s = demo_db(leads, out_dir)
    row: dict = {"size": leads, "db": str(db), "db_mb": db.stat().st_size / 2**20, "generate_s": gen_s,
                 "loadavg_before": os.getloadavg()[0]}
    t = time.perf_counter()
    log(f"[{leads:,}] core measurements ...")
    row.update(in_child("core", db, repeats, load_repeats))
    if apptest:
        log(f"[{leads:,}] Calibrate page rerun (AppTest) ...")
        row.update(in_child("apptest", db, repeats, load_repeats))
    row["wall_s"] = time.perf_counter() - t
    row["loadavg_after"] = os.getloadavg()[0]
    return row


def machine() -> dict:
    """CPU model, cores, RAM, Python and library versions."""
    from importlib.metadata import version

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = "unknown"
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    libs = {name: version(name) for name in ("numpy", "duckdb", "pyarrow", "pandas", "pydantic", "streamlit")}
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(ram, 1),
            "python": platform.python_version(), "platform": platform.platform(), "libs": libs, "git": rev,
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def _cell(row: dict, key: str, fmt: str) -> str:
    if key == "loadavg":
        if "loadavg_before" not in row:
            return "not recorded"
        return f"{row['loadavg_before']:.2f} / {row['loadavg_after']:.2f}"
    value = row.get(key)
    return "–" if value is None else format(value, fmt)


def markdown(rows: list[dict], info: dict, args) -> str:
    """The results table, the machine and the targets as Markdown."""
    libs = ", ".join(f"{k} {v}" for k, v in info["libs"].items())
    lines = [
        (f"Measured {info['date']} on {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, "
         f"Python {info['python']} ({info['platform']}); {libs}; leadcal at git {info['git']}."),
        "",
        (f"Command: `python -m benchmarks.run --sizes {' '.join(str(r['size']) for r in rows)} "
         f"--repeats {args.repeats} --load-repeats {args.load_repeats}"
         f"{' --skip-apptest' if args.skip_apptest else ''}`. Times are medians "
         f"({args.repeats} runs; load and decay {args.load_repeats})."),
        "",
        "| metric | " + " | ".join(f"{r['size']:,} leads" for r in rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    spec = [
        ("events in the database", "events_in_db", ",d"),
        ("demo generation (s, when generated in this run)", "generate_s", ".1f"),
        ("first load: extract_features (s)", "load_s", ".2f"),
        ("first load, cold process (s)", "load_cold_s", ".2f"),
        ("points change, rule on 8% of leads: model_view (ms)", "points_ms", ".1f"),
        ("points change, rule on 65% of leads: model_view (ms)", "points_dense_ms", ".1f"),
        ("threshold change: model_view (ms)", "threshold_ms", ".1f"),
        ("scoring from scratch, no reuse: rescore.full (ms)", "full_ms", ".1f"),
        ("calibration_view (draft + movers, grid, histogram; approved cached) (ms)", "view_ms", ".1f"),
        ("decay change: features from kept events + model_view (s)", "decay_s", ".3f"),
        ("hand-written DuckDB SQL band table (ms)", "sql_ms", ".1f"),
        ("leadcal / SQL, points change (target <= 0.33)", "points_over_sql", ".2f"),
        ("leadcal / SQL, points change on 65% of leads", "points_dense_over_sql", ".2f"),
        ("leadcal / SQL, threshold change (target <= 0.33)", "threshold_over_sql", ".2f"),
        ("SQL band table == leadcal band table", "sql_equal", ""),
        ("page rerun after points move, AppTest (ms)", "rerun_points_ms", ".0f"),
        ("page rerun after threshold move, AppTest (ms)", "rerun_threshold_ms", ".0f"),
        ("feature arrays in memory (MB)", "features_mb", ".0f"),
        ("kept events for decay changes (MB)", "events_mb", ".0f"),
        ("one re-scoring pass, peak allocation (MB)", "rescore_alloc_mb", ".0f"),
        ("peak RSS after first load (MB)", "rss_after_load_mb", ".0f"),
        ("peak RSS, leadcal (load + re-scores + decay change) (MB)", "peak_rss_mb", ".0f"),
        ("peak RSS incl. the SQL baseline (MB)", "peak_rss_with_sql_mb", ".0f"),
        ("peak RSS of the app process (AppTest) (MB)", "app_peak_rss_mb", ".0f"),
        ("wall time of this size (s)", "wall_s", ".0f"),
        ("1-min load average before / after (other work on the machine)", "loadavg", ""),
    ]
    for label, key, fmt in spec:
        lines.append(f"| {label} | " + " | ".join(_cell(r, key, fmt) for r in rows) + " |")
    lines += ["", "Targets (issue 8):", "", "| target | leads | limit | measured | met |", "|---|---:|---:|---:|---|"]
    by_size = {r["size"]: r for r in rows}
    for key, size, limit, unit in TARGETS:
        row = by_size.get(size)
        value = None if row is None else row.get(key)
        if value is None:
            lines.append(f"| {key} | {size:,} | {_num(limit)} {unit} | not measured | – |")
            continue
        ok = value <= limit
        lines.append(f"| {key} | {size:,} | {_num(limit)} {unit} | {_num(value)} | {'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def put_between_markers(path: Path, text: str, tag: str = "") -> None:
    name = f"results-{tag}" if tag else "results"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text() if path.exists() else f"# leadcal benchmark results\n\n{start}\n{end}\n"
    if start not in old or end not in old:
        old = old.rstrip() + f"\n\n{start}\n{end}\n"
    head, rest = old.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=7, help="runs per fast metric (median)")
    parser.add_argument("--load-repeats", type=int, default=3, help="runs of first load and decay change")
    parser.add_argument("--skip-apptest", action="store_true", help="leave out the page rerun (AppTest)")
    parser.add_argument("--out-dir", type=Path, default=OUT, help="demo databases and raw results")
    parser.add_argument("--results", type=Path, help="Markdown file whose results section to replace")
    parser.add_argument("--results-tag", default="",
                        help="replace the section marked <!-- results-TAG:start/end --> instead")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="only re-render the Markdown of a saved results-*.json (no measuring)")
    parser.add_argument("--child", choices=["core", "apptest"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        from scoring.base.runtime import tune_numpy_memory

        tune_numpy_memory()  # as the app does (app.py)
        fn = run_core if args.child == "core" else run_apptest
        result = fn(args.db, args.repeats, args.load_repeats) if args.child == "core" else fn(args.db, args.repeats)
        args.result_file.write_text(json.dumps(result, default=str))
        return 0

    if args.render:
        saved = json.loads(args.render.read_text())
        args.repeats, args.load_repeats, args.skip_apptest = saved.get("args", (args.repeats, args.load_repeats,
                                                                                args.skip_apptest))
        text = markdown(saved["rows"], saved["machine"], args)
        print(text)
        if args.results:
            put_between_markers(args.results, text, args.results_tag)
        return 0

    info = machine()
    rows = []
    for size in args.sizes:
        row = measure_size(size, args.repeats, args.load_repeats, not args.skip_apptest, args.out_dir)
        rows.append(row)
        if not row["sql_equal"]:
            log(f"[{size:,}] SQL band table differs from leadcal's: {row['sql_diffs']}")
        log(f"[{size:,}] load {row['load_s']:.2f} s, points {row['points_ms']:.1f} ms, threshold "
            f"{row['threshold_ms']:.1f} ms, decay {row['decay_s']:.2f} s, SQL {row['sql_ms']:.1f} ms "
            f"(leadcal/SQL {row['points_over_sql']:.2f}), peak {row['peak_rss_mb']:.0f} MB")
    text = markdown(rows, info, args)
    print(text)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (args.out_dir / f"results-{stamp}.json").write_text(
        json.dumps({"machine": info, "rows": rows,
                    "args": [args.repeats, args.load_repeats, args.skip_apptest]}, indent=1, default=str))
    (args.out_dir / f"results-{stamp}.md").write_text(text)
    if args.results:
        put_between_markers(args.results, text, args.results_tag)
    return 0 if all(r["sql_equal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
