"""The features the engine scores: per-lead arrays in memory, and the decayed sums over kept events.

``Features`` holds one value per lead (aligned arrays, sorted by creation time then lead
id): outcome and maturity, categories as integer codes, numbers, and each engagement
signal's decayed activity (sparse). ``FeatureSpec`` says what a config needs from the
data; equal specs give equal features. The events counted at each lead's point in time
are kept as narrow arrays (``KeptEvents``), so a decay change is numpy here
(``derive_features``), never another query.

Point in time: a lead is scored ``scoring_point_days`` after its creation. Only events
strictly before that moment count (or before the conversion, if the lead converted
earlier: what happened after a sale must not explain the sale). Decay is measured to the
scoring point. The outcome is a conversion before ``scoring point + outcome window``; a
lead is mature when that moment is at or before the end of the data.

Reading them out of DuckDB is ``scoring.data.extract``; out of a warehouse's Parquet
result ``scoring.data.feature_set``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace

import numpy as np

from .activity import Activity, row_dtype
from .config import EngagementRule, ScoringConfig, SourceMapping, decay_key, normalise_value
from .findings import QualityReport
from .kernels import add_at, run_count, run_sums

DAY_US = 86_400_000_000


@dataclass(frozen=True)
class Signal:
    """One decayed activity sum: a set of event types under one decay."""

    events: tuple[str, ...]
    """Normalised event types."""
    decay: tuple
    """A ``decay_key``."""

    @property
    def key(self) -> str:
        """Stable name of the signal's feature column."""
        return "ev:" + "+".join(self.events) + "|" + ":".join(str(x) for x in self.decay)


def rule_signal_key(config: ScoringConfig, rule: EngagementRule) -> str:
    """The feature a rule reads: a signal key, or ``col:<name>`` for an activity column."""
    if rule.column is not None:
        return "col:" + rule.column
    events = tuple(sorted({normalise_value(e) for e in rule.events}))
    return Signal(events, decay_key(config.rule_decay(rule))).key


@dataclass(frozen=True)
class FeatureSpec:
    """Everything feature extraction depends on; equal specs give equal features."""

    mapping_json: str
    scoring_point_days: float
    outcome_window_days: float
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    signals: tuple[Signal, ...]

    @property
    def mapping(self) -> SourceMapping:
        """The source mapping."""
        return SourceMapping.model_validate_json(self.mapping_json)


def feature_spec(config: ScoringConfig) -> FeatureSpec:
    """The features a config needs: its columns, its (event set, decay) signals."""
    categorical: set[str] = set()
    numeric: set[str] = set()
    signals: set[Signal] = set()
    for _, rules in config.rule_sets():
        for rule in rules["fit"]:
            (categorical if rule.type == "categorical" else numeric).add(rule.column)
        for rule in rules["engagement"]:
            if rule.column is not None:
                numeric.add(rule.column)
            else:
                events = tuple(sorted({normalise_value(e) for e in rule.events}))
                signals.add(Signal(events, decay_key(config.rule_decay(rule))))
    for seg in config.segments:
        (categorical if seg.filter.values is not None else numeric).add(seg.filter.column)
    if config.source.leads.segment:
        categorical.add(config.source.leads.segment)
    if config.source.leads.account:  # the account view groups leads by its codes
        categorical.add(config.source.leads.account)
    return FeatureSpec(
        mapping_json=config.source.model_dump_json(),
        scoring_point_days=float(config.evaluation.scoring_point_days),
        outcome_window_days=float(config.evaluation.outcome_window_days),
        categorical=tuple(sorted(categorical)),
        numeric=tuple(sorted(numeric)),
        signals=tuple(sorted(signals, key=lambda s: s.key)),
    )


def calendar_months(times: np.ndarray) -> np.ndarray:
    """Calendar month (months since 1970-01, int32) of each datetime64 value.

    Leads come in creation order, so their times are usually sorted: then one binary search per
    month boundary and a repeat (10M leads: 18 ms, where numpy's conversion to months took
    235 ms of the first view); anything else (unsorted, a NaT) takes that conversion.
    """
    if times.size < 2 or not bool(np.all(times[1:] >= times[:-1])):  # a NaT compares False
        return times.astype("datetime64[M]").astype(np.int32)
    first, last = times[0].astype("datetime64[M]"), times[-1].astype("datetime64[M]")
    starts = np.searchsorted(times, np.arange(first + 1, last + 1).astype(times.dtype))
    counts = np.diff(starts, prepend=0, append=times.size)
    return np.repeat(np.arange(int(first.astype(np.int64)), int(last.astype(np.int64)) + 1, dtype=np.int32), counts)


@dataclass
class Categorical:
    """A dictionary-encoded column: ``codes`` index ``categories``; -1 is missing."""

    codes: np.ndarray
    categories: np.ndarray

    def counts(self) -> np.ndarray:
        """Leads per category (missing left out), counted once: the controls show them on every rerun."""
        cached = self.__dict__.get("_counts")
        if cached is None:
            cached = np.bincount(self.codes[self.codes >= 0], minlength=len(self.categories))
            self.__dict__["_counts"] = cached
        return cached

    def values(self) -> np.ndarray:
        """Decoded values (None for missing); for display and tests, not for scoring."""
        out = np.empty(len(self.codes), dtype=object)
        ok = self.codes >= 0
        out[ok] = self.categories[self.codes[ok]]
        out[~ok] = None
        return out

    def subset(self, mask: np.ndarray) -> Categorical:
        """The leads where ``mask`` is true."""
        return Categorical(self.codes[mask], self.categories)


class LaterCategorical(Categorical):
    """A categorical column read after the first view, standing in for it until then.

    An account key has a value per few leads (3.5M companies at 10M leads) and only the
    account view groups by it, yet coding it cost 3.7 s of a 12 s first load. The app
    reads it once the first view is drawn (``scoring.data.later.read_later``); whoever
    needs its codes first waits for them, and ``start`` (idempotent) makes sure that the
    reading they wait for has begun. Pickled as the plain column it becomes.
    """

    def __init__(self, start: Callable[[], None] | None = None, parent: LaterCategorical | None = None,
                 mask: np.ndarray | None = None) -> None:
        self._ready = threading.Event() if parent is None else parent._ready
        self._parent, self._mask, self._start = parent, mask, start
        self._value: Categorical | None = None
        self._error: BaseException | None = None

    @property
    def ready(self) -> bool:
        """True once the column is read (or failed): its codes will not wait."""
        return self._ready.is_set()

    def resolve(self, value: Categorical) -> None:
        """The column, read."""
        self._value = value
        self._ready.set()

    def fail(self, error: BaseException) -> None:
        """The column could not be read: whoever needs it gets ``error``."""
        self._error = error
        self._ready.set()

    def wait(self) -> None:
        """Wait until the column is read or failed (its reading started first if it had not)."""
        if self._parent is not None:
            self._parent.wait()
            return
        if not self._ready.is_set() and self._start is not None:
            self._start()
        self._ready.wait()

    def resolved(self) -> Categorical:
        """The column (waits until it is read; raises the reading's error)."""
        if self._parent is not None:
            if self._value is None:  # the mask is kept: another thread may be taking the same part
                self._value = self._parent.resolved().subset(self._mask)
            return self._value
        self.wait()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    @property  # type: ignore[override]
    def codes(self) -> np.ndarray:
        return self.resolved().codes

    @property  # type: ignore[override]
    def categories(self) -> np.ndarray:
        return self.resolved().categories

    def counts(self) -> np.ndarray:
        return self.resolved().counts()

    def subset(self, mask: np.ndarray) -> Categorical:
        """The leads where ``mask`` is true, read when this column is."""
        if self.ready:
            with suppress(Exception):  # a column that failed fails where it is used, not here
                return self.resolved().subset(mask)
        root = self
        while root._parent is not None:
            mask_up = root._mask
            assert mask_up is not None
            full = np.zeros(mask_up.size, dtype=bool)  # the mask over the root's leads
            full[np.flatnonzero(mask_up)[mask]] = True
            mask, root = full, root._parent
        return LaterCategorical(parent=root, mask=mask)

    def __reduce__(self):
        value = self.resolved()
        return (Categorical, (value.codes, value.categories))


@dataclass(frozen=True, eq=False)
class KeptEvents:
    """The point-in-time events of the counted types, one narrow row each, ordered by (type, row, age).

    Kept from the one events join of an extraction, so a decay change is numpy (weigh
    the ages again and add them up per lead) instead of another pass over the events.
    At 10M leads these are 40M events: 8 bytes each when their times are whole seconds.
    """

    types: tuple[str, ...]
    """Sorted normalised event types."""
    row: np.ndarray
    """int32: the lead's position in the Features arrays."""
    starts: np.ndarray
    """int64, one more than ``types``: the events of ``types[c]`` are ``starts[c]:starts[c + 1]``."""
    age: np.ndarray
    """Time from the event to the lead's scoring point: int32 seconds when every one is a whole
    second (exact, half the memory), else float64 days. ``days`` gives days either way."""

    def days(self, lo: int, hi: int) -> np.ndarray:
        """Ages in days of events ``lo:hi``, as the SQL computes them (microseconds / 86,400e6)."""
        return age_days(self.age[lo:hi])

    def subset(self, mask: np.ndarray, position: np.ndarray) -> "KeptEvents":
        """The events of the leads where ``mask`` is true, rows renumbered by ``position`` (``cumsum(mask) - 1``)."""
        keep = mask[self.row]
        kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        return KeptEvents(self.types, position[self.row[keep]].astype(np.int32), kept_before[self.starts],
                          self.age[keep])


@dataclass
class Features:
    """Per-lead arrays, all aligned, sorted by creation time then lead id."""

    spec: FeatureSpec
    lead_id: np.ndarray
    created_at: np.ndarray
    scoring_at: np.ndarray
    converted: np.ndarray
    """Converted before scoring point + window."""
    mature: np.ndarray
    """The outcome window has fully passed before the data's end."""
    categorical: dict[str, Categorical]
    numeric: dict[str, np.ndarray]
    signals: dict[str, Activity]
    """Decayed event sums by signal key, sparse (dense arrays given here are made sparse)."""
    data_end: dt.datetime
    quality: QualityReport = field(default_factory=QualityReport)
    events: KeptEvents | None = None
    """The kept point-in-time events the signals were summed from (None without event rules)."""
    open: np.ndarray | None = None
    """Still open at the data's end (a three-state outcome: neither won nor lost); None when the
    outcome is a conversion time alone (open and lost cannot be told apart)."""
    deal_value: np.ndarray | None = None
    """float64 won deal value per lead (NaN: none recorded), when ``source.outcome.deal_value``
    is mapped; None otherwise. Only a converted lead's value is won revenue (``revenue``)."""
    converted_at: np.ndarray | None = None
    """datetime64[us] time of the conversion (NaT: none or not known), for time to conversion."""
    cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """Work computed from these leads (outcome status, rule points, scored configs, ...), shared
    with the feature sets derived from this one: they have the same lead arrays, and an
    activity under one signal key is the same array in all of them."""

    def __post_init__(self) -> None:
        self.signals = {k: v if isinstance(v, Activity) else Activity.from_dense(v) for k, v in self.signals.items()}

    @property
    def n(self) -> int:
        """Number of leads."""
        return len(self.lead_id)

    @property
    def point_in_time(self) -> bool:
        """False for data without creation times: nothing is scored as of a moment, no cohorts."""
        return self.spec.mapping.point_in_time if self.spec is not None else True

    @property
    def scoring_month(self) -> np.ndarray:
        """Calendar month of each scoring point (months since 1970), computed once."""
        cached = self.cache.get("scoring_month")
        if cached is None:
            cached = calendar_months(self.scoring_at)
            self.cache["scoring_month"] = cached
        return cached

    def feature(self, key: str) -> np.ndarray:
        """The activity an engagement rule reads (see ``rule_signal_key``), one float per lead
        (a new array: for analysis, the scoring loops take ``activity``)."""
        if key.startswith("col:"):
            return np.nan_to_num(self.numeric[key[4:]], nan=0.0)
        return self.signals[key].dense()

    def activity(self, key: str) -> Activity:
        """The activity an engagement rule reads, sparse; an activity column's is made once."""
        if not key.startswith("col:"):
            return self.signals[key]
        columns = self.cache.setdefault("column_activity", {})
        found = columns.get(key)
        if found is None:
            found = columns[key] = Activity.from_dense(self.numeric[key[4:]])
        return found

    def subset(self, mask: np.ndarray, keep_events: bool = False) -> "Features":
        """The leads where ``mask`` is true (e.g. one segment or one cohort).

        ``keep_events`` also keeps their kept events (renumbered), for a view that
        derives other decays later; the engine's per-segment subsets skip that work.
        """
        position = np.cumsum(mask, dtype=np.int64) - 1 if self.signals or keep_events else None
        return Features(
            spec=self.spec,
            lead_id=self.lead_id[mask],
            created_at=self.created_at[mask],
            scoring_at=self.scoring_at[mask],
            converted=self.converted[mask],
            mature=self.mature[mask],
            categorical={k: v.subset(mask) for k, v in self.categorical.items()},
            numeric={k: v[mask] for k, v in self.numeric.items()},
            signals={k: v.subset(mask, position) for k, v in self.signals.items()},
            data_end=self.data_end,
            quality=self.quality,
            events=self.events.subset(mask, position) if keep_events and self.events is not None else None,
            open=None if self.open is None else self.open[mask],
            deal_value=None if self.deal_value is None else self.deal_value[mask],
            converted_at=None if self.converted_at is None else self.converted_at[mask],
        )


# --------------------------------------------------------------------------- decayed sums in numpy


def event_types(spec: FeatureSpec) -> tuple[str, ...]:
    """The normalised event types the spec's signals count, sorted (the order of ``KeptEvents.starts``)."""
    return tuple(sorted({t for signal in spec.signals for t in signal.events}))


def decay_weights(decay: tuple, age: np.ndarray) -> np.ndarray | None:
    """Each event's weight from its age in days under a ``decay_key``; None means every event counts 1.

    The arithmetic of the SQL weights (``pow(0.5, age / half_life)``, ...) in numpy, so the
    exported SQL and the engine differ at most in summation order.
    """
    kind = decay[0]
    if kind == "exponential":
        return np.power(0.5, age / decay[1])
    if kind == "linear":
        return np.maximum(0.0, 1.0 - age / decay[1])
    if kind == "window":
        return (age < decay[1]) * 1.0
    return None


SUM_CHUNK = 1 << 20
"""Events weighed per step of a decayed sum: the temporaries stay a few MB (at 10M leads the
largest type has 18M events, and weighing it at once took 0.5 GB)."""


def _slices(events: KeptEvents, types: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where the kept events of some types are, in type order (events are ordered by type)."""
    return [(int(events.starts[c]), int(events.starts[c + 1])) for c in sorted(events.types.index(t) for t in types)]


SUM_THREADS = 2
"""Signals summed at once: each sum is numpy and a compiled loop that let go of the interpreter
lock, so two cores sum two signals (10 signals over 40M events at 10M leads: part of the
first view)."""


def signal_sums(events: KeptEvents | None, signals: tuple[Signal, ...], n: int) -> dict[str, Activity]:
    """Each signal's decayed event count per lead, summed from the kept events, kept sparse.

    Each lead's events are added one by one in kept order: by type, then by age within a
    type (what ``np.bincount`` over them all would do), so sums come out the same on every
    run and every derivation, whichever thread sums a signal. Weighed in chunks of
    ``SUM_CHUNK`` events; up to ``SUM_THREADS`` signals at once. A signal of one event type
    is summed run by run of its leads (``_run_sums``), one of several types into one dense
    array per thread, zeroed again for each signal: a new dense array per signal, then its
    sparse form, took 3.1 s for 10 signals at 10M leads in the app (which turns NumPy's huge
    pages off, so every 4 KB page of each new array faulted in).
    """
    if signals and events is None:
        raise ValueError(f"no kept events to count {', '.join(signals[0].events)} from")

    buffers = threading.local()  # one dense array per thread, zeroed again for each of its signals

    def one(signal: Signal) -> Activity:
        slices = _slices(events, signal.events)
        if len(slices) == 1:  # one type: its events come lead by lead
            return _run_sums(events, signal.decay, *slices[0], n)
        sums = getattr(buffers, "sums", None)
        if sums is None:
            sums = buffers.sums = np.zeros(n)
        else:
            sums.fill(0.0)
        for lo, hi in slices:
            for start in range(lo, hi, SUM_CHUNK):
                stop = min(hi, start + SUM_CHUNK)
                weights = decay_weights(signal.decay, events.days(start, stop))
                add_at(sums, events.row[start:stop], np.ones(stop - start) if weights is None else weights)
        return Activity.from_dense(sums)

    if len(signals) < 2:
        return {signal.key: one(signal) for signal in signals}
    with ThreadPoolExecutor(min(SUM_THREADS, len(signals)), thread_name_prefix="leadcal-sums") as pool:
        return dict(zip((signal.key for signal in signals), pool.map(one, signals)))


def _run_sums(events: KeptEvents, decay: tuple, lo: int, hi: int, n: int) -> Activity:
    """The decayed sums of the kept events ``lo:hi`` (one type: sorted by lead, then age) per lead,
    sparse from the start (``kernels.run_sums``): the same values as adding them into an array
    of zeros and keeping its non-zero entries."""
    rows = events.row
    runs = run_count(rows[lo:hi])
    out_rows, out_values = np.empty(runs, dtype=row_dtype(n)), np.empty(runs)
    k, row, total = 0, -1, 0.0
    ones = None
    for start in range(lo, hi, SUM_CHUNK):
        stop = min(hi, start + SUM_CHUNK)
        weights = decay_weights(decay, events.days(start, stop))
        if weights is None:
            ones = np.ones(min(SUM_CHUNK, hi - lo)) if ones is None else ones
            weights = ones[:stop - start]
        k, row, total = run_sums(rows[start:stop], weights, n, out_rows, out_values, k, row, total, stop == hi)
    if k < runs:  # some sums were 0 (every event weighed 0): not kept
        out_rows, out_values = out_rows[:k].copy(), out_values[:k].copy()
    return Activity(out_rows, out_values, n)


def age_days(age: np.ndarray) -> np.ndarray:
    """Ages in days from either form ``_age`` keeps (int32 seconds are exact in microseconds)."""
    if age.dtype == np.float64:
        return age
    return (age.astype(np.int64) * 1_000_000) / float(DAY_US)


def derive_features(base: Features, spec: FeatureSpec,
                    known: dict[str, Activity] | None = None) -> Features | None:
    """The features of ``spec`` computed from ``base`` without DuckDB, or None when that is not possible.

    Possible when the spec differs from base's only in decays (or needs fewer columns):
    same mapping, scoring point and window, its columns among base's, every event type
    its signals count among the events base kept. The result shares base's lead arrays
    (no copies) and base's signal arrays where the key is the same; other signals are
    decayed again from the kept events (a bincount each), unless ``known`` has them
    (sums of these very leads kept from an earlier run).
    """
    have = base.spec
    if (spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days) != (
        have.mapping_json, have.scoring_point_days, have.outcome_window_days
    ):
        return None
    if not (set(spec.categorical) <= set(base.categorical) and set(spec.numeric) <= set(base.numeric)):
        return None
    known = known or {}
    new = [s for s in spec.signals if s.key not in base.signals and s.key not in known]
    kept = set(base.events.types) if base.events is not None else set()
    if not {t for s in new for t in s.events} <= kept:
        return None
    computed = {**known, **signal_sums(base.events, tuple(new), base.n)}
    derived = replace(
        base,
        spec=spec,
        categorical={c: base.categorical[c] for c in spec.categorical},
        numeric={c: base.numeric[c] for c in spec.numeric},
        signals={s.key: base.signals.get(s.key, computed.get(s.key)) for s in spec.signals},
    )
    derived.cache = base.cache  # same leads: what was computed from them still holds
    return derived


def decay_free_spec(spec: FeatureSpec) -> FeatureSpec:
    """The spec without its decays: same columns, one undecayed signal over all its event types.

    What a cache of extractions is keyed on: every spec differing only in decays derives
    from the features of this one (``derive_features``).
    """
    types = event_types(spec)
    return FeatureSpec(spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days,
                       spec.categorical, spec.numeric, (Signal(types, ("none",)),) if types else ())


def spec_cache_key(spec: FeatureSpec) -> str:
    """A string key of a spec, for caches that need one."""
    return json.dumps(
        [spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days,
         spec.categorical, spec.numeric, [s.key for s in spec.signals]]
    )


def union_spec(a: FeatureSpec, b: FeatureSpec) -> FeatureSpec | None:
    """One spec serving two configs on the same data and evaluation, else None.

    The draft and the approved model are compared on the very same leads; when they
    share the mapping and evaluation, one extraction serves both.
    """
    if (a.mapping_json, a.scoring_point_days, a.outcome_window_days) != (
        b.mapping_json, b.scoring_point_days, b.outcome_window_days
    ):
        return None
    return FeatureSpec(
        mapping_json=a.mapping_json,
        scoring_point_days=a.scoring_point_days,
        outcome_window_days=a.outcome_window_days,
        categorical=tuple(sorted(set(a.categorical) | set(b.categorical))),
        numeric=tuple(sorted(set(a.numeric) | set(b.numeric))),
        signals=tuple(sorted(set(a.signals) | set(b.signals), key=lambda s: s.key)),
    )
