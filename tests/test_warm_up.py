"""kernels.warm_up covers every compiled loop a slider move runs, for the array types the app has.

A loop numba has not compiled for an argument type (a read-only array is another type) is
compiled on first use: about a second on the first points move after an install or an
upgrade, and a load from the disk cache on every first move after a start. Checked in a
fresh process (compiled signatures are per process): after the warm-up and the first view,
threshold, points, fit and cap moves compile nothing new, on features read from DuckDB and
on features memory-mapped from the disk cache, as the app has them after a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scoring.data.demo import generate

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import json, sys
import numpy as np
from numba.core.registry import CPUDispatcher
from scoring.analysis.calibrate import calibration_view
from scoring.data import feature_cache
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model import kernels
from scoring.model.config import config_from_dict, config_to_dict
from scoring.model.features import decay_free_spec, derive_features, feature_spec, rule_signal_key
from scoring.registry.store import ConfigStore

path, mode, store, model = sys.argv[1:5]
config = ConfigStore(store).approved_config(model)
spec = feature_spec(config)
with open_source(path) as source:  # as ui.data does: a decay-free base, then the spec's sums
    base = extract_features(source, decay_free_spec(spec), sum_signals=False)
    if mode == "cached":
        feature_cache.save(path, base)
        base = feature_cache.load(source, decay_free_spec(spec))
        assert base is not None, "the feature cache did not load"
keys = [s.key for s in spec.signals if s.key not in base.signals]
features = derive_features(base, spec, feature_cache.load_signals(base, keys) if mode == "cached" else {})


def compiled():
    return {name: sorted(map(str, d.signatures)) for name, d in vars(kernels).items()
            if isinstance(d, CPUDispatcher)}


def variant(**changes):
    data = config_to_dict(config)
    for where, value in changes.items():
        node, keys = data, where.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return config_from_dict(data)


kernels.warm_up(0)  # app.py, at the start
calibration_view(config, config, features)  # the first view: warm_up(rules) and the first scoring
before = compiled()
moves = {"threshold": variant(thresholds__mql=config.thresholds.mql - 1),
         "sql threshold": variant(thresholds__sql=config.thresholds.sql + 1)}
rules = config.engagement
if rules:  # the rule with the fewest leads active and the one with the most
    active = [features.activity(rule_signal_key(config, r)).rows.size for r in rules]
    few, most = int(np.argmin(active)), int(np.argmax(active))
    moves["sparse points"] = variant(**{f"engagement__{few}__points": rules[few].points - 1})
    moves["dense points"] = variant(**{f"engagement__{most}__points": rules[most].points + 1})
for i, rule in enumerate(config.fit):  # the first category rule's first value, the first numeric rule's first bin
    if hasattr(rule, "bins") and "bin points" not in moves and rule.bins:
        moves["bin points"] = variant(**{f"fit__{i}__bins__0__points": rule.bins[0].points + 1})
    elif not hasattr(rule, "bins") and "category points" not in moves and rule.points:
        value, points = next(iter(rule.points.items()))
        moves["category points"] = variant(**{f"fit__{i}__points__{value}": points + 1})
if config.caps.total is not None and config.caps.total.max is not None:
    moves["total cap"] = variant(caps__total__max=config.caps.total.max - 5)
new = {}
for name, moved in moves.items():
    calibration_view(moved, config, features)
    after = compiled()
    added = {k: sorted(set(v) - set(before.get(k, []))) for k, v in after.items()}
    new[name] = {k: v for k, v in added.items() if v}
    before = after
print(json.dumps(new))
'''


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("warm-up") / "d.duckdb"
    generate(path, leads=6_000, seed=5)
    return path


def _compiled_on_moves(path: Path, mode: str, store: Path, model: str, cache: Path) -> dict:
    env = {**os.environ, "LEADCAL_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path), mode, str(store), model],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["extracted", "cached"])
def test_no_slider_move_compiles_after_the_warm_up(demo_path, mode, tmp_path):
    compiled_on_a_move = _compiled_on_moves(demo_path, mode, tmp_path / "store", "default", tmp_path / "cache")
    assert set(compiled_on_a_move) == {"threshold", "sparse points", "dense points", "category points",
                                       "bin points", "sql threshold", "total cap"}
    assert compiled_on_a_move == {name: {} for name in compiled_on_a_move}


@pytest.mark.parametrize("name, mode", [("hubspot", "cached"), ("salesforce", "cached"), ("pipedrive", "cached"),
                                        ("pipeline", "cached"), ("flat", "extracted")])
def test_no_slider_move_compiles_on_a_crm_export_either(name, mode, tmp_path):
    """The starter model `leadcal import` makes of a CRM-shaped export, on its own database: other
    rules, other columns and codes than the demo's. (A flat export has no times, so its data
    ends "now" and the disk cache never holds it: its features are always extracted.)"""
    from scoring.cli import main as leadcal

    from . import crm_exports as ce

    export = ce.WRITERS[name](tmp_path / "files")
    db, store = tmp_path / f"{name}.duckdb", tmp_path / "store"
    assert leadcal(["import", *map(str, export.files), "--db", str(db), "--store", str(store)]) == 0
    compiled_on_a_move = _compiled_on_moves(db, mode, store, name, tmp_path / "cache")
    assert {"threshold", "sql threshold"} <= set(compiled_on_a_move)
    assert compiled_on_a_move == {move: {} for move in compiled_on_a_move}
