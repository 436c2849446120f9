"""Feature extraction in pieces: kept events, decayed sums in numpy, derived decays, categorical codes.

Every expectation is computed independently: decayed sums by a plain DuckDB aggregation
written out below, categories by Arrow's dictionary encoding of the sorted leads (what
extraction did before it coded them in SQL), kept events by hand.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from scoring.data import extract as xmod
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model import features as fmod
from scoring.model.config import config_from_dict, normalise_value, parse_config
from scoring.model.features import FeatureSpec, Signal, decay_free_spec, derive_features, feature_spec

from .conftest import DAY, SMALL_CONFIG, T0, file_digest, make_db

TYPES = ["demo_request", "email_open", "Email_Click", " pricing_page_view ", "webinar"]
DECAYS = [
    {"kind": "exponential", "half_life_days": 9},
    {"kind": "linear", "lifespan_days": 12},
    {"kind": "window", "days": 5},
    {"kind": "none"},
]


@pytest.fixture(scope="module")
def messy_db(tmp_path_factory):
    """400 random leads (duplicate ids, missing creation times), 8,000 events around their
    creation with every kind of timing (before creation, after the scoring point, after the
    conversion, after the data's end, unknown leads), conversions before and after the
    scoring point."""
    rng = np.random.default_rng(11)
    n = 400
    minutes = rng.integers(0, 200 * 24 * 60, n)
    created = [T0 + dt.timedelta(minutes=int(m)) for m in minutes]
    leads = [(i, None if i % 97 == 5 else created[i], str(rng.choice(["VP", " vp", "CEO", "Select", ""])),
              int(rng.integers(1, 5000)), str(rng.choice(["free", "business"]))) for i in range(n)]
    leads += [(i, T0 + dt.timedelta(days=int(rng.integers(0, 200))), "Student", 1, "free") for i in range(0, n, 13)]
    events = []
    for _ in range(8_000):
        lead = int(rng.integers(0, n + 20))  # some unknown
        start = created[lead] if lead < n else T0
        when = start + dt.timedelta(minutes=int(rng.integers(-20 * 24 * 60, 12 * 24 * 60)))
        events.append((lead, str(rng.choice(TYPES)), when))
    events.append((3, "demo_request", dt.datetime(2999, 1, 1)))  # after the data's end
    outcomes = [(i, created[i] + dt.timedelta(minutes=int(rng.integers(0, 40 * 24 * 60))), float(i))
                for i in range(0, n, 3)]
    path = tmp_path_factory.mktemp("messy") / "messy.duckdb"
    con = duckdb.connect(str(path))
    for name, rows, columns in (
        ("leads", leads, ["lead_id", "created_at", "seniority", "company_size", "email_domain_type"]),
        ("events", events, ["lead_id", "event_type", "occurred_at"]),
        ("outcomes", outcomes, ["lead_id", "converted_at", "deal_value"]),
    ):
        con.register("new_rows", pa.Table.from_pylist([dict(zip(columns, row)) for row in rows]))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM new_rows")
        con.unregister("new_rows")
    con.close()
    return path


def _config(decay: dict, events: list, extra: list | None = None):
    rules = [{"event": events, "points": 1}] + (extra or [])
    return config_from_dict({
        "source": {"events": {}, "outcome": {"table": "outcomes", "deal_value": "deal_value"}},
        "evaluation": {"scoring_point_days": 7, "outcome_window_days": 30},
        "decay": decay,
        "fit": [{"type": "categorical", "column": "seniority", "points": {"VP": 1}}],
        "engagement": rules,
        "thresholds": {"mql": 1, "sql": 2},
        "bands": [1],
    })


def _weight_sql(decay: dict) -> str:
    kind = decay["kind"]
    if kind == "exponential":
        return f"pow(0.5, age / {decay['half_life_days']})"
    if kind == "linear":
        return f"greatest(0.0, 1.0 - age / {decay['lifespan_days']})"
    if kind == "window":
        return f"CASE WHEN age < {decay['days']} THEN 1.0 ELSE 0.0 END"
    return "1.0"


def _reference_sums(db, decay: dict, types: list[str], end: dt.datetime) -> dict:
    """Lead id -> decayed sum, by the straightforward SQL: earliest creation per id, scoring
    point 7 days later, earliest known conversion, events strictly before both."""
    sql = f"""
        WITH l AS (SELECT lead_id, min(created_at) + INTERVAL 7 DAY AS scoring FROM leads
                   WHERE lead_id IS NOT NULL GROUP BY 1 HAVING min(created_at) IS NOT NULL),
             o AS (SELECT lead_id, min(converted_at) AS conv FROM outcomes WHERE converted_at <= $end GROUP BY 1),
             e AS (SELECT l.lead_id, (epoch_us(l.scoring) - epoch_us(e.occurred_at)) / 86400000000.0 AS age
                   FROM events e JOIN l ON e.lead_id = l.lead_id LEFT JOIN o ON o.lead_id = l.lead_id
                   WHERE e.occurred_at < l.scoring AND (o.conv IS NULL OR e.occurred_at < o.conv)
                     AND e.occurred_at <= $end AND list_contains($types, lower(trim(e.event_type))))
        SELECT lead_id, sum(CAST({_weight_sql(decay)} AS DOUBLE)) FROM e GROUP BY 1"""
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute(sql, {"end": end, "types": types}).fetchall())


def test_events_after_the_data_end_never_count_even_before_the_scoring_point(tmp_path):
    """A lead created just before the data's end is scored a week later, in the future: of its
    events before that point, those up to the data's end count, a later one (a future date in
    the export) does not. By hand: 2 of the 3 events."""
    end = dt.datetime(2026, 6, 30, 12, 0)
    db = make_db(tmp_path / "end.duckdb", [(1, end - dt.timedelta(days=2), "VP", 10, "x"),
                                           (2, end - dt.timedelta(days=60), "VP", 10, "x")],
                 events=[(1, "demo_request", end - dt.timedelta(days=1)),
                         (1, "demo_request", end),  # the data's end itself: counted
                         (1, "demo_request", end + dt.timedelta(days=2)),  # after it, before the scoring point
                         (2, "demo_request", end - dt.timedelta(days=59))])
    config = _config({"kind": "none"}, ["demo_request"])
    with open_source(db) as source:
        features = extract_features(source, config, now=end + dt.timedelta(days=1))
    assert features.data_end == end
    sums = dict(zip(features.lead_id.tolist(), features.feature(_signal_key(config)).tolist()))
    assert sums == {1: 2.0, 2: 1.0}


def test_lead_order_check_by_hand():
    t = np.array(["2024-01-01", "2024-01-01", "2024-01-02"], dtype="datetime64[us]")
    assert xmod._in_lead_order(t, np.array([1, 2, 0]))  # a tie broken by id, then a later time
    assert not xmod._in_lead_order(t, np.array([2, 1, 0]))  # the tie in the wrong order
    assert not xmod._in_lead_order(t[::-1], np.array([0, 1, 2]))
    nat = np.array(["NaT", "NaT"], dtype="datetime64[us]")  # no creation times: by id alone
    assert xmod._in_lead_order(nat, np.array(["a", "b"], dtype=object))
    assert not xmod._in_lead_order(nat, np.array(["b", "a"], dtype=object))


def test_leads_numbered_by_their_place_equal_leads_numbered_by_a_window(messy_db, monkeypatch):
    """The temp table's order gives each lead's row (fast); when the order read back is not the
    final one, the extraction numbers the rows by a window instead: both give the same features."""
    config = _config({"kind": "exponential", "half_life_days": 10}, ["demo_request", "email_click"])
    with open_source(messy_db) as source:
        fast = extract_features(source, config)
    assert xmod._in_lead_order(fast.created_at, fast.lead_id)
    calls = []

    def never(created, ids):
        calls.append(len(ids))
        return False

    monkeypatch.setattr(xmod, "_in_lead_order", never)
    with open_source(messy_db) as source:
        slow = extract_features(source, config)
    assert calls == [fast.n]  # checked once, then numbered by the window without a second check
    _assert_same_features(fast, slow)
    np.testing.assert_array_equal(fast.feature(_signal_key(config)), slow.feature(_signal_key(config)))


def test_a_temp_table_out_of_order_is_numbered_again_with_its_events(messy_db, monkeypatch):
    """The events are read before the lead columns (their join is the load's largest memory). When
    the temp table's order then turns out not to be the final one, the leads are numbered by a
    window and the events read again: each event stays with its own lead."""
    config = _config({"kind": "exponential", "half_life_days": 10}, ["demo_request", "email_click"])
    with open_source(messy_db) as source:
        expected = extract_features(source, config)
    real = xmod._leads_sql

    def reversed_order(spec, dictionaries, numbered=True, unique_ids=xmod.UniqueIds(False, False)):
        sql, params = real(spec, dictionaries, numbered, unique_ids)
        if not numbered:  # written in the wrong order: the check after reading must catch it
            sql = sql.replace("ORDER BY b.__created, b.__id", "ORDER BY b.__created DESC, b.__id DESC")
        return sql, params

    monkeypatch.setattr(xmod, "_leads_sql", reversed_order)
    with open_source(messy_db) as source:
        got = extract_features(source, config)
    _assert_same_features(expected, got)
    key = _signal_key(config)
    assert np.count_nonzero(expected.feature(key)) > 50
    np.testing.assert_array_equal(got.feature(key), expected.feature(key))
    np.testing.assert_array_equal(got.events.row, expected.events.row)


def test_an_extraction_tells_its_progress_bar_what_it_is_doing(messy_db):
    """The first load's progress bar: each step in words, the events counted against the table's rows,
    fractions between 0 and 1, and the leads' count last."""
    config = _config({"kind": "exponential", "half_life_days": 10}, ["demo_request", "email_click"])
    told = []
    with open_source(messy_db) as source:
        features = extract_features(source, config, progress=lambda message, fraction: told.append((message, fraction)))
    messages = [m for m, _ in told]
    assert all(0.0 <= f <= 1.0 for _, f in told)
    assert messages[0].startswith("Checking data quality")
    assert any(m.startswith("Reading the leads") for m in messages)
    counted = [m for m in messages if m.startswith("Reading point-in-time events")]
    assert counted and counted[-1].startswith(f"Reading point-in-time events: {features.events.row.size:,} of at most")
    assert messages[-1] == f"Read {features.n:,} leads"


def test_leads_with_unique_ids_skip_the_deduplication_window_and_equal_it(tmp_path, messy_db, monkeypatch):
    """Ids that never repeat (NULL ids left out) need no window; forcing the window gives the same
    features, and a table with a repeated id is told apart."""
    leads = [(3, T0 + DAY, "VP", 10, "free"), (1, T0, "CEO", 5, "business"), (None, T0, "VP", 1, "x"),
             (None, T0 + DAY, "VP", 1, "x"), (2, None, "VP", 1, "x"), (4, T0, "Intern", 3, None)]
    events = [(1, "demo_request", T0 + DAY), (3, "demo_request", T0 + 2 * DAY), (4, "email_click", T0 + DAY)]
    db = make_db(tmp_path / "u.duckdb", leads, events, [(1, T0 + 5 * DAY, 9.0)])
    config = _config({"kind": "exponential", "half_life_days": 10}, ["demo_request", "email_click"])
    with open_source(db) as source:
        assert xmod._ids_unique(source, config.source) == xmod.UniqueIds(leads=True, outcomes=True)
        fast = extract_features(source, config)
    with open_source(messy_db) as source:
        assert not xmod._ids_unique(source, config.source).leads
    monkeypatch.setattr(xmod, "_ids_unique", lambda source, mapping: xmod.UniqueIds(False, False))
    with open_source(db) as source:
        windowed = extract_features(source, config)
    assert fast.lead_id.tolist() == [1, 4, 3]  # the NULL ids and the lead without a creation time left out
    _assert_same_features(fast, windowed)
    np.testing.assert_array_equal(fast.feature(_signal_key(config)), windowed.feature(_signal_key(config)))



ID_COLUMNS = {  # (DuckDB type, values): ids as CRM exports carry them
    "unique BIGINT, NULLs": ("BIGINT", [5, 1, None, 3, 2, None, 4]),
    "a repeated BIGINT": ("BIGINT", [5, 1, 3, 2, 3, 4]),
    "negative INTEGER": ("INTEGER", [-7, -2, 0, 9, -3]),
    "repeated at the range's ends": ("SMALLINT", [-32768, 32767, 0, -32768]),
    "UBIGINT above 2**63": ("UBIGINT", [2**64 - 1, 2**64 - 2, 2**64 - 3]),
    "repeated HUGEINT": ("HUGEINT", [2**100, 2**100 + 1, 2**100]),
    "UTINYINT, all NULL": ("UTINYINT", [None, None]),
    "empty": ("BIGINT", []),
    "HubSpot-like ids spread over billions": ("BIGINT", [101, 48_213_907_114, 9_001_337_402, 101]),
    "Salesforce-like text ids": ("VARCHAR", ["00Q5e00000AbCdE", "00Q5e00000AbCdF", "00Q5e00000AbCdE"]),
    "ids as DOUBLE": ("DOUBLE", [1.0, 2.0, 3.0]),
}


@pytest.mark.parametrize("data_type, values", ID_COLUMNS.values(), ids=ID_COLUMNS.keys())
def test_ids_told_unique_by_a_bitmap_equal_a_python_set(tmp_path, data_type, values):
    """Integer ids over a narrow range are checked by a bitmap (bit count of distinct ids against the
    count), with the answer of a Python set; text, floats and ids spread over billions are left to the
    GROUP BY (None), which gives the same answer."""
    path = tmp_path / "ids.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE TABLE t (id {data_type})")
        if values:
            con.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    known = [v for v in values if v is not None]
    expected = len(set(known)) == len(known)
    with open_source(path) as source:
        by_bitmap = xmod._unique_by_bitmap(source, "t", "id")
        assert xmod._unique_by_grouping(source, "t", "id") is expected
    narrow = data_type not in ("VARCHAR", "DOUBLE") and (not known or max(known) - min(known) < 1 << 16)
    assert by_bitmap is (expected if narrow else None)


OUTCOME_FORMS = {
    "time": {"converted_at": "closed_at"},
    "time and value": {"converted_at": "closed_at", "deal_value": "amount"},
    "won/lost/open": {"converted": "won", "converted_at": None},
    "won/lost/open, time, value": {"converted": "won", "converted_at": "closed_at", "deal_value": "amount"},
    "won/lost/open, stale lost": {"converted": "won", "converted_at": "closed_at", "open_lost_after_days": 30},
}


@pytest.mark.parametrize("form", OUTCOME_FORMS.values(), ids=OUTCOME_FORMS.keys())
def test_an_outcome_table_with_one_row_per_lead_needs_no_group_by(tmp_path, monkeypatch, form):
    """One outcome row per lead (NULL ids aside) is read as it is; the GROUP BY of the general way
    gives the same outcome, conversion time and deal value for every form of outcome."""
    db = make_db(tmp_path / "o.duckdb", [(i, T0 + i * DAY, "VP", 1, "x") for i in range(1, 9)])
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE deals (lead_id BIGINT, won BOOLEAN, closed_at TIMESTAMP, amount DOUBLE)")
        con.executemany("INSERT INTO deals VALUES (?, ?, ?, ?)", [
            (1, True, T0 + 5 * DAY, 100.0), (2, False, T0 + 9 * DAY, 50.0), (3, None, None, None),
            (4, True, T0 + 400 * DAY, 7.5), (5, True, None, float("inf")), (6, False, None, float("nan")),
            (None, True, T0, 1.0), (None, False, T0, 2.0), (8, True, dt.datetime(2999, 1, 1), 3.0)])
    config = config_from_dict({"source": {"outcome": {"table": "deals", **form}},
                               "fit": [{"type": "categorical", "column": "seniority", "points": {"VP": 1}}],
                               "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    with open_source(db) as source:
        assert xmod._ids_unique(source, config.source) == xmod.UniqueIds(leads=True, outcomes=True)
        one_row = extract_features(source, config, now=dt.datetime(2031, 1, 1))
    monkeypatch.setattr(xmod, "_ids_unique", lambda source, mapping: xmod.UniqueIds(True, False))
    with open_source(db) as source:
        grouped = extract_features(source, config, now=dt.datetime(2031, 1, 1))
    _assert_same_features(one_row, grouped)
    for name in ("open", "deal_value", "converted_at"):
        a, b = getattr(one_row, name), getattr(grouped, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert one_row.converted.any() and not one_row.converted.all()  # the cases differ: not all one answer


def _signal_key(config) -> str:
    return fmod.rule_signal_key(config, config.engagement[0])


@pytest.mark.parametrize("decay", DECAYS, ids=[d["kind"] for d in DECAYS])
@pytest.mark.parametrize("events", [["demo_request"], ["EMAIL_open", "email_click"]], ids=["one", "two"])
def test_decayed_sums_equal_a_plain_sql_aggregation(messy_db, decay, events):
    config = _config(decay, events)
    with open_source(messy_db) as source:
        features = extract_features(source, config)
    expected_by_id = _reference_sums(messy_db, decay, [e.lower() for e in events], features.data_end)
    expected = np.array([expected_by_id.get(i, 0.0) for i in features.lead_id.tolist()])
    got = features.feature(_signal_key(config))
    assert got.dtype == np.float64 and got.shape == (features.n,)
    assert (expected != 0).sum() > 50  # the test data exercises the sums
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _assert_same_features(a, b) -> None:
    for name in ("lead_id", "created_at", "scoring_at", "converted", "mature"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.categorical.keys() == b.categorical.keys()
    for col in a.categorical:
        np.testing.assert_array_equal(a.categorical[col].codes, b.categorical[col].codes)
        assert a.categorical[col].categories.tolist() == b.categorical[col].categories.tolist()
    assert a.numeric.keys() == b.numeric.keys()
    for col in a.numeric:
        np.testing.assert_array_equal(a.numeric[col], b.numeric[col])
    assert a.signals.keys() == b.signals.keys()
    for key in a.signals:
        np.testing.assert_allclose(a.feature(key), b.feature(key), rtol=1e-12, atol=1e-12, err_msg=key)
    assert a.data_end == b.data_end and a.spec == b.spec


def test_derived_decay_equals_a_fresh_extraction_and_shares_the_leads(messy_db):
    extra = [{"event": "webinar", "points": 2, "decay": {"kind": "window", "days": 20}}]
    base_config = _config({"kind": "exponential", "half_life_days": 30}, ["demo_request", "email_click"], extra)
    with open_source(messy_db) as source:
        base = extract_features(source, base_config)
        for decay in DECAYS:
            other = feature_spec(_config(decay, ["demo_request", "email_click"], extra))
            assert other != base.spec
            derived = derive_features(base, other)
            assert derived is not None
            _assert_same_features(derived, extract_features(source, other))
            for name in ("lead_id", "created_at", "scoring_at", "converted", "mature"):
                assert np.shares_memory(getattr(derived, name), getattr(base, name)), name
            assert np.shares_memory(derived.categorical["seniority"].codes, base.categorical["seniority"].codes)
            webinar = next(s.key for s in other.signals if s.events == ("webinar",))
            assert derived.signals[webinar] is base.signals[webinar]  # same key: the same array
            assert derived.cache is base.cache  # same leads: work on them is shared


def test_derive_needs_the_columns_and_event_types_base_kept(messy_db):
    config = _config({"kind": "none"}, ["demo_request"])
    with open_source(messy_db) as source:
        base = extract_features(source, config)
    spec = base.spec
    new_type = feature_spec(_config({"kind": "none"}, ["demo_request", "webinar"]))
    assert derive_features(base, new_type) is None
    with_column = FeatureSpec(spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days,
                              spec.categorical + ("email_domain_type",), spec.numeric, spec.signals)
    assert derive_features(base, with_column) is None
    numeric = FeatureSpec(spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days,
                          spec.categorical, ("company_size",), spec.signals)
    assert derive_features(base, numeric) is None
    window = FeatureSpec(spec.mapping_json, spec.scoring_point_days, 60.0, spec.categorical, spec.numeric,
                         spec.signals)
    assert derive_features(base, window) is None
    fewer = FeatureSpec(spec.mapping_json, spec.scoring_point_days, spec.outcome_window_days, (), (),
                        (Signal(("demo_request",), ("exponential", 3.0)),))
    derived = derive_features(base, fewer)
    assert derived is not None and derived.categorical == {} and list(derived.signals) == [fewer.signals[0].key]


def test_decay_free_spec_serves_every_decay(messy_db):
    config = _config({"kind": "linear", "lifespan_days": 20}, ["demo_request", "email_click"],
                     [{"event": "webinar", "points": 1, "decay": {"kind": "window", "days": 3}}])
    spec = feature_spec(config)
    base_spec = decay_free_spec(spec)
    assert [s.decay for s in base_spec.signals] == [("none",)]
    assert base_spec.signals[0].events == ("demo_request", "email_click", "webinar")
    with open_source(messy_db) as source:
        base = extract_features(source, base_spec)
        _assert_same_features(derive_features(base, spec), extract_features(source, spec))


def test_kept_events_by_hand(small_db):
    """Only events strictly before the scoring point and before the conversion are kept."""
    config = parse_config(SMALL_CONFIG)
    with open_source(small_db) as source:
        features = extract_features(source, config)
    kept = features.events
    assert kept.types == ("demo_request", "email_click", "email_open")
    assert (kept.row.dtype, kept.age.dtype) == (np.int32, np.int32)  # whole seconds: kept as int32 seconds
    assert kept.starts.tolist() == [0, 4, 5, 7]
    code = np.repeat(np.arange(len(kept.types)), np.diff(kept.starts))
    got = list(zip(code.tolist(), kept.row.tolist(), kept.days(0, len(kept.row)).tolist()))
    # lead 1 (row 0): demo requests 1 and 17 days before its scoring point (the one at the
    # scoring point is not kept), an email open 6 days before. Lead 2 (row 1): a click and an
    # open; its open after the scoring point is not kept. Lead 4 (row 3): demo requests 6 and
    # 5 days before; its email open after the conversion (day 5.5) is not kept. Lead 99 is unknown.
    assert got == [(0, 0, 1.0), (0, 0, 17.0), (0, 3, 5.0), (0, 3, 6.0), (1, 1, 6.0), (2, 0, 6.0), (2, 1, 5.0)]


def test_kept_events_are_ordered_the_same_on_every_run(messy_db):
    config = _config({"kind": "none"}, ["demo_request", "email_click", "webinar", "pricing_page_view"])
    runs = []
    for _ in range(3):
        with open_source(messy_db) as source:
            runs.append(extract_features(source, config).events)
    first = runs[0]
    assert len(first.row) > 1000
    code = np.repeat(np.arange(len(first.types)), np.diff(first.starts))
    order = np.lexsort((first.age, first.row, code))
    np.testing.assert_array_equal(order, np.arange(len(order)))  # sorted by (type, row, age)
    for other in runs[1:]:
        for name in ("row", "starts", "age"):
            np.testing.assert_array_equal(getattr(other, name), getattr(first, name))


def test_no_event_rules_keep_no_events(small_db):
    config = config_from_dict({"source": {"outcome": {"table": "outcomes"}},
                               "fit": [{"type": "categorical", "column": "seniority", "points": {"VP": 1}}],
                               "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    with open_source(small_db) as source:
        features = extract_features(source, config)
    assert features.events is None and features.signals == {}


def test_segment_view_keeps_its_events_renumbered(messy_db):
    config = _config({"kind": "exponential", "half_life_days": 5}, ["demo_request", "email_click"])
    with open_source(messy_db) as source:
        features = extract_features(source, config)
    mask = features.lead_id % 2 == 0
    sub = features.subset(mask, keep_events=True)
    assert features.subset(mask).events is None  # the engine's per-segment subsets skip the events
    other = feature_spec(_config({"kind": "linear", "lifespan_days": 8}, ["demo_request", "email_click"]))
    whole = derive_features(features, other)
    part = derive_features(sub, other)
    key = other.signals[0].key
    np.testing.assert_array_equal(part.feature(key), whole.feature(key)[mask])


# --------------------------------------------------------------------------- categorical codes


def _old_encoding(db, column: str, missing: list[str]) -> tuple[list, list]:
    """What extraction did before: trimmed text with missing markers as NULL, sorted leads,
    Arrow's dictionary encoding (categories in order of first appearance)."""
    text = f"trim(CAST({column} AS VARCHAR))"
    sql = f"""
        SELECT CASE WHEN list_contains($missing, lower({text})) THEN NULL ELSE {text} END AS v
        FROM (SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY created_at NULLS LAST) AS rn
              FROM leads WHERE lead_id IS NOT NULL)
        WHERE rn = 1 AND created_at IS NOT NULL ORDER BY created_at, lead_id"""
    with duckdb.connect(str(db), read_only=True) as con:
        table = con.sql(sql, params={"missing": missing}).to_arrow_table()
    enc = pc.dictionary_encode(table.column("v")).combine_chunks()
    return enc.indices.fill_null(-1).to_pylist(), enc.dictionary.to_pylist()


@pytest.mark.parametrize("lookup_max, bind_max", [(64, 10_000), (0, 10_000), (0, 0)],
                         ids=["list-scan", "hash-join", "registered-arrow-dictionary"])
def test_categorical_codes_match_the_old_encoding(tmp_path, monkeypatch, lookup_max, bind_max):
    monkeypatch.setattr(xmod, "LIST_LOOKUP_MAX", lookup_max)
    monkeypatch.setattr(xmod, "BIND_MAX", bind_max)  # 0: every dictionary handed to DuckDB as an Arrow table
    leads = [
        (5, T0 + 2 * DAY, " vp ", 1, "free"),
        (1, T0, "CEO", 1, "Select"),
        (2, T0 + DAY, "VP", 1, None),
        (3, T0 + DAY, "N/A", 1, "business "),
        (4, T0 + 3 * DAY, "vp", 1, "business"),
        (1, T0 + 9 * DAY, "Intern", 1, "x"),       # a later duplicate of id 1: its values are not used
        (7, None, "Ghost", 1, "x"),                 # no creation time: left out
        (6, T0 + 3 * DAY, None, 1, "-"),
    ]
    db = make_db(tmp_path / "c.duckdb", leads)
    config = config_from_dict({
        "source": {"outcome": {"table": "outcomes"}},
        "fit": [{"type": "categorical", "column": "seniority", "points": {"VP": 1}},
                {"type": "categorical", "column": "email_domain_type", "points": {"free": 1}}],
        "thresholds": {"mql": 1, "sql": 2}, "bands": [1],
    })
    with open_source(db) as source:
        features = extract_features(source, config)
    assert features.lead_id.tolist() == [1, 2, 3, 5, 4, 6]
    seniority = features.categorical["seniority"]
    assert seniority.codes.dtype == np.int16
    assert seniority.categories.tolist() == ["CEO", "VP", "vp"]  # first appearance; 'Intern', 'Ghost' never kept
    assert seniority.values().tolist() == ["CEO", "VP", None, "vp", "vp", None]
    domain = features.categorical["email_domain_type"]
    assert domain.values().tolist() == [None, None, "business", "free", "business", None]
    missing = [normalise_value(m) for m in config.source.missing_values]
    for column in ("seniority", "email_domain_type"):
        codes, categories = _old_encoding(db, column, missing)
        assert features.categorical[column].codes.tolist() == codes
        assert features.categorical[column].categories.tolist() == categories


def test_many_categories_are_coded_in_int32(tmp_path):
    n = 33_000
    db = tmp_path / "wide.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE leads AS SELECT i AS lead_id, TIMESTAMP '2024-01-01' + to_seconds(i) AS created_at, "
                "'v' || (i * 7919 % $n)::VARCHAR AS seniority FROM range($n) t(i)", {"n": n})
    con.execute("CREATE TABLE outcomes (lead_id BIGINT, converted_at TIMESTAMP)")
    con.close()
    config = config_from_dict({"source": {"outcome": {"table": "outcomes"}},
                               "fit": [{"type": "categorical", "column": "seniority", "points": {}}],
                               "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    with open_source(db) as source:
        cat = extract_features(source, config).categorical["seniority"]
    assert cat.codes.dtype == np.int32
    assert cat.codes.tolist() == list(range(n))
    assert cat.categories.tolist() == [f"v{i * 7919 % n}" for i in range(n)]


def _by_raw(dictionary) -> dict:
    """Each stored text -> its category text (None: missing), as a dictionary codes it."""
    texts = dictionary.texts.to_pylist()
    return {r: (texts[c] if c >= 0 else None)
            for r, c in zip(dictionary.raw.to_pylist(), dictionary.codes.to_pylist())}


DICTIONARIES = {  # (stored texts, their category texts): as the dictionary query gives them, in any order
    "untrimmed, missing markers, accents": (["b ", "a", "Zoë", "zoe", "Émile", "n/a", "", "a ", "B", "é", " a"],
                                            ["b", "a", "Zoë", "zoe", "Émile", None, None, "a", "B", "é", "a"]),
    "every text its own category": (["Acme", "Globex", "acme", "Initech"], ["Acme", "Globex", "acme", "Initech"]),
    "its own category or missing": (["Acme", "n/a", "Globex", "", "Initech"], ["Acme", None, "Globex", None, "Initech"]),
    "one trimmed, its category no stored text": (["Acme", " Umbrella", "Umbrella "], ["Acme", "Umbrella", "Umbrella"]),
    "only missing markers": (["-", "n/a"], [None, None]),
    "none": ([], []),
}


@pytest.mark.parametrize("raw, category", DICTIONARIES.values(), ids=DICTIONARIES.keys())
def test_dictionary_codes_each_stored_text_as_its_category(raw, category):
    """Each stored text reads back its category text; stored texts of one category share one code; the
    texts are the distinct categories, once each; codes are int32, -1 for a missing marker."""
    dictionary = xmod._as_dictionary(pa.array(raw, pa.string()), pa.array(category, pa.string()))
    assert _by_raw(dictionary) == dict(zip(raw, category))
    texts, codes = dictionary.texts.to_pylist(), dictionary.codes.to_pylist()
    used = {c for c in codes if c >= 0}
    assert len({texts[c] for c in used}) == len(used)  # one code per category
    assert {texts[c] for c in used} == {c for c in category if c is not None}
    assert all(c == -1 for c, t in zip(codes, category) if t is None)
    assert dictionary.codes.type == pa.int32()
    if any(category) and all(c is None or c == r for c, r in zip(category, raw)):  # the quick way: each its own code
        assert texts == category and codes == [-1 if c is None else i for i, c in enumerate(category)]


@pytest.mark.parametrize("many", [16, 1], ids=["query-per-column", "unpivot"])
def test_categories_of_a_column_with_a_collation_match_the_old_encoding(tmp_path, monkeypatch, many):
    """A NOCASE column: 'a' and 'A' stay two values (they were one to DISTINCT and the join, and a
    lead's 'A' could read 'a')."""
    monkeypatch.setattr(xmod, "MANY_COLUMNS", many)
    db = tmp_path / "nocase.duckdb"
    values = ["b", "A", "a ", "B", "é", "Z", "n/a", None, "z", "a", "É"]
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE leads (lead_id BIGINT, created_at TIMESTAMP, seniority VARCHAR COLLATE NOCASE)")
        con.executemany("INSERT INTO leads VALUES (?, ?, ?)",
                        [(i, T0 + i * DAY, v) for i, v in enumerate(values)])
        con.execute("CREATE TABLE outcomes (lead_id BIGINT, converted_at TIMESTAMP)")
    config = config_from_dict({"source": {"outcome": {"table": "outcomes"}},
                               "fit": [{"type": "categorical", "column": "seniority", "points": {"a": 1}}],
                               "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    with open_source(db) as source:
        seniority = extract_features(source, config).categorical["seniority"]
    codes, categories = _old_encoding(db, "seniority", [normalise_value(m) for m in config.source.missing_values])
    assert seniority.codes.tolist() == codes
    assert seniority.categories.tolist() == categories
    assert seniority.values().tolist() == ["b", "A", "a", "B", "é", "Z", None, None, "z", "a", "É"]


# --------------------------------------------------------------------------- the user's file


def test_extraction_leaves_the_database_file_and_its_folder_alone(small_db, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LEADCAL_TMP", str(tmp_path_factory.mktemp("spill")))
    before = (file_digest(small_db), os.stat(small_db).st_mtime_ns, sorted(os.listdir(small_db.parent)))
    with open_source(small_db) as source:
        extract_features(source, parse_config(SMALL_CONFIG))
        temp = source.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()
        assert temp == [(0,)]  # the temp table of the leads was dropped
    after = (file_digest(small_db), os.stat(small_db).st_mtime_ns, sorted(os.listdir(small_db.parent)))
    assert after == before


def test_temp_table_is_dropped_when_extraction_fails(small_db, monkeypatch):
    def broken(*args):
        raise duckdb.InvalidInputException("broken on purpose")

    monkeypatch.setattr(xmod, "_read_events", broken)
    with open_source(small_db) as source:
        with pytest.raises(xmod.SourceError, match="broken on purpose"):
            extract_features(source, parse_config(SMALL_CONFIG))
        assert source.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


def test_an_error_putting_the_events_in_order_reaches_the_caller_and_drops_the_temp_table(small_db, monkeypatch):
    """The events are put in order in a thread beside the lead columns: its error is the extraction's."""
    def broken(events):
        assert events is not None and events.batches  # the events were read before the thread got them
        raise MemoryError("no room to order the events")

    monkeypatch.setattr(xmod, "_ordered_events", broken)
    with open_source(small_db) as source:
        with pytest.raises(MemoryError, match="no room"):
            extract_features(source, parse_config(SMALL_CONFIG))
        assert source.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


def test_arrow_and_numpy_types_of_the_lead_arrays(small_db):
    with open_source(small_db) as source:
        features = extract_features(source, parse_config(SMALL_CONFIG))
    assert features.lead_id.dtype == np.int64
    assert features.created_at.dtype == np.dtype("datetime64[us]")
    assert features.converted.dtype == bool and features.mature.dtype == bool
    assert features.numeric["company_size"].dtype == np.float64
    assert np.isnan(features.numeric["company_size"]).sum() == 1
    assert features.deal_value.dtype == np.float64  # the won revenue figures read it (issue 22)
    assert features.converted_at.dtype == np.dtype("datetime64[us]")


def test_ages_kept_as_seconds_only_when_exact():
    from scoring.data.extract import _age
    from scoring.model.features import DAY_US

    whole = np.array([1_000_000, 86_400_000_000, 5 * 365 * 86_400_000_000], dtype=np.int64)
    assert _age(whole).dtype == np.int32 and _age(whole).tolist() == [1, 86_400, 5 * 365 * 86_400]
    largest = _age(np.array([0, (2**31 - 1) * 1_000_000], dtype=np.int64))
    assert largest.dtype == np.int32 and largest.tolist() == [0, 2**31 - 1]
    for inexact in ([1_500_000, 2_000_000], [2**31 * 1_000_000], [-1_000_000], [1_000_000, 2_000_000, 2_000_001]):
        got = _age(np.array(inexact, dtype=np.int64))
        assert got.dtype == np.float64 and got.tolist() == [x / DAY_US for x in inexact]


def test_ages_with_fractions_of_a_second_give_the_sql_sums(tmp_path, messy_db):
    path = tmp_path / "fractions.duckdb"
    shutil.copy(messy_db, path)
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE events SET occurred_at = occurred_at + INTERVAL 250 MILLISECOND WHERE lead_id % 2 = 0")
    decay = {"kind": "exponential", "half_life_days": 9}
    config = _config(decay, ["demo_request", "email_click"])
    with open_source(path) as source:
        features = extract_features(source, config)
    assert features.events.age.dtype == np.float64  # days, as the SQL computes them
    expected_by_id = _reference_sums(path, decay, ["demo_request", "email_click"], features.data_end)
    expected = np.array([expected_by_id.get(i, 0.0) for i in features.lead_id.tolist()])
    assert (expected != 0).sum() > 50
    np.testing.assert_allclose(features.feature(_signal_key(config)), expected, rtol=1e-12, atol=1e-12)


def test_decayed_sums_do_not_depend_on_the_chunk_size(messy_db, monkeypatch):
    config = _config({"kind": "linear", "lifespan_days": 12}, ["demo_request", "email_click", "webinar"])
    with open_source(messy_db) as source:
        features = extract_features(source, config)
    key = _signal_key(config)
    whole = features.feature(key)
    monkeypatch.setattr(fmod, "SUM_CHUNK", 7)  # chunk edges inside every type's events
    again = fmod.signal_sums(features.events, features.spec.signals, features.n)[key]
    np.testing.assert_array_equal(again.dense(), whole)
    assert (whole != 0).sum() > 50


def test_a_base_without_sums_derives_the_same_features(messy_db):
    config = _config({"kind": "exponential", "half_life_days": 6}, ["demo_request", "email_click"])
    spec = feature_spec(config)
    with open_source(messy_db) as source:
        base = extract_features(source, decay_free_spec(spec), sum_signals=False)
        fresh = extract_features(source, spec)
    assert base.signals == {} and base.events is not None  # the events, no sums
    _assert_same_features(derive_features(base, spec), fresh)


def _events_by_sql(db, config) -> list[tuple]:
    """The kept events by a plain query, independent of the extraction: (type, lead id, age in us), sorted."""
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT lower(trim(e.event_type)), l.lead_id, epoch_us(l.created_at) + $sp - epoch_us(e.occurred_at) "
        "FROM events e JOIN (SELECT lead_id, min(created_at) AS created_at FROM leads GROUP BY 1) l USING (lead_id) "
        "LEFT JOIN (SELECT lead_id, min(converted_at) AS c FROM outcomes GROUP BY 1) o USING (lead_id) "
        "WHERE e.occurred_at < least(l.created_at + to_microseconds($sp), coalesce(o.c, l.created_at + to_microseconds($sp))) "
        "AND lower(trim(e.event_type)) IN ('visit', 'email_click') ORDER BY 1, 2, 3",
        {"sp": int(config.evaluation.scoring_point_days * 86_400_000_000)}).fetchall()
    con.close()
    return rows


def _kept(features) -> list[tuple]:
    ev = features.events
    out = []
    for c, t in enumerate(ev.types):
        lo, hi = ev.starts[c], ev.starts[c + 1]
        out += [(t, int(features.lead_id[r]), round(a * 86_400_000_000)) for r, a in zip(ev.row[lo:hi], ev.days(lo, hi))]
    return out


EVENTS_CONFIG = {"source": {"events": {}, "outcome": {"table": "outcomes"}}, "evaluation": {"scoring_point_days": 30},
                 "fit": [], "engagement": [{"event": "visit", "points": 1}, {"event": "email_click", "points": 2}],
                 "thresholds": {"mql": 1, "sql": 2}, "bands": [1]}


@pytest.mark.parametrize("sub_second", [False, True])
def test_kept_events_come_in_type_lead_age_order_with_either_kind_of_age(tmp_path, monkeypatch, sub_second):
    """Events are read in DuckDB's order and put in (type, lead, age) order here (``event_order``);
    a time with a fraction of a second (in any batch) makes every age float days: the same events,
    in the same order, as the SQL reference gives them."""
    rng = np.random.default_rng(3)
    leads = [(int(i), T0 + dt.timedelta(seconds=int(s)), "VP", 1, "x")
             for i, s in zip(rng.permutation(400), rng.integers(0, 90 * 86400, 400))]
    events = [(int(i), str(t), T0 + dt.timedelta(seconds=int(s)))
              for i, t, s in zip(rng.integers(0, 410, 3000), rng.choice([" Visit", "email_click", "other"], 3000),
                                 rng.integers(-30 * 86400, 120 * 86400, 3000))]
    events += [(7, "visit", T0 - DAY)] * 3  # the same event thrice: equal keys
    if sub_second:
        events.append((5, "visit", T0 - dt.timedelta(microseconds=500_001)))
    outcomes = [(int(i), T0 + dt.timedelta(days=int(d)), 1.0) for i, d in zip(range(0, 400, 7), rng.integers(0, 100, 58))]
    db = make_db(tmp_path / "e.duckdb", leads, events, outcomes)
    monkeypatch.setattr(xmod, "BATCH_ROWS", 128)  # many batches: the fraction may come late
    config = config_from_dict(EVENTS_CONFIG)
    with open_source(db) as source:
        features = extract_features(source, config, now=dt.datetime(2030, 1, 1))
    assert features.events.age.dtype == (np.float64 if sub_second else np.int32)
    expected = _events_by_sql(db, config)
    assert len(expected) > 1000 and sorted(_kept(features)) == expected  # the same events (rows are in creation order)
    order = np.lexsort((features.events.age, features.events.row,
                        np.repeat(np.arange(2), np.diff(features.events.starts))))
    assert np.array_equal(order, np.arange(len(order)))


def test_signals_summed_on_two_threads_equal_one_at_a_time(messy_db, monkeypatch):
    """Each signal is summed whole by one thread, in kept order: the same bits as one at a time."""
    config = _config({"kind": "exponential", "half_life_days": 10}, ["demo_request"],
                     [{"event": "email_click", "points": 2}, {"event": ["EMAIL_open", "demo_request"], "points": 1}])
    spec = feature_spec(config)
    with open_source(messy_db) as source:
        base = extract_features(source, decay_free_spec(spec), sum_signals=False)
    assert len(spec.signals) >= 2
    monkeypatch.setattr(fmod, "SUM_THREADS", 1)
    alone = fmod.signal_sums(base.events, spec.signals, base.n)
    monkeypatch.setattr(fmod, "SUM_THREADS", 2)
    together = fmod.signal_sums(base.events, spec.signals, base.n)
    assert list(together) == list(alone) == [s.key for s in spec.signals]
    for key in alone:
        np.testing.assert_array_equal(together[key].dense(), alone[key].dense(), err_msg=key)
        assert alone[key].dense().any()
