"""Cached data access for the app: features are extracted once per data and spec without decays.

``st.cache_resource`` keeps the numpy arrays in memory without copying them per rerun.
An extraction (the base) is keyed by the database file's identity plus the spec with its
decays stripped; the features of a spec are derived from its base in numpy. So a points
or threshold change hits the cache, a decay change re-weighs the kept events (no query),
and only a mapping, window, column or event-type change reads DuckDB again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from scoring.access.auth import User
from scoring.data.extract import extract_features
from scoring.data.quality_later import NICENESS, check_into
from scoring.data.source import SourceError, check_database_file, is_feature_set, open_source
from scoring.model.config import ScoringConfig, config_to_dict, dump_config
from scoring.model.features import (
    Features,
    FeatureSpec,
    LaterCategorical,
    decay_free_spec,
    derive_features,
    feature_spec,
    spec_cache_key,
    union_spec,
)
from scoring.registry.store import ConfigStore, default_store

from .jobs import Job, wait_with_progress
from .text import plain


def demo_db() -> Path:
    """Where the demo database is generated on first start: ``<data folder>/demo.duckdb``."""
    from scoring.access.folders import data_dir

    return data_dir() / "demo.duckdb"


def database_path() -> Path:
    """The database of this browser session (picked in the sidebar; first ``$LEADCAL_DB``, else the demo)."""
    from .session import state

    return Path(state().db)


_scored_once = False
"""Whether this server process has scored a model yet (the first time loads the compiled loops)."""


def first_scoring() -> bool:
    """True until this process has scored once: the first time compiles (or loads) the scoring loops."""
    return not _scored_once


def scored_once() -> None:
    """Remember that the scoring loops are ready in this process."""
    global _scored_once
    _scored_once = True


def store_path() -> Path:
    """The config store directory (``$LEADCAL_STORE`` or data/configs)."""
    return default_store()


def demo_to_generate(path: Path) -> bool:
    """True when ``path`` is leadcal's own demo file and it is missing or an older leadcal made it."""
    if path.resolve() != demo_db().resolve():
        return False
    from scoring.data.demo import is_current

    return not (path.exists() and is_current(path))


def ensure_demo(path: Path) -> None:
    """Generate the demo database on first start, and again when an older leadcal made it (it then lacks
    columns the shipped default config maps), with a visible progress message. Only leadcal's own demo
    file is ever replaced, whole (written beside it, then moved into place)."""
    if not demo_to_generate(path):
        return
    from scoring.data.demo import generate

    label = ("The demo database was made by an older leadcal: generating it again (50,000 leads)..."
             if path.exists() else "First start: generating the demo database (50,000 leads)...")
    with st.status(label, expanded=True) as status:
        generate(path, progress=lambda msg: status.write(plain(msg)))
        status.update(label="Demo database ready", state="complete", expanded=False)


def _fingerprint(path: Path) -> str:
    st_ = check_database_file(path).stat()
    return f"{path.resolve()}:{st_.st_size}:{st_.st_mtime_ns}"


def _extract_base(path: str, spec: FeatureSpec, progress) -> Features:
    """The base of a spec: from the disk cache when this database and spec were extracted
    before (a restart at 10M leads takes a second instead of half a minute), else from
    DuckDB, then written to the disk cache in the background (nobody waits for that).

    A new extraction's data-quality checks and its disk cache entry wait until the first
    view is drawn and the user pauses (``finish_loading``): their scans and writes took 6 s
    of a 10M-lead first load, and beside the first view they slowed it threefold. The sidebar says the checks
    are running and shows the findings when they are in; what uses them waits for them. The account key
    (``later_columns``: 3.7 s of a 10M-lead extraction, and only the account view groups by it) is read
    after the checks, before the disk entry, or at once in a thread of its own for whoever needs it first."""
    import datetime as dt

    from scoring.data import feature_cache
    from scoring.data.extract import feature_needs
    from scoring.data.later import later_columns, read_later
    from scoring.data.source import check_columns
    from scoring.model.findings import QualityReport

    complete = False  # whether the account key could be read: no disk entry without it

    def read_account_key() -> None:  # started only once ``features`` below exist
        nonlocal complete
        with suppress(SourceError):  # whoever needs the column is told why
            read_later(path, features)
            complete = True

    reading = _Deferred(read_account_key)
    with open_source(path) as source:
        check_columns(source, feature_needs(spec))  # every mapping problem named before any query
        progress("Looking for a saved extraction of this database...", 0.0)
        cached = feature_cache.load(source, spec)
        if cached is not None:
            return cached
        now = dt.datetime.now()
        features = extract_features(source, spec, now=now, quality=QualityReport.pending(finish_loading), sum_signals=False,
                                    progress=progress, later=later_columns(spec),
                                    start_later=lambda: reading.start(waited_for=True))

    def finish() -> None:
        check_into(features.quality, path, spec.mapping, now, features.data_end, separate_process=True)
        reading.start()
        reading.join()
        if complete:
            feature_cache.save(path, features)

    features.cache["disk_save"] = _after_first_view(finish)  # the decayed sums are saved beside it once written
    return features


class _Deferred:
    """Work held back until the first view is drawn, then run once in a thread of its own.

    Not a daemon: the process waits for it on exit. A daemon thread still inside DuckDB when
    Python shut down was ended under DuckDB's C++ frames and the process aborted
    ("FATAL: exception not rethrown"), as a short-lived process that drew one view did.
    """

    def __init__(self, work) -> None:
        self._work = work
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._after: list | None = []  # None once everything has run

    def then(self, work) -> bool:
        """Have ``work`` run after this, in its thread; False when this has already run (nothing queued)."""
        with _deferred_lock:
            if self._after is None:
                return False
            self._after.append(work)
            return True

    def start(self, waited_for: bool = False) -> None:
        """Start it (once). ``waited_for``: someone waits for it now, so it runs at the app's priority
        (the account key read for the account view), not below it as work nobody waits for."""
        with _deferred_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(waited_for,), name="leadcal-after-first-view",
                                                daemon=False)
                self._thread.start()
                _writing.append(self._thread)
                self._started.set()

    def _run(self, waited_for: bool) -> None:
        if hasattr(os, "setpriority") and not waited_for:  # this thread only (Linux): the first slider moves
            with suppress(OSError):  # get the CPU first
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        try:
            self._work()
        finally:
            self._run_after()

    def _run_after(self) -> None:
        while True:
            with _deferred_lock:
                after, self._after = self._after, ([] if self._after else None)
            if not after:
                return
            for work in after:
                work()

    def join(self) -> None:
        """Wait until it has run (it first waits to be started)."""
        self._started.wait()
        assert self._thread is not None
        self._thread.join()


_deferred_lock = threading.Lock()
_deferred: list[_Deferred] = []
_writing: list[threading.Thread] = []
"""Threads started to write the feature cache (``finish_writes`` waits for those still running)."""


def _after_first_view(work) -> _Deferred:
    item = _Deferred(work)
    with _deferred_lock:
        _deferred.append(item)
    return item


IDLE_BEFORE_LOADING = 3.0
"""Seconds without a page or slider run before the held-back work starts by itself: the checks
and the cache entry then run while the meeting talks, not under the first slider moves
(at 10M leads they made those 80-120 ms slower)."""

_last_activity = [0.0]


def note_activity() -> None:
    """A script run the user asked for (a page, a slider move): held-back work waits for a pause."""
    _last_activity[0] = time.monotonic()


def finish_loading(when_idle: bool = False) -> None:
    """Start the work new extractions held back for their first view (quality checks, cache entry).

    ``when_idle``: only after ``IDLE_BEFORE_LOADING`` seconds without activity (the Calibrate
    page's sidebar asks every two seconds); whatever needs the findings (another page, a
    report) calls it without, and it starts at once. Idempotent and cheap when nothing waits.
    """
    if when_idle and time.monotonic() - _last_activity[0] < IDLE_BEFORE_LOADING:
        return
    with _deferred_lock:
        waiting = list(_deferred)
        _deferred.clear()
    for item in waiting:
        item.start()


@st.cache_resource(max_entries=3, show_spinner=False)
def _base_job(fingerprint: str, base_key: str, _path: str, _spec: FeatureSpec) -> Job[Features]:
    """One extraction per data and decay-free spec, running in the background: the lead arrays
    and the kept events (no sums: every spec's are derived from the events)."""
    return Job(lambda progress: _extract_base(_path, _spec, progress), "leadcal-extraction")


def _base(fingerprint: str, _path: str, spec: FeatureSpec) -> Features:
    """The base extraction, with a progress bar while it runs; a failed one is not kept."""
    key = spec_cache_key(spec)
    job = _base_job(fingerprint, key, _path, spec)
    try:
        return wait_with_progress(job, "Reading the leads:")
    except BaseException:
        if job.failed:  # the next run tries again (e.g. after the mapping is fixed)
            _base_job.clear(fingerprint, key, _path, spec)
        raise


@st.cache_resource(max_entries=4, show_time=True,
                   show_spinner="Weighing the events under the decay (about a second per million leads)...")
def _derived(fingerprint: str, spec_key: str, _base: Features, _spec: FeatureSpec) -> Features:
    """A spec's features, derived from its base: shared lead arrays, its own decayed sums.

    Each entry keeps its base alive, so at most 3 + 4 extractions are held (in practice
    one or two: the draft's decays do not change its base).
    """
    from scoring.data import feature_cache

    keys = [s.key for s in _spec.signals if s.key not in _base.signals]
    known = feature_cache.load_signals(_base, keys)
    derived = derive_features(_base, _spec, known)
    assert derived is not None  # the base has the spec's columns and event types by construction
    new = {k: derived.signals[k] for k in keys if k not in known}
    if new:
        _save_signals(_base, new)
    return derived


def _save_signals(base: Features, signals: dict) -> None:
    """Save decayed sums beside the base's disk entry: after the entry, in the thread that writes it, when
    that is still to come; else now. Never in a daemon thread: one was cut off when the app stopped soon
    after its entry was written, and the next start weighed the events again (0.5 s of a 10M restart)."""
    from scoring.data import feature_cache

    saving = base.cache.get("disk_save")
    if saving is None or not saving.then(lambda: feature_cache.save_signals(base, signals)):
        thread = threading.Thread(target=feature_cache.save_signals, args=(base, signals), name="leadcal-feature-cache",
                                  daemon=False)
        thread.start()
        with _deferred_lock:
            _writing.append(thread)


def finish_writes(timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for the work under way that writes the feature cache (a first load's held-back
    checks and entry, decayed sums); True when none is left. For the server's shutdown: a SIGTERM (a service
    manager's stop) ends the process once the server has shut down, without waiting for such threads, and the
    next start would read the database again (25 s at 10M leads). Work not yet started is not waited for."""
    deadline = time.monotonic() + timeout_s
    with _deferred_lock:
        running = [t for t in _writing if t.is_alive()]
        _writing[:] = running
    for thread in running:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in running)


@st.cache_resource(max_entries=4, show_time=True, show_spinner="Reading the feature set...")
def _feature_set(fingerprint: str, spec_key: str, _path: str, _spec: FeatureSpec) -> Features:
    """Per-lead features from the warehouse (a Parquet feature set): decayed sums as stored, no events."""
    with open_source(_path) as source:
        return extract_features(source, _spec)


def _features(fingerprint: str, spec_key: str, _path: str, _spec: FeatureSpec) -> Features:
    if is_feature_set(_path):
        return _feature_set(fingerprint, spec_key, _path, _spec)
    base = _base(fingerprint, _path, decay_free_spec(_spec))
    return _derived(fingerprint, spec_key, base, _spec)


@st.cache_resource(max_entries=8, show_spinner=False)
def _segment(fingerprint: str, spec_key: str, column: str, value: str, _features: Features) -> Features:
    cat = _features.categorical[column]
    codes = np.flatnonzero(cat.categories == value)
    return _features.subset(np.isin(cat.codes, codes), keep_events=True)  # the decay tab derives from it


def start_loading(path: Path, config: ScoringConfig) -> Job[Features] | None:
    """Start reading what ``features_for(path, config)`` will wait for, without waiting (the server does
    it before any browser connects, see ``ui.preload``): the same job, so the page then finds it running
    or done. None for a feature set (Parquet): the page reads it itself."""
    if is_feature_set(path):
        return None
    spec = decay_free_spec(feature_spec(config))
    return _base_job(_fingerprint(path), spec_cache_key(spec), str(path), spec)


def wait_for_column(features: Features, column: str | None) -> None:
    """Wait, with a spinner that says why, for a column the first view went without (the account key,
    ``scoring.data.later.later_columns``); its reading starts now if it had not."""
    cat = features.categorical.get(column) if column else None
    if isinstance(cat, LaterCategorical) and not cat.ready:
        with st.spinner(f"Reading the account key ({plain(column)}) of {features.n:,} leads: the first view went "
                        "ahead without it...", show_time=True):
            cat.wait()


def features_for(path: Path, *configs: ScoringConfig) -> Features:
    """Features serving all given configs (one extraction when their specs can merge)."""
    spec = feature_spec(configs[0])
    for config in configs[1:]:
        merged = union_spec(spec, feature_spec(config))
        if merged is None:
            raise ValueError("the configs differ in data mapping or evaluation window")
        spec = merged
    return _features(_fingerprint(path), spec_cache_key(spec), str(path), spec)


def features_beside(path: Path, config: ScoringConfig, approved: ScoringConfig) -> Features:
    """Features serving a config and the approved model together when their specs merge
    (one extraction, the same leads), else the config's own."""
    if union_spec(feature_spec(config), feature_spec(approved)) is not None:
        return features_for(path, config, approved)
    return features_for(path, config)


def segment_view(path: Path, features: Features, column: str | None, value: str | None) -> Features:
    """The leads of one segment value (cached), or all leads."""
    if not column or not value:
        return features
    return _segment(_fingerprint(path), spec_cache_key(features.spec), column, value, features)


@dataclass
class Context:
    """What every page needs: the data source, the store, the approved model."""

    db: Path
    store: ConfigStore
    model: str
    """The model picked in the sidebar."""
    approved: ScoringConfig
    approved_ref: str
    """``NAME@VERSION`` of the champion, or 'shipped default' before any approval."""
    segment_column: str | None
    segment_value: str | None
    user: "User | None" = None
    """Who is signed in (None when the app is not shared and nobody signs in)."""


def config_key(config: ScoringConfig) -> str:
    """A stable text key of a config, for caches and comparisons."""
    return json.dumps(config_to_dict(config), sort_keys=True)


def store() -> ConfigStore:
    """The config store of this app."""
    return ConfigStore(store_path())


def model_names() -> list[str]:
    """The store's models and the shipped default, sorted: what the sidebar offers."""
    return sorted(set(store().models()) | {"default"})


def approved(model: str) -> tuple[ScoringConfig, str]:
    """The model's champion and its reference (its starting point, e.g. an import's starter, or the shipped
    default, until one is approved)."""
    s = store()
    champ = s.champion(model) if model in s.models() else None
    if champ is None:
        seeded = model != "default" and (s.root / f"{model}.yaml").is_file()
        return s.approved_config(model), f"starting point {model}.yaml" if seeded else "shipped default"
    return s.load(model, champ.version), champ.ref


def yaml_of(config: ScoringConfig) -> str:
    """The YAML text of a config, for downloads."""
    return dump_config(config)


__all__ = ["Context", "SourceError", "approved", "config_key", "database_path", "ensure_demo",
           "features_for", "segment_view", "store", "store_path", "yaml_of"]


@st.cache_resource(max_entries=4, show_spinner=False)  # each holds one float per lead x a few: 300 MB at 10M leads
def _approved_view(fingerprint: str, spec_key: str, config_json: str, segment: str | None,
                   sql_target: tuple[float, float], capacity: float | None,
                   _config: ScoringConfig, _features: Features):
    from scoring.analysis.calibrate import model_view

    return model_view(_config, _features, sql_target, capacity)


def approved_view(path: Path, features: Features, config: ScoringConfig, segment: str | None,
                  sql_target: tuple[float, float], capacity: float | None):
    """The approved model's result, cached: it only changes with data, segment or settings."""
    return _approved_view(_fingerprint(path), spec_cache_key(features.spec), config_key(config), segment,
                          tuple(sql_target), capacity, config, features)


@st.cache_data(max_entries=8, show_time=True,
               show_spinner="Checking data quality per cohort in DuckDB (a few seconds per million leads)...")
def quality(path_key: str, config_json: str, grain: str, threshold: float, _path: str,
            _config: ScoringConfig, _features: Features) -> QualityByCohort:
    """The data-quality report (SQL per cohort), cached per data, config, grain and threshold."""
    from scoring.analysis.dataquality import quality_report

    with open_source(_path) as source:
        return quality_report(source, _config, _features, grain, threshold)


def quality_for(path: Path, config: ScoringConfig, features: Features, grain: str,
                threshold: float) -> QualityByCohort:
    """Cached data-quality report of a config on the database."""
    return quality(_fingerprint(path), config_key(config), grain, threshold, str(path), config, features)


@st.cache_resource(max_entries=4, show_time=True, show_spinner="Counting conversion, WoE and IV per attribute value...")
def _attributes(fingerprint: str, spec_key: str, config_json: str, segment: str | None, min_leads: int,
                leakage_iv: float, extra: tuple[str, ...], _config: ScoringConfig, _features: Features):
    from scoring.analysis.attributes import attribute_table

    return attribute_table(_config, _features, min_leads=min_leads, leakage_iv=leakage_iv, extra_columns=extra)


def attributes_for(path: Path, features: Features, config: ScoringConfig, segment: str | None, min_leads: int,
                   leakage_iv: float, extra: list[str]):
    """The attribute table, cached per data, segment, config and settings (read only: it is shared)."""
    return _attributes(_fingerprint(path), spec_cache_key(features.spec), config_key(config), segment,
                       int(min_leads), float(leakage_iv), tuple(extra), config, features)


@st.cache_data(max_entries=8, show_time=True, show_spinner="Scoring every cohort against the reference period...")
def _monitor(path_key: str, config_json: str, reference: tuple, grain: str, threshold: float, approval_json: str,
             _config: ScoringConfig, _features: Features, _quality: QualityByCohort, _approval: dict | None):
    from scoring.analysis.monitor import assemble

    return assemble(_config, _features, _quality, reference, grain, _approval)


def monitor_for(path: Path, config: ScoringConfig, features: Features, quality: QualityByCohort,
                reference: tuple, grain: str, approval: dict | None):
    """Cached drift + quality status of a config: a second visit to the Drift page, or a widget change that
    leaves data, version, reference and grain alone, does not score every cohort again."""
    return _monitor(_fingerprint(path), config_key(config), tuple(reference), grain, quality.threshold,
                    json.dumps(approval, sort_keys=True, default=str), config, features, quality, approval)


def pick_version(ctx: Context, key: str) -> tuple[ScoringConfig, str, dict | None]:
    """A model version selector: the approved model first, then every saved version."""
    s = ctx.store
    refs = [v.ref for m in s.models() for v in reversed(s.versions(m))]
    options = [ctx.approved_ref] + [r for r in refs if r != ctx.approved_ref]
    choice = st.selectbox("Model version", options, key=key,
                          help="The approved model (champion) is first; any saved version can be checked.")
    if choice == ctx.approved_ref and "@" not in choice:
        return ctx.approved, choice, None
    from scoring.registry.store import parse_ref

    name, version = parse_ref(choice)
    return s.load(name, version), choice, s.approval(name, version)


@st.cache_data(max_entries=8, show_spinner=False)
def _candidate_columns(fingerprint: str, config_json: str, _path: str, _config: ScoringConfig) -> list[str]:
    from scoring.analysis.attributes import candidate_columns

    with open_source(_path) as source:
        return candidate_columns(source, _config)


def candidate_columns_for(path: Path, config: ScoringConfig) -> list[str]:
    """Leads-table columns the config does not use (cached per data and config)."""
    return _candidate_columns(_fingerprint(path), config_key(config), str(path), config)


@st.cache_resource(max_entries=8, show_time=True,
                   show_spinner="Fitting suggested points on the training period (a few seconds per million "
                                "leads)...")
def _suggestion(fingerprint: str, spec_key: str, config_json: str, segment: str | None, share: float,
                seed: int, include: tuple[str, ...], leakage_iv: float | None, _config: ScoringConfig,
                _features: Features):
    from scoring.analysis.suggest import suggest_points

    return suggest_points(_config, _features, holdout_share=share, seed=seed, include=include,
                          leakage_iv=leakage_iv)


def suggestion_for(path: Path, features: Features, config: ScoringConfig, segment: str | None,
                   share: float, seed: int = 0, include: tuple[str, ...] = (), leakage_iv: float | None = None):
    """Suggested points for a draft (cached: fitting takes seconds on a million leads); ``include``: columns
    flagged as possible leakage put back on purpose; ``leakage_iv``: the Attributes page's line."""
    return _suggestion(_fingerprint(path), spec_cache_key(features.spec), config_key(config), segment,
                       float(share), seed, tuple(include), leakage_iv, config, features)


@st.cache_resource(max_entries=4, show_time=True,
                   show_spinner="Refitting the points under each of the eleven decay options (about ten times "
                                "as long as one suggestion)...")
def _decays(fingerprint: str, spec_key: str, config_json: str, segment: str | None, share: float, seed: int,
            _config: ScoringConfig, _features: Features) -> dict:
    from scoring.analysis.suggest import compare_decays, holdout_split

    return compare_decays(_config, _features, holdout_split(_features, share, seed), seed=seed)


def decays_for(path: Path, features: Features, config: ScoringConfig, segment: str | None,
               share: float, seed: int = 0) -> dict:
    """Every decay option compared on the hold-out (cached)."""
    return _decays(_fingerprint(path), spec_cache_key(features.spec), config_key(config), segment,
                   float(share), seed, config, features)
