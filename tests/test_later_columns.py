"""The account key read after the first view (``later_columns``, ``read_later``, ``LaterCategorical``).

A first load goes without the account key (3.7 s of a 10M-lead extraction); whatever needs it
waits for it. These tests hold the later column to the column a whole extraction gives, on
hand-made leads with placeholders and duplicates and on imported CRM exports, and check what
the user sees when it cannot be read.
"""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from scoring.cli import main as leadcal
from scoring.data import extract as xmod
from scoring.data import feature_cache
from scoring.data.demo import generate
from scoring.data import later as lmod
from scoring.data.extract import extract_features
from scoring.data.later import later_columns, read_later
from scoring.data.source import SourceError, open_source
from scoring.model.config import config_from_dict, load_config
from scoring.model.features import Categorical, LaterCategorical, decay_free_spec, feature_spec
from scoring.model.findings import QualityReport
from scoring.registry.store import ConfigStore
from ui import data

from . import crm_exports as ce
from .conftest import DAY, DEFAULT_CONFIG, ROOT, T0, make_db
from .kpis_shown import shown_kpis

APP = str(ROOT / "app.py")


# --------------------------------------------------------------------------- the stand-in column


def _column() -> Categorical:
    return Categorical(np.array([0, 1, -1, 1, 2, 0], dtype=np.int16), np.array(["a", "b", "c"], dtype=object))


def test_a_later_column_waits_for_its_reading_and_starts_it_once():
    started: list[int] = []
    later = LaterCategorical(lambda: started.append(1))
    assert not later.ready
    seen: list[np.ndarray] = []
    reader = threading.Thread(target=lambda: seen.append(later.codes))
    reader.start()
    reader.join(timeout=0.2)
    assert reader.is_alive() and not seen  # waiting, not guessing
    later.resolve(_column())
    reader.join(timeout=5)
    assert seen[0].tolist() == [0, 1, -1, 1, 2, 0] and later.categories.tolist() == ["a", "b", "c"]
    assert later.values().tolist() == ["a", "b", None, "b", "c", "a"]
    assert later.counts().tolist() == [2, 2, 1]
    assert started == [1]  # whoever waited first started the reading; nobody after


def test_subsets_taken_before_the_column_is_read_are_the_read_columns_subsets():
    later = LaterCategorical()
    mask = np.array([True, False, True, True, False, True])
    first = later.subset(mask)  # a segment view made while the column is still being read
    second = first.subset(np.array([False, True, True, False]))
    assert isinstance(first, LaterCategorical) and not first.ready
    later.resolve(_column())
    whole = _column()
    assert first.codes.tolist() == whole.codes[mask].tolist() == [0, -1, 1, 0]
    assert second.codes.tolist() == whole.codes[mask][[1, 2]].tolist() == [-1, 1]
    assert second.categories.tolist() == ["a", "b", "c"]
    assert later.subset(mask).codes.tolist() == [0, -1, 1, 0]  # once read, a plain subset


def test_a_column_that_cannot_be_read_fails_where_it_is_used():
    later = LaterCategorical()
    part = later.subset(np.ones(6, dtype=bool))
    error = SourceError("crm.duckdb", ["the column(s) 'company' of the leads could not be read"])
    later.fail(error)
    assert later.ready
    with pytest.raises(SourceError, match="'company'"):
        _ = later.codes
    after = later.subset(np.ones(6, dtype=bool))  # taking a part does not raise; using it does
    for column in (part, after):
        with pytest.raises(SourceError, match="'company'"):
            _ = column.codes


def test_a_later_column_is_pickled_as_the_plain_column_it_became():
    later = LaterCategorical()
    later.resolve(_column())
    copy = pickle.loads(pickle.dumps(later))
    assert type(copy) is Categorical and copy.codes.tolist() == _column().codes.tolist()


# --------------------------------------------------------------------------- read later = read with the rest

LEADS = [  # (lead_id, created_at, seniority, company_size, email_domain_type), email_domain_type the account key
    (5, T0 + 2 * DAY, " vp ", 1, "Acme"),
    (1, T0, "CEO", 1, "Globex "),
    (2, T0 + DAY, "VP", 1, None),
    (3, T0 + DAY, "N/A", 1, " Acme"),
    (4, T0 + 3 * DAY, "vp", 1, "n/a"),          # a placeholder: no account
    (1, T0 + 9 * DAY, "Intern", 1, "Initech"),  # a later duplicate of id 1: its account is not used
    (7, None, "Ghost", 1, "Hooli"),             # no creation time: left out
    (6, T0 + 3 * DAY, None, 1, "-"),
    (8, T0 + 4 * DAY, "CEO", 1, "Globex"),
]


def _account_config(rule_on_account: bool = False):
    fit = [{"type": "categorical", "column": "seniority", "points": {"VP": 1}}]
    if rule_on_account:
        fit.append({"type": "categorical", "column": "email_domain_type", "points": {"Acme": 2}})
    return config_from_dict({
        "source": {"leads": {"account": "email_domain_type"}, "outcome": {"table": "outcomes"}},
        "fit": fit, "thresholds": {"mql": 1, "sql": 2}, "bands": [1],
    })


def _first_then_later(db, spec, start=None):
    with open_source(db) as source:
        features = extract_features(source, spec, quality=QualityReport.pending(), sum_signals=False,
                                    later=later_columns(spec), start_later=start)
    return features


@pytest.mark.parametrize("lookup_max, bind_max", [(64, 10_000), (0, 10_000), (0, 0)],
                         ids=["list-scan", "hash-join", "registered-arrow-dictionary"])
def test_the_account_key_read_later_equals_it_read_with_the_other_columns(tmp_path, monkeypatch, lookup_max,
                                                                          bind_max):
    monkeypatch.setattr(xmod, "LIST_LOOKUP_MAX", lookup_max)
    monkeypatch.setattr(xmod, "BIND_MAX", bind_max)
    db = make_db(tmp_path / "c.duckdb", LEADS)
    spec = decay_free_spec(feature_spec(_account_config()))
    assert later_columns(spec) == ("email_domain_type",)
    features = _first_then_later(db, spec)
    later = features.categorical["email_domain_type"]
    assert isinstance(later, LaterCategorical) and not later.ready
    assert list(features.categorical) == list(spec.categorical) and features.spec == spec
    read_later(db, features)
    with open_source(db) as source:
        whole = extract_features(source, spec)
    assert features.lead_id.tolist() == whole.lead_id.tolist() == [1, 2, 3, 5, 4, 6, 8]
    # by hand: trimmed, placeholders missing, the first row of a duplicate id, categories by first appearance
    assert later.values().tolist() == ["Globex", None, "Acme", "Acme", None, None, "Globex"]
    assert later.categories.tolist() == whole.categorical["email_domain_type"].categories.tolist() == ["Globex", "Acme"]
    assert later.codes.tolist() == whole.categorical["email_domain_type"].codes.tolist()
    assert later.codes.dtype == whole.categorical["email_domain_type"].codes.dtype


def test_a_rule_on_the_account_key_waits_for_it_and_scores_the_same(tmp_path):
    from scoring.model.engine import score

    db = make_db(tmp_path / "c.duckdb", LEADS)
    config = _account_config(rule_on_account=True)
    spec = decay_free_spec(feature_spec(config))
    held: list = []
    features = _first_then_later(db, spec, start=lambda: threading.Thread(target=read_later,
                                                                          args=(db, held[0])).start())
    held.append(features)
    with open_source(db) as source:
        whole = extract_features(source, spec)
    assert score(config, features).total.tolist() == score(config, whole).total.tolist()
    assert score(config, whole).total.tolist() == [0.0, 1.0, 2.0, 3.0, 1.0, 0.0, 0.0]  # VP 1, Acme 2, by hand


def test_a_spec_without_an_account_key_leaves_nothing_for_later(tmp_path):
    config = config_from_dict({"source": {"outcome": {"table": "outcomes"}},
                               "fit": [{"type": "categorical", "column": "seniority", "points": {"VP": 1}}],
                               "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    assert later_columns(feature_spec(config)) == ()


def test_a_database_changed_before_the_later_read_is_named_and_its_readers_told(tmp_path):
    db = make_db(tmp_path / "c.duckdb", LEADS)
    spec = decay_free_spec(feature_spec(_account_config()))
    features = _first_then_later(db, spec)
    db.unlink()
    make_db(db, LEADS + [(9, T0 + 5 * DAY, "CEO", 1, "Umbrella")])  # one lead more
    with pytest.raises(SourceError) as raised:
        read_later(db, features)
    message = str(raised.value)
    assert "'email_domain_type'" in message and "changed" in message and "c.duckdb" in message
    assert str(tmp_path) not in message  # the browser never names a server path
    with pytest.raises(SourceError, match="changed"):
        _ = features.categorical["email_domain_type"].codes


@pytest.mark.parametrize("name", ["salesforce", "pipedrive", "pipeline"])
def test_a_crm_exports_account_key_read_later_equals_it_read_at_once(name, tmp_path):
    export = ce.WRITERS[name](tmp_path / "files", n=900)
    db, store = tmp_path / f"{name}.duckdb", tmp_path / "store"
    assert leadcal(["import", *map(str, export.files), "--db", str(db), "--store", str(store)]) == 0
    config = ConfigStore(store).load(name)
    spec = decay_free_spec(feature_spec(config))
    (account,) = later_columns(spec)
    assert account == export.account  # the column the import proposed as the account key
    features = _first_then_later(db, spec)
    read_later(db, features)
    with open_source(db) as source:
        whole = extract_features(source, spec)
    later, at_once = features.categorical[account], whole.categorical[account]
    assert later.codes.tolist() == at_once.codes.tolist()
    assert later.categories.tolist() == at_once.categories.tolist()
    assert (at_once.codes >= 0).sum() > 0.5 * whole.n  # most leads have an account


# --------------------------------------------------------------------------- in the app


@pytest.fixture
def held_back(monkeypatch) -> list:
    """The work each new extraction held back for after its first view, to wait for it."""
    st.cache_resource.clear()
    items: list = []
    real = data._after_first_view

    def keeping(work):
        item = real(work)
        items.append(item)
        return item

    monkeypatch.setattr(data, "_after_first_view", keeping)
    yield items
    for item in items:
        item.start()
        item.join()
    st.cache_resource.clear()


def _level(at):
    return next(e for e in at.get("button_group") if getattr(e, "key", None) == "calibrate_level")


def _app_on(db, tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def test_the_account_view_waits_for_the_account_key_and_the_disk_entry_holds_it(tmp_path, monkeypatch, held_back):
    db = tmp_path / "demo.duckdb"
    generate(db, leads=3000, seed=21)
    reads: list[tuple] = []
    real = lmod._read_later
    monkeypatch.setattr(lmod, "_read_later", lambda *args: reads.append(args[2]) or real(*args))
    at = _app_on(db, tmp_path, monkeypatch)
    assert [m.label for m in shown_kpis(at)][:1] == ["AUC"]  # the first view, drawn without the account key
    assert reads == []
    _level(at).set_value("Accounts").run()
    assert reads == [("company",)]  # read once, when the account view needed it
    assert held_back and all(item._thread is None for item in held_back)  # without waiting for the checks
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [m.label for m in shown_kpis(at)][:1] == ["Account AUC"]
    for item in held_back:  # the checks, then the disk entry
        item.start()
        item.join()
    spec = decay_free_spec(feature_spec(load_config(DEFAULT_CONFIG)))  # the demo's model, as the app reads it
    with open_source(db) as source:
        saved = feature_cache.load(source, spec)
        whole = extract_features(source, spec)
    assert saved is not None, "no disk entry after the later read"
    assert type(saved.categorical["company"]) is Categorical
    assert saved.categorical["company"].codes.tolist() == whole.categorical["company"].codes.tolist()


def test_an_account_key_that_cannot_be_read_is_said_in_the_account_view_and_nothing_is_saved(
        tmp_path, monkeypatch, held_back):
    db = tmp_path / "demo.duckdb"
    generate(db, leads=3000, seed=22)

    def broken(*args, **kwargs):
        raise ValueError("the disk went away")

    monkeypatch.setattr(lmod, "_read_later", broken)
    at = _app_on(db, tmp_path, monkeypatch)
    _level(at).set_value("Accounts").run()
    assert not at.exception, at.exception
    shown = " ".join(e.value for e in at.error)
    assert "The account view cannot be shown" in shown and "company" in shown and "the disk went away" in shown
    assert str(tmp_path) not in shown
    for item in held_back:  # the checks, then the disk entry
        item.start()
        item.join()
    spec = decay_free_spec(feature_spec(load_config(DEFAULT_CONFIG)))
    with open_source(db) as source:
        assert feature_cache.load(source, spec) is None  # no entry without the column
    _level(at).set_value("Leads").run()
    assert not at.exception and [m.label for m in shown_kpis(at)][:1] == ["AUC"]  # the lead view goes on


# --------------------------------------------------------------------------- hashes


def test_hash_positions_find_each_hash_and_tell_an_absent_or_shared_one():
    from scoring.model.hash_lookup import ABSENT, FOUND, SHARED, hash_positions

    rng = np.random.default_rng(5)
    keys = rng.permutation(np.unique(rng.integers(0, 2**63, 50_000, dtype=np.uint64) * np.uint64(2)))  # even
    queries = keys[rng.integers(0, keys.size, 200_000)]
    out = np.empty(queries.size, dtype=np.int64)
    assert hash_positions(keys, queries, out) == FOUND
    assert (keys[out] == queries).all()  # each query's index in the (unsorted) keys
    by_dict = {int(k): i for i, k in enumerate(keys)}  # an independent lookup
    assert out[:1000].tolist() == [by_dict[int(q)] for q in queries[:1000]]
    queries[7] += np.uint64(1)  # odd: no key
    assert hash_positions(keys, queries, out) == ABSENT and out[7] == -1 and out[8] >= 0
    assert hash_positions(keys[:0], queries[:3], out[:3]) == ABSENT and out[:3].tolist() == [-1, -1, -1]
    assert hash_positions(np.array([5, 9, 5], dtype=np.uint64), queries[:3], out[:3]) == SHARED


def test_texts_that_share_a_hash_are_hashed_again_under_another_salt(tmp_path, monkeypatch):
    real = lmod._hash
    salts: list[int] = []

    def weak_at_first(text: str, salt: int) -> str:  # salt 0: texts of one length hash alike
        salts.append(salt)
        return f"hash(length({text}), 0)" if salt == 0 else real(text, salt)

    monkeypatch.setattr(lmod, "_hash", weak_at_first)
    db = make_db(tmp_path / "c.duckdb", LEADS)
    spec = decay_free_spec(feature_spec(_account_config()))
    features = _first_then_later(db, spec)
    read_later(db, features)
    with open_source(db) as source:
        whole = extract_features(source, spec)
    assert 0 in salts and 1 in salts  # ' Acme' and 'Hooli' (five characters) shared a hash under salt 0
    assert features.categorical["email_domain_type"].values().tolist() == \
        whole.categorical["email_domain_type"].values().tolist() == ["Globex", None, "Acme", "Acme", None, None, "Globex"]
