"""Suggested points, decay and thresholds from outcomes, and calibration (scoring.analysis.suggest,
`leadcal suggest`, the Attributes page).

On the demo data the suggestion must recover the generator's documented truth
(scoring.data.demo.TRUTH) and beat the default config on a later hold-out period. Every
statistic is checked against an independent computation: scikit-learn (a separately
built design fitted with another solver, roc_auc_score, brier_score_loss, an
unpenalised logistic fit), pandas (cut / groupby) and scipy's Wilson interval.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from scoring import cli
from scoring.analysis.suggest import (
    brier,
    compare_auc,
    compare_decays,
    decay_spec,
    fit_platt,
    holdout_split,
    reliability,
    suggest_points,
    suggest_thresholds,
    threshold_curve,
    with_decay,
    with_thresholds,
)
from scoring.cli.suggest import add_parser
from scoring.data.demo import TRUTH, generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import ConfigError, config_from_dict, dump_config, load_config, normalise_value, parse_config
from scoring.model.engine import score
from scoring.model.features import Categorical, Features, rule_signal_key
from scoring.model.kpis import monthly_volume_from_months

from .conftest import DEFAULT_CONFIG, ROOT, file_digest

DEMO_LEADS = 30_000
DEMO_SEED = 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo data once: features holding the default config's and every decay option's signals."""
    path = tmp_path_factory.mktemp("suggest") / "demo.duckdb"
    generate(path, leads=DEMO_LEADS, seed=DEMO_SEED)
    config = load_config(DEFAULT_CONFIG)
    with open_source(path) as source:
        features = extract_features(source, decay_spec(config))
    return path, config, features


@pytest.fixture(scope="module")
def suggestion(demo):
    _, config, features = demo
    return suggest_points(config, features)


def _points(config, kind, name):
    rules = config.fit if kind == "fit" else config.engagement
    return next(r for r in rules if (r.column if kind == "fit" else r.label) == name)


# --------------------------------------------------------------------------- split


def test_time_split_holds_out_the_latest_mature_leads(demo):
    _, _, features = demo
    split = holdout_split(features)
    assert split.method == "time"
    assert not (split.train & split.holdout).any()
    assert ((split.train | split.holdout) == features.mature).all()  # every mature lead, nothing immature
    assert features.created_at[split.train].max() < features.created_at[split.holdout].min()
    assert split.holdout.sum() / features.mature.sum() == pytest.approx(0.25, abs=0.01)
    assert split.cut == features.created_at[split.holdout].min().astype(dt.datetime)
    assert "later period" in split.description


def _flat_features(n=2000, seed=5, created=None) -> Features:
    """Hand-built leads with one categorical and one activity column, and no usable time."""
    rng = np.random.default_rng(seed)
    title = rng.integers(0, 3, n).astype(np.int32)  # VP, Manager, Analyst
    visits = rng.poisson(1.0, n).astype(np.float64)
    logit = -2.5 + np.array([1.2, 0.4, 0.0])[title] + 0.5 * np.minimum(visits, 4)
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    at = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]") if created is None else np.full(
        n, np.datetime64(created), dtype="datetime64[us]")
    return Features(
        spec=None, lead_id=np.arange(n), created_at=at, scoring_at=at, converted=converted,
        mature=np.ones(n, bool),
        categorical={"title": Categorical(title, np.array(["VP", "Manager", "Analyst"], dtype=object))},
        numeric={"visits": visits}, signals={}, data_end=dt.datetime(2024, 1, 1))


FLAT = {
    "source": {"leads": {"table": "flat"}},
    "fit": [{"type": "categorical", "column": "title", "points": {"VP": 10}}],
    "engagement": [{"column": "visits", "points": 2, "cap": 8}],
    "caps": {"total": {"min": 0, "max": 100}},
    "thresholds": {"mql": 20, "sql": 40},
    "bands": [20, 40, 60, 80],
}


@pytest.mark.parametrize("created", [None, "2024-03-01T09:00:00"])
def test_no_usable_time_gives_a_seeded_stratified_random_holdout(created):
    # no creation times at all, or every lead created at the same moment (one import batch)
    features = _flat_features(created=created)
    y = features.converted
    split = holdout_split(features, 0.25, seed=4)
    assert split.method == "random" and split.description.startswith("No usable time")
    assert split.cut is None
    # stratified: the hold-out holds a quarter of each class, exactly (rounded)
    assert split.holdout[y].sum() == round(0.25 * y.sum())
    assert split.holdout[~y].sum() == round(0.25 * (~y).sum())
    assert not (split.train & split.holdout).any() and (split.train | split.holdout).all()
    again = holdout_split(features, 0.25, seed=4)
    assert (again.holdout == split.holdout).all()  # seeded: the same leads every time
    assert (holdout_split(features, 0.25, seed=5).holdout != split.holdout).any()


def test_suggestion_without_time_says_so_and_works():
    features = _flat_features()
    config = config_from_dict(FLAT)
    s = suggest_points(config, features)
    assert s.split.method == "random" and s.notes[0].startswith("No usable time")
    assert s.auc.holdout > 0.6
    vp, manager, analyst = (s.config.fit[0].points[v] for v in ("VP", "Manager", "Analyst"))
    assert vp > manager > analyst  # the planted order: 1.2 > 0.4 > 0 in log-odds
    assert s.config.engagement[0].points > 0


def test_split_refuses_too_few_conversions():
    features = _flat_features(n=60)
    with pytest.raises(ValueError, match="too few mature conversions"):
        holdout_split(features)
    with pytest.raises(ValueError, match="between 0.05 and 0.5"):
        holdout_split(_flat_features(), 0.9)


# --------------------------------------------------------------------------- suggested points


def test_suggestion_recovers_the_generators_truth(suggestion):
    cfg = suggestion.config
    pts = {r.label: r.points for r in cfg.engagement}
    signals = TRUTH["signals"]
    # signs: every strong and moderate signal adds, the negative ones take away
    for name in signals["strong_positive"] + signals["moderate_positive"]:
        assert pts[name] > 0, name
    for name in signals["negative"]:
        assert pts[name] < 0, name
    # order: demo requests and trials are the strongest, competitor comparisons next, then the moderate ones
    strongest = sorted(pts, key=pts.get, reverse=True)[:2]
    assert set(strongest) == {"demo_request", "trial_signup"}
    assert pts["competitor_comparison_download"] > max(pts[n] for n in signals["moderate_positive"])
    assert min(pts[n] for n in signals["strong_positive"]) > pts["whitepaper_download"] >= 0
    # little weight on e-mail opens: at most a point either way, a tenth of a demo request
    assert abs(pts["email_open"]) <= 1 and abs(pts["email_open"]) <= 0.1 * pts["demo_request"]
    # fit: seniority in the truth's order, students below everyone, free e-mail below business
    sen = _points(cfg, "fit", "seniority").points
    assert min(sen["C-level"], sen["VP"]) > sen["Director"] > sen["Manager"] > sen["Individual Contributor"]
    assert sen["Student"] < sen["Individual Contributor"] - 10
    email = _points(cfg, "fit", "email_domain_type").points
    # points follow each value's weight of evidence; free and education convert nearly alike in this sample
    assert email["business"] > email["education"] >= email["free"] and email["business"] > email["free"]
    size = [b.points for b in _points(cfg, "fit", "company_size").bins]
    assert size == sorted(size) and size[-1] > size[0]  # larger companies convert more
    industry = _points(cfg, "fit", "industry").points
    assert max(industry, key=industry.get) == "Software"


def test_suggestion_beats_the_default_on_the_holdout(demo, suggestion):
    _, config, features = demo
    split = suggestion.split
    y = features.converted
    suggested = score(suggestion.config, features).total
    default = score(config, features).total
    hold = split.holdout
    assert suggestion.auc.holdout == pytest.approx(roc_auc_score(y[hold], suggested[hold]), abs=1e-12)
    assert suggestion.auc.train == pytest.approx(roc_auc_score(y[split.train], suggested[split.train]),
                                                    abs=1e-12)
    default_holdout = roc_auc_score(y[hold], default[hold])
    assert suggestion.auc.holdout > default_holdout + 0.005
    rows = {r.model: r.to_dict() for r in compare_auc({"suggested": suggestion.config, "default": config}, features,
                                               split)}
    assert rows["default"]["holdout_auc"] == pytest.approx(default_holdout, abs=1e-12)
    assert rows["suggested"]["holdout_auc"] == pytest.approx(suggestion.auc.holdout, abs=1e-12)


def _independent_design(config, features, train) -> tuple[pd.DataFrame, dict]:
    """The suggestion's encoding rebuilt with pandas: each fit attribute's values (as the engine groups them:
    cut bins, missing) replaced by their weight of evidence on the training leads (half a lead in an empty
    class), each engagement rule's capped activity. Every value of the demo has 30+ training leads."""
    parts, woes = {}, {}
    y = pd.Series(features.converted)
    for rule in config.fit:
        if rule.type == "categorical":
            values = features.categorical[rule.column].values()
            spelled = {normalise_value(k): k for k in rule.points}  # the config's spelling where it names one
            names = pd.Series(["(missing)" if v is None else spelled.get(normalise_value(v), v) for v in values],
                              dtype=object)
        else:
            v = pd.Series(features.numeric[rule.column])
            edges = [-np.inf] + [b.max for b in rule.bins[:-1]] + [np.inf]
            labels = [f"< {b.max:g}" if b.min is None else f">= {b.min:g}" if b.max is None
                      else f"{b.min:g} to < {b.max:g}" for b in rule.bins]
            names = pd.cut(v, edges, right=False, labels=labels).astype(object).where(v.notna(), "(missing)")
        if rule.type == "categorical":  # values (and missing) with fewer than 30 training leads share one group
            counts = names[train].value_counts()
            names = names.where(names.map(counts).fillna(0) >= 30, "(other values)")
        t = pd.DataFrame({"k": names[train], "y": y[train]}).groupby("k")["y"].agg(["sum", "count"])
        conv, other = t["sum"].astype(float), (t["count"] - t["sum"]).astype(float)
        woe = np.log((conv.where(conv > 0, 0.5) / conv.sum()) / (other.where(other > 0, 0.5) / other.sum()))
        woes[rule.column] = woe.to_dict()
        parts[f"fit '{rule.column}'"] = names.map(woe).astype(float).fillna(0.0)
    for rule in config.engagement:
        activity = features.feature(rule_signal_key(config, rule))
        capped = np.minimum(activity, rule.cap / abs(rule.points)) if rule.cap else activity
        parts[f"engagement '{rule.label}'"] = capped
    return pd.DataFrame(parts), woes


def test_points_are_the_regression_scaled_to_double_the_odds(demo, suggestion):
    _, config, features = demo
    train = suggestion.split.train
    X, woes = _independent_design(config, features, train)
    model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=20_000, tol=1e-9)
    with threadpool_limits(limits=1, user_api="blas"):  # small matrices: threads only cost time
        model.fit(X[train].to_numpy(), features.converted[train])
    beta = dict(zip(X.columns, model.coef_[0]))
    ours = {}
    for c in (c.to_dict() for c in suggestion.coefficients):
        ours.setdefault(c["rule"], c)
        if c["rule"].startswith("fit"):  # the WoE of every value, as pandas computes it
            column = c["rule"][5:-1]
            assert c["woe"] == pytest.approx(woes[column][c["value"]], abs=1e-9), (column, c["value"])
    assert set(ours) == set(beta)  # one coefficient per attribute and per engagement rule
    for name, b in beta.items():
        assert b > 0 or name.startswith("engagement"), name  # no attribute reversed on the demo
        assert ours[name]["coefficient"] == pytest.approx(b, abs=5e-4), name
    # PDO: the central 99% of training log-odds span the width of the total cap (100 points)
    logit = model.decision_function(X[train].to_numpy())
    lo, hi = np.quantile(logit, [0.005, 0.995])
    assert suggestion.pdo == round(100 / (hi - lo) * math.log(2))
    factor = suggestion.pdo / math.log(2)
    # engagement points per event are factor x coefficient, whole points
    for rule in suggestion.config.engagement:
        c = ours[f"engagement '{rule.label}'"]
        assert rule.points == round(factor * c["coefficient"]) and float(rule.points).is_integer()
    # a fit value's points are factor x coefficient x its WoE, rounded once
    sen = _points(suggestion.config, "fit", "seniority")
    for value, woe in woes["seniority"].items():
        points = sen.missing if value == "(missing)" else sen.points[value]
        assert abs(points - factor * beta["fit 'seniority'"] * woe) <= 0.5 + 0.05, value


def test_suggested_config_is_valid_whole_and_keeps_saturation(demo, suggestion):
    _, config, features = demo
    cfg = suggestion.config
    assert parse_config(dump_config(cfg)) == cfg  # a valid config that round-trips
    for rule in cfg.fit:
        values = list(getattr(rule, "points", {}).values()) + [b.points for b in getattr(rule, "bins", [])]
        assert all(float(p).is_integer() for p in values + [rule.other, rule.missing])
    for old, new in zip(config.engagement, cfg.engagement):
        assert new.event == old.event
        if new.points != 0 and old.cap is not None:
            # the cap binds after the same number of events as in the draft
            assert new.cap == max(1, round(abs(new.points) * old.cap / abs(old.points)))
    assert cfg.caps.fit is None and cfg.caps.engagement is None
    # 0 points is the average lead, so the scale moves: the total cap and the bands by one multiple of 5
    shift = cfg.caps.total.min - config.caps.total.min
    assert shift % 5 == 0 and cfg.caps.total.max == config.caps.total.max + shift
    assert cfg.bands == [b + shift for b in config.bands]
    total = score(cfg, features).total[suggestion.split.train]
    inside = (total >= cfg.caps.total.min) & (total <= cfg.caps.total.max)
    assert inside.mean() >= 0.98  # the central 99% of the training leads, give or take the rounding
    assert (cfg.decay, cfg.source, cfg.evaluation) == (config.decay, config.source, config.evaluation)
    assert any("caps are dropped" in n or "cap(s) are dropped" in n for n in suggestion.notes)


def test_suggested_thresholds_keep_the_drafts_volumes(demo, suggestion):
    _, config, features = demo
    train = suggestion.split.train
    draft = score(config, features).total[train]
    new = score(suggestion.config, features).total[train]
    for old_line, new_line in ((config.thresholds.mql, suggestion.config.thresholds.mql),
                               (config.thresholds.sql, suggestion.config.thresholds.sql)):
        # the same share of leads passes, to within the one-point steps of the new scale
        assert abs((new >= new_line).mean() - (draft >= old_line).mean()) < 0.01
    assert suggestion.config.thresholds.mql < suggestion.config.thresholds.sql


def test_suggestion_fits_only_the_leads_without_a_segment(demo):
    _, config, features = demo
    data = config.model_dump(mode="json", exclude_unset=True)
    data["segments"] = [{"name": "enterprise", "filter": {"column": "segment", "values": ["Enterprise"]},
                         "engagement": [{"event": "demo_request", "points": 30, "cap": 40}]}]
    seg_config = config_from_dict(data)
    s = suggest_points(seg_config, features)
    cat = features.categorical["segment"]
    enterprise = np.isin(cat.codes, np.flatnonzero(cat.categories == "Enterprise"))
    assert not (s.split.train & enterprise).any() and not (s.split.holdout & enterprise).any()
    assert s.config.segments == seg_config.segments  # segments keep their own rules


# --------------------------------------------------------------------------- decay


def test_decay_comparison_finds_that_decay_beats_none(demo):
    _, config, features = demo
    split = holdout_split(features)
    result = compare_decays(config, features, split).to_dict()
    rows = {r["label"]: r for r in result["rows"]}
    assert len(rows) == 11
    # truth: events are decayed with a 14-day half-life; an exponential decay of 14-30 days beats none
    for label in ("exponential, half-life 14 d", "exponential, half-life 30 d"):
        assert rows[label]["holdout_auc"] > rows["none"]["holdout_auc"] + 0.002
    assert result["suggested"]["kind"] != "none"
    assert sum(r["suggested"] for r in result["rows"]) == 1
    assert [r["label"] for r in result["rows"] if r["current"]] == ["exponential, half-life 30 d"]
    # the draft's own points under a decay, computed independently
    y = features.converted
    none_total = score(with_decay(config, {"kind": "none"}), features).total
    assert rows["none"]["draft_points_holdout_auc"] == pytest.approx(
        roc_auc_score(y[split.holdout], none_total[split.holdout]), abs=1e-12)
    best = max(r["holdout_auc"] for r in result["rows"])
    chosen = next(r for r in result["rows"] if r["suggested"])
    assert chosen["holdout_auc"] >= best - 0.002


def test_with_decay_and_with_thresholds():
    config = config_from_dict({**FLAT, "source": {"events": {}}, "engagement": [
        {"event": "demo", "points": 5, "decay": {"kind": "window", "days": 3}}]})
    changed = with_decay(config, {"kind": "linear", "lifespan_days": 40})
    assert changed.decay.kind == "linear" and changed.engagement[0].decay is None
    assert with_thresholds(config, 25, 45).thresholds.mql == 25
    with pytest.raises(ConfigError, match="must be below sql"):
        with_thresholds(config, 50, 45)


# --------------------------------------------------------------------------- thresholds


def test_threshold_curve_matches_brute_force(demo):
    _, config, features = demo
    total = score(config, features).total
    curve = [row.to_dict() for row in threshold_curve(total, features)]
    m, y = features.mature, features.converted & features.mature
    df = pd.DataFrame({"s": total[m], "y": y[m]})
    for row in curve[::7]:
        t = row["threshold"]
        passed = df[df["s"] >= t]
        assert row["leads"] == len(passed)
        assert row["capture"] == pytest.approx(passed["y"].sum() / df["y"].sum())
        assert row["rate"] == pytest.approx(passed["y"].mean())
        # per month as the KPI row counts it (full calendar months only)
        assert row["per_month"] == pytest.approx(monthly_volume_from_months(features.scoring_month, total >= t))


def test_suggest_thresholds_follow_their_rules(demo):
    _, config, features = demo
    th = suggest_thresholds(config, features, sql_target=(0.30, 0.40)).to_dict()
    curve = th["curve"]
    eligible = [r for r in curve if r["leads"] >= 30]
    # SQL: leads at or above convert closest to the middle of the target (35%)
    best = min(abs(r["rate"] - 0.35) for r in eligible)
    assert abs(th["at_sql"]["rate"] - 0.35) == pytest.approx(best)
    assert 0.30 <= th["at_sql"]["rate"] <= 0.40
    # MQL: the highest threshold still keeping 90% of conversions above it
    by_t = {r["threshold"]: r for r in curve}
    assert by_t[th["mql"]]["capture"] >= 0.9 > by_t[th["mql"] + 1]["capture"]
    assert th["mql"] < th["sql"]
    # with a sales capacity: the lowest threshold passing at most that many leads a month
    cap = suggest_thresholds(config, features, sql_target=(0.30, 0.40), capacity_per_month=150).to_dict()
    total = score(config, features).total
    per_month = lambda t: monthly_volume_from_months(features.scoring_month, total >= t)  # noqa: E731
    assert per_month(cap["mql"]) <= 150 < per_month(cap["mql"] - 1)


def test_suggest_thresholds_when_rules_cross(demo):
    _, config, features = demo
    # on the demo, 10-15% is reached very low: the capture rule would put MQL above SQL
    th = suggest_thresholds(config, features).to_dict()
    assert th["mql"] == th["sql"] - 1 and any("one point below SQL" in n for n in th["notes"])
    # a capacity is a hard limit: then SQL moves up instead, and MQL respects the capacity
    cap = suggest_thresholds(config, features, capacity_per_month=100).to_dict()
    assert cap["sql"] == cap["mql"] + 1 and any("SQL raised" in n for n in cap["notes"])
    assert cap["at_mql"]["per_month"] <= 100


# --------------------------------------------------------------------------- calibration


def test_brier_matches_sklearn():
    rng = np.random.default_rng(2)
    p = rng.random(500)
    y = rng.random(500) < p
    assert brier(p, y) == pytest.approx(brier_score_loss(y, p), abs=1e-15)
    # hand example: p [0.1, 0.9, 0.5], y [0, 1, 1] -> (0.01 + 0.01 + 0.25) / 3 = 0.09
    assert brier(np.array([0.1, 0.9, 0.5]), np.array([0, 1, 1])) == pytest.approx(0.09)


def test_platt_fit_matches_unpenalised_sklearn(demo):
    _, config, features = demo
    total = score(config, features).total
    m = features.mature
    a, b = fit_platt(total[m], features.converted[m])
    ref = LogisticRegression(C=1e12, max_iter=10_000, tol=1e-12).fit(total[m, None], features.converted[m])
    assert a == pytest.approx(ref.intercept_[0], rel=1e-4)
    assert b == pytest.approx(ref.coef_[0][0], rel=1e-4)
    assert fit_platt(total[:5], np.zeros(5, bool)) is None


def test_reliability_curve_and_brier_against_independent_computations(demo, suggestion):
    _, _, features = demo
    cfg, split = suggestion.config, suggestion.split
    total = score(cfg, features).total
    y = features.converted
    result = reliability(cfg, features, split).to_dict()
    train, hold = split.train, split.holdout
    ref = LogisticRegression(C=1e12, max_iter=10_000, tol=1e-12).fit(total[train, None], y[train])
    p_hold = ref.predict_proba(total[hold, None])[:, 1]
    assert result["brier_holdout"] == pytest.approx(brier_score_loss(y[hold], p_hold), rel=1e-5)
    base = y[train].mean()
    assert result["brier_reference"] == pytest.approx(brier_score_loss(y[hold], np.full(hold.sum(), base)))
    assert result["brier_skill"] == pytest.approx(1 - result["brier_holdout"] / result["brier_reference"])
    assert result["brier_skill"] > 0.15  # the suggestion tells converters apart much better than the base rate
    # observed conversion per band on the hold-out, with pandas and scipy
    df = pd.DataFrame({"band": pd.cut(total[hold], [-np.inf] + list(cfg.bands) + [np.inf], right=False,
                                      labels=False), "y": y[hold]})
    g = df.groupby("band")["y"].agg(["sum", "count"])
    for i, row in enumerate(result["bands"]):
        if i not in g.index:
            assert row["leads"] == 0
            continue
        k, n = int(g.loc[i, "sum"]), int(g.loc[i, "count"])
        assert (row["leads"], row["conversions"]) == (n, k)
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert row["ci_low"] == pytest.approx(ci.low, abs=1e-9) and row["ci_high"] == pytest.approx(ci.high, abs=1e-9)
    # "a score of 50 means about X% convert" (the highest band cut point)
    at = {p["score"]: p["probability"] for p in result["probability_at"]}
    top = cfg.bands[-1]
    assert at[top] == pytest.approx(ref.predict_proba([[top]])[0, 1], rel=1e-4)
    probs = [at[s] for s in sorted(at)]
    assert probs == sorted(probs)  # a higher score never means a lower probability
    # the fitted curve agrees with what was observed in the well-filled bands
    for row in result["bands"]:
        if row["leads"] >= 100:
            assert row["ci_low"] - 0.05 <= row["predicted"] <= row["ci_high"] + 0.05, row["band"]


# --------------------------------------------------------------------------- the CLI


def _main(argv):
    """`leadcal` with `suggest` registered (as cli.py registers it; added here if it is not yet)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "suggest" not in sub.choices:
        add_parser(sub)
    original = cli.build_parser
    cli.build_parser = lambda: parser
    try:
        return cli.main(argv)
    finally:
        cli.build_parser = original


def test_cli_writes_a_valid_config_and_prints_train_and_holdout_auc(demo, suggestion, tmp_path, capsys):
    path, config, features = demo
    digest = file_digest(path)
    out = tmp_path / "suggested.yaml"
    assert _main(["suggest", "--db", str(path), "--config", str(DEFAULT_CONFIG), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    written = load_config(out)
    assert written == suggestion.config
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert lines["suggested"] == [f"{suggestion.auc.train:.3f}", f"{suggestion.auc.holdout:.3f}"]
    rows = {r.model: r.to_dict() for r in compare_auc({"default": config}, features, suggestion.split)}
    assert lines["default"] == [f"{rows['default']['train_auc']:.3f}", f"{rows['default']['holdout_auc']:.3f}"]
    assert "later period" in text and f"wrote {out}" in text
    # never over an existing file: exit 1, one message, the file as it was
    before = out.read_bytes()
    assert _main(["suggest", "--db", str(path), "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert file_digest(path) == digest  # the leads database is never written to


def test_cli_json_and_bad_arguments(demo, tmp_path, capsys):
    path, _, _ = demo
    out = tmp_path / "s.yaml"
    assert _main(["suggest", "--db", str(path), "--out", str(out), "--format", "json", "--holdout", "0.3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["suggest_version"] == 1 and result["split"]["method"] == "time"
    assert result["split"]["holdout_leads"] == pytest.approx(0.3 * (result["split"]["holdout_leads"]
                                                                    + result["split"]["train_leads"]), rel=0.05)
    assert {r["model"] for r in result["auc"]} == {"suggested", "default"}
    with pytest.raises(SystemExit) as exc:
        _main(["suggest", "--db", str(path), "--out", str(tmp_path / "x.yaml"), "--holdout", "0.9"])
    assert exc.value.code == 2
    assert _main(["suggest", "--db", str(tmp_path / "missing.duckdb"), "--out", str(tmp_path / "y.yaml")]) == 1
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "y.yaml").exists()


# --------------------------------------------------------------------------- the page


def test_attributes_page_shows_the_suggestion_and_applies_it_on_request(demo, suggestion, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    path, config, features = demo
    monkeypatch.setenv("LEADCAL_DB", str(path))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    at = AppTest.from_file(str(ROOT / "pages" / "attributes.py"), default_timeout=120)
    at.session_state["attributes_tab"] = "Suggested points"  # only the open tab runs
    at.run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["suggested: hold-out AUC"] == f"{suggestion.auc.holdout:.3f}"
    default_holdout = compare_auc({"d": config}, features, suggestion.split)[0].holdout_auc
    assert metrics["draft: hold-out AUC"] == f"{default_holdout:.3f}"
    from scoring.model.config import config_from_dict

    state = at.session_state["leadcal_state"]
    assert config_from_dict(state.data) == config  # shown, never applied silently
    at.button(key="apply_suggestion").click()
    at.run()
    assert not at.exception, at.exception
    state = at.session_state["leadcal_state"]
    assert config_from_dict(state.data) == suggestion.config
    assert state.base_ref == "shipped default"  # applied, not saved: the draft has unsaved changes
    assert any("now the draft" in s.value for s in at.success)


def test_points_point_the_way_the_data_does(demo, suggestion):
    """Signs as the README says: a value likelier than average to convert gets more points (positive WoE,
    positive points); the constant part of the score goes to no value (the issue: -0.155 log-odds got +7)."""
    _, config, features = demo
    from scoring.analysis.attributes import attribute_table

    table = attribute_table(config, features)
    for column in ("seniority", "email_domain_type"):
        rule = _points(suggestion.config, "fit", column)
        attr = next(a for a in table.attributes if a.attribute == column)
        rows = [(r.woe, rule.missing if r.value == "(missing)" else rule.points[r.value])
                for r in attr.rows if r.leads >= 300 and r.woe is not None]
        assert len(rows) >= 3
        for woe, points in rows:
            if abs(woe) >= 0.1:
                assert np.sign(points) == np.sign(woe), (column, woe, points)
        # and in the same order: a better value never gets fewer points than a worse one
        ordered = [p for _, p in sorted(rows)]
        assert ordered == sorted(ordered), (column, rows)


def test_a_zero_point_starter_gets_sound_thresholds(demo):
    """From a starter with every rule at 0 points, MQL and SQL land inside the total cap, MQL below SQL,
    each passing some training leads (not 100 / 101 above the cap)."""
    _, config, features = demo
    data = config.model_dump(mode="json", exclude_unset=True)
    for rule in data["fit"]:
        rule["other"] = rule["missing"] = 0
        if rule["type"] == "categorical":
            rule["points"] = {k: 0 for k in rule["points"]}
        else:
            rule["bins"] = [dict(b, points=0) for b in rule["bins"]]
    for rule in data["engagement"]:
        rule["points"] = 0
    zero = config_from_dict(data)
    s = suggest_points(zero, features)
    cap, th = s.config.caps.total, s.config.thresholds
    total = score(s.config, features).total[s.split.train]
    assert cap.min <= th.mql < th.sql <= cap.max
    assert 0 < (total >= th.sql).mean() < (total >= th.mql).mean() < 1
    assert any("say nothing about volume" in n for n in s.notes)
