"""Server-side rerun time of the calibration page (Streamlit AppTest), per slider move.

    python -m benchmarks.page_rerun --leads 50000 1000000 --repeats 7

Generates the demo data at each size (cached in benchmarks/out/), opens the page once
(feature extraction, not timed here), then moves a points slider and a threshold slider
to new values and reports the median wall time of a rerun.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def demo_db(leads: int, seed: int = 7) -> Path:
    """The demo database of this size, generated once."""
    from scoring.data.demo import generate

    path = OUT / f"demo-{leads}.duckdb"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        generate(path, leads=leads, seed=seed)
    return path


def measure(leads: int, repeats: int, db: Path | None = None) -> dict:
    """Median rerun seconds after a points move and after a threshold move.

    ``db`` runs the page on that database instead of the generated demo of ``leads``.
    """
    from streamlit.testing.v1 import AppTest

    os.environ["LEADCAL_DB"] = str(db or demo_db(leads))
    os.environ["LEADCAL_STORE"] = tempfile.mkdtemp(prefix="leadcal-bench-store-")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    t = time.perf_counter()
    at.run()
    first = time.perf_counter() - t
    if at.exception:
        raise RuntimeError(f"page failed: {at.exception}")
    at.run()  # warm: the approved model's view is now cached
    timings: dict[str, list[float]] = {"points": [], "threshold": []}
    for i in range(repeats):
        # a value never used before each time: the app remembers recent configs
        generation = at.session_state["leadcal_state"].generation  # the draft controls' key prefix
        for name, key, value in (("points", f"v{generation}:eng:0:points", 5 + i),
                                 ("threshold", f"v{generation}:thresholds", (30 + i, 60))):
            at.slider(key=key).set_value(value)
            t = time.perf_counter()
            at.run()
            timings[name].append(time.perf_counter() - t)
            if at.exception:
                raise RuntimeError(f"page failed: {at.exception}")
    return {"leads": leads, "first_run_s": first,
            **{f"{k}_rerun_ms": 1000 * statistics.median(v) for k, v in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for n in args.leads:
        r = measure(n, args.repeats)
        print(f"{r['leads']:>10,} leads: first run {r['first_run_s']:.1f} s, "
              f"rerun after points move {r['points_rerun_ms']:.0f} ms, "
              f"after threshold move {r['threshold_rerun_ms']:.0f} ms (median of {args.repeats})")


if __name__ == "__main__":
    main()
