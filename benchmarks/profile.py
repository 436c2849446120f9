"""Where the time goes on one size: re-scoring after a slider move, and the page rerun.

    python -m benchmarks.profile --leads 1000000 [--section all|rescore|page]

Prints a cProfile of ``model_view`` after points moves on a rule for few leads
(demo_request: only those leads are scored again) and on one for most leads (email_open:
scored from scratch), each with a new value per call so nothing is a cache hit, and the
Calibrate page rerun split by what it calls (AppTest with timing wrappers in this process).
The design these profiles led to is described in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time
from pathlib import Path

from benchmarks.run import DEFAULT_CONFIG, demo_db, rule_index, variant


def show(label: str, ms: float) -> None:
    print(f"  {label:<64} {ms:9.2f} ms")


def profile_model_view(config, features, event: str, values: list[float]) -> None:
    """cProfile of ``model_view`` over points moves of one engagement rule."""
    from scoring.analysis.calibrate import model_view
    from scoring.model.rescore import scored

    i = rule_index(config, event)
    configs = [variant(config, **{f"engagement__{i}__points": v}) for v in values]
    model_view(config, features)
    prof = cProfile.Profile()
    times = []
    for c in configs:
        t = time.perf_counter()
        prof.enable()
        model_view(c, features)
        prof.disable()
        times.append(time.perf_counter() - t)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(16)
    print(f"model_view after {len(configs)} points moves on {event} ({scored(configs[-1], features).path} path), "
          f"median {1000 * statistics.median(times):.1f} ms; cProfile by own time:")
    print("\n".join(line for line in buf.getvalue().splitlines() if line.strip())[:4000])


def profile_page(db: Path, repeats: int = 5) -> None:
    """Rerun of the Calibrate page split by what it calls (timing wrappers, this process only)."""
    import os
    import tempfile
    from collections import defaultdict

    from streamlit.testing.v1 import AppTest

    import ui.controls
    import ui.data
    import ui.sidebar
    from scoring.analysis import calibrate
    from scoring.export import charts

    spent: dict[str, list[float]] = defaultdict(list)

    def wrap(module, name):
        fn = getattr(module, name)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[f"{module.__name__}.{name}"].append(time.perf_counter() - t)
        setattr(module, name, timed)

    for module, name in ((calibrate, "calibration_view"), (charts, "band_chart"),
                         (charts, "grid_chart"), (charts, "distribution_chart"),
                         (ui.controls, "draft_controls"), (ui.sidebar, "render"),
                         (ui.data, "approved_view")):
        wrap(module, name)
    os.environ["LEADCAL_DB"] = str(db)
    os.environ["LEADCAL_STORE"] = tempfile.mkdtemp(prefix="leadcal-profile-store-")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=600)
    at.run()
    at.run()
    spent.clear()
    reruns = []
    for i in range(repeats):
        at.slider(key=f"v{at.session_state['leadcal_state'].generation}:eng:0:points").set_value((12, 20)[i % 2])
        t = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - t)
        assert not at.exception, at.exception
    print(f"Calibrate page rerun after a points move ({repeats} reruns, mean per rerun):")
    mean_rerun = 1000 * statistics.mean(reruns)
    show("whole rerun (AppTest)", mean_rerun)
    accounted = 0.0
    for name, values in sorted(spent.items(), key=lambda kv: -sum(kv[1])):
        per = 1000 * sum(values) / repeats
        accounted += per
        show(f"  {name} ({len(values) // repeats} call(s))", per)
    show("  the rest: Streamlit (widgets, dataframes, plotly serialisation), page code",
         mean_rerun - accounted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--section", choices=["all", "rescore", "page"], default="all")
    args = parser.parse_args()
    from scoring.data.extract import extract_features
    from scoring.data.source import open_source
    from scoring.model.config import load_config

    db, _ = demo_db(args.leads)
    config = load_config(DEFAULT_CONFIG)
    if args.section in ("all", "rescore"):
        with open_source(db) as source:
            features = extract_features(source, config)
        profile_model_view(config, features, "demo_request", [12.0 + 0.5 * r for r in range(7)])
        profile_model_view(config, features, "email_open", [0.25 + 0.05 * r for r in range(7)])
    if args.section in ("all", "page"):
        profile_page(db)


if __name__ == "__main__":
    main()
