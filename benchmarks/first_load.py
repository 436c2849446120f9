"""Where a first load's time goes: the app's extraction of a new database, step by step.

    python -m benchmarks.first_load --leads 10000000 [--repeats 3] [--extraction-only]

Extracts the default config's decay-free features from the seeded demo database as the
app does on a first load (quality checks held back, no decayed sums, the account key left
for later), timing each step with wrappers around the extraction's own functions, then the
work the app does after the first view: the account key's reading, the data-quality checks
(in this process and in the app's niced child process) and the disk cache entry. Medians (min-max) in seconds; the figures are quoted in
``benchmarks/RESULTS.md``. The browser's view of the same load (first paint, restart) is
``benchmarks.browser``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.run import DEFAULT_CONFIG, demo_db

STEPS = {
    "data_end": "the data's end (one max per time column)",
    "_dictionaries": "category dictionaries (distinct stored values)",
    "_ids_unique": "lead and outcome ids unique? (bitmap or GROUP BY)",
    "_temp_leads": "leads + outcomes into the temp table",
    "_read_leads": "lead columns into numpy",
    "_categorical": "categories renumbered by first appearance",
    "_read_events": "point-in-time events (query, read)",
    "_ordered_events": "events put in order (a thread, beside the lead columns)",
}


def _timed(name: str, func: Callable, into: dict[str, float]) -> Callable:
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            into[name] = into.get(name, 0.0) + time.perf_counter() - t
    return wrapper


def _timed_context(name: str, func: Callable, into: dict[str, float]) -> Callable:
    @contextlib.contextmanager
    def wrapper(*args, **kwargs) -> Iterator:
        t = time.perf_counter()
        with func(*args, **kwargs) as value:
            into[name] = into.get(name, 0.0) + time.perf_counter() - t
            yield value
    return wrapper


def one_load(db: Path, after: bool = True) -> dict[str, float]:
    """Seconds per step of one first load, then (``after``) the checks and the cache entry after it."""
    from scoring.data import extract, feature_cache, later
    from scoring.data.quality_later import check_file, check_in_process
    from scoring.data.source import open_source
    from scoring.model.config import load_config
    from scoring.model.features import decay_free_spec, feature_spec
    from scoring.model.findings import QualityReport

    spec = decay_free_spec(feature_spec(load_config(DEFAULT_CONFIG)))
    times: dict[str, float] = {}
    originals = {name: getattr(extract, name) for name in STEPS}
    try:
        for name, func in originals.items():
            wrap = _timed_context if name == "_temp_leads" else _timed
            setattr(extract, name, wrap(name, func, times))
        now = dt.datetime.now()
        t = time.perf_counter()
        with open_source(db) as source:
            features = extract.extract_features(source, spec, now=now, quality=QualityReport.pending(),
                                                sum_signals=False, later=later.later_columns(spec))
        times["extraction"] = time.perf_counter() - t
    finally:
        for name, func in originals.items():
            setattr(extract, name, func)
    t = time.perf_counter()
    later.read_later(db, features)
    times["the account key, after the first view"] = time.perf_counter() - t
    if not after:
        return times
    t = time.perf_counter()
    report = check_file(db, spec.mapping, now, features.data_end)
    times["checks, in this process"] = time.perf_counter() - t
    t = time.perf_counter()
    check_in_process(db, spec.mapping, now, features.data_end)
    times["checks, niced child process"] = time.perf_counter() - t
    features.quality.complete(report)
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        feature_cache.save(db, features, folder=Path(folder))
        times["disk cache entry"] = time.perf_counter() - t
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--extraction-only", action="store_true", help="skip the checks and the cache entry")
    args = parser.parse_args(argv)
    db, _ = demo_db(args.leads)
    runs = [one_load(db, after=not args.extraction_only) for _ in range(args.repeats)]
    print(f"first load of {args.leads:,} demo leads, {args.repeats} runs: median (min-max) seconds")
    for name in [*STEPS, "extraction", "the account key, after the first view", "checks, in this process",
                 "checks, niced child process", "disk cache entry"]:
        values = [r.get(name, 0.0) for r in runs]
        label = STEPS.get(name, name)
        print(f"  {label:<48} {statistics.median(values):6.2f}  ({min(values):.2f}-{max(values):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
