"""The versioned config store: immutable versions, sign-off, champions, audit, concurrency."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading

import pytest
import yaml

from scoring.model.config import config_from_dict, load_config, parse_config
from scoring.registry.store import ConfigStore, SignOff, StoreError, check_name, parse_ref, tree_digest

from .conftest import DEFAULT_CONFIG, SMALL_CONFIG

SALES, MARKETING = SignOff("Sam Sales", "sales"), SignOff("Mia Marketing", "marketing")


def _config(mql: float = 10):
    data = yaml.safe_load(SMALL_CONFIG)
    data["thresholds"]["mql"] = mql
    return config_from_dict(data)


@pytest.fixture
def store(tmp_path):
    return ConfigStore(tmp_path / "store")


def test_versions_are_numbered_immutable_and_load_back(store):
    v1 = store.save("pricing", _config(10), author="ann", note="first try")
    v2 = store.save("pricing", _config(12), author="bo", note="raise MQL", parent="pricing@1")
    assert (v1.ref, v2.ref) == ("pricing@1", "pricing@2")
    assert store.load("pricing", 1) == _config(10).model_copy(update={"name": "pricing"})
    assert store.load("pricing").thresholds.mql == 12  # latest
    assert [(v.version, v.author, v.note, v.parent) for v in store.versions("pricing")] == [
        (1, "ann", "first try", None), (2, "bo", "raise MQL", "pricing@1")]
    assert not os.access(v1.path, os.W_OK) or os.geteuid() == 0  # read-only file (root ignores modes)
    assert oct(v1.path.stat().st_mode & 0o777) == "0o444"
    assert [e["action"] for e in store.audit()] == ["save", "save"]
    assert store.audit()[1]["by"] == "bo" and store.audit()[1]["parent"] == "pricing@1"


def test_approval_needs_every_role_and_a_rationale(store):
    store.save("m", _config())
    before = tree_digest(store.root)
    with pytest.raises(StoreError, match="missing sign-off from: marketing"):
        store.approve("m", 1, [SALES], "good")
    with pytest.raises(StoreError, match="rationale is required"):
        store.approve("m", 1, [SALES, MARKETING], "  ")
    with pytest.raises(StoreError, match="has no version 7"):
        store.approve("m", 7, [SALES, MARKETING], "x")
    assert tree_digest(store.root) == before
    record = store.approve("m", 1, [SALES, MARKETING], "lifts SQL rate to 12%",
                           calibration={"auc": 0.8}, data={"leads": 10}, by="chair")
    assert record["signoffs"] == [{"name": "Sam Sales", "role": "sales"},
                                  {"name": "Mia Marketing", "role": "marketing"}]
    assert store.approval("m", 1)["calibration"] == {"auc": 0.8}
    assert store.approval("m", 1)["data"] == {"leads": 10}
    after_first = tree_digest(store.root)
    with pytest.raises(StoreError, match="already approved"):
        store.approve("m", 1, [SALES, MARKETING], "again")
    assert tree_digest(store.root) == after_first


def test_champion_is_the_latest_approved_version(store):
    for mql in (10, 11, 12):
        store.save("m", _config(mql))
    assert store.champion("m") is None
    assert store.approved_config("m") == load_config(DEFAULT_CONFIG)  # never approved: shipped default
    store.approve("m", 2, [SALES, MARKETING], "ok")
    assert store.champion("m").version == 2
    assert [store.status("m", n) for n in (1, 2, 3)] == ["draft", "champion", "draft"]
    store.approve("m", 1, [SALES, MARKETING], "late sign-off of an older version")
    assert store.champion("m").version == 2  # latest approved, not latest approval
    store.approve("m", 3, [SALES, MARKETING], "ok")
    assert [store.status("m", n) for n in (1, 2, 3)] == ["approved", "approved", "champion"]
    assert store.approved_config("m").thresholds.mql == 12


def test_required_roles_come_from_store_settings(store):
    store.root.mkdir(parents=True)
    (store.root / "store.yaml").write_text("required_roles: [Sales, Marketing, RevOps]\n")
    store.save("m", _config())
    with pytest.raises(StoreError, match="missing sign-off from: revops"):
        store.approve("m", 1, [SALES, MARKETING], "x")
    store.approve("m", 1, [SALES, MARKETING, SignOff("Rae", "revops")], "x")


@pytest.mark.parametrize("bad", ["../x", "a/b", "", " ", "x" * 65, "with space", "a.b", ".hidden", "-x",
                                 "a\\b", "a\nb", "naïve"])
def test_bad_names_are_refused_and_nothing_written(store, bad):
    with pytest.raises(StoreError, match="model name"):
        store.save(bad, _config())
    assert not store.root.exists()
    with pytest.raises(StoreError):
        check_name(bad)


def test_parse_ref_and_signoff_parsing():
    assert parse_ref("m") == ("m", None) and parse_ref("m@3") == ("m", 3)
    for bad in ("m@", "m@0", "m@x", "../m@1"):
        with pytest.raises(StoreError):
            parse_ref(bad)
    assert SignOff.parse("Ann Lee:Sales") == SignOff("Ann Lee", "sales")
    with pytest.raises(StoreError, match="NAME:ROLE"):
        SignOff.parse("Ann Lee")


def test_crash_mid_write_leaves_the_store_as_it_was(store, monkeypatch):
    store.save("m", _config())
    before = tree_digest(store.root)

    def crash(src, dst):
        raise RuntimeError("power cut")

    monkeypatch.setattr(os, "link", crash)
    with pytest.raises(RuntimeError):
        store.save("m", _config(11))
    with pytest.raises(RuntimeError):
        store.approve("m", 1, [SALES, MARKETING], "x")
    monkeypatch.undo()
    assert tree_digest(store.root) == before
    assert store.save("m", _config(12)).version == 2


def _killed_writer(root: str) -> None:
    """A process that dies between writing its temporary file and linking it in."""
    import os as os_

    from scoring.registry.store import ConfigStore

    os_.link = lambda *a: os_._exit(9)
    ConfigStore(root).save("m", _config(13))


def test_killed_process_leaves_no_version(store):
    store.save("m", _config())
    proc = mp.get_context("fork").Process(target=_killed_writer, args=(str(store.root),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 9
    assert [v.version for v in store.versions("m")] == [1]
    assert len(store.audit()) == 1
    assert store.save("m", _config(14)).version == 2  # the store still works


def test_concurrent_threads_each_get_their_own_version(store):
    errors = []

    def worker(i):
        try:
            for j in range(5):
                store.save("m", _config((i * 10 + j) / 10), author=f"t{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    versions = store.versions("m")
    assert [v.version for v in versions] == list(range(1, 41))
    saved = sorted(store.load("m", v.version).thresholds.mql for v in versions)
    assert saved == sorted((i * 10 + j) / 10 for i in range(8) for j in range(5))  # no lost update
    assert len(store.audit()) == 40


def _process_worker(root: str, i: int) -> None:
    from scoring.registry.store import ConfigStore

    for j in range(5):
        ConfigStore(root).save("m", _config((i * 10 + j) / 10), author=f"p{i}")


def test_concurrent_processes_each_get_their_own_version(store):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_process_worker, args=(str(store.root), i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    versions = store.versions("m")
    assert [v.version for v in versions] == list(range(1, 21))
    saved = sorted(store.load("m", v.version).thresholds.mql for v in versions)
    assert saved == sorted((i * 10 + j) / 10 for i in range(4) for j in range(5))
    entries = store.audit()
    assert len(entries) == 20 and sorted(e["version"] for e in entries) == list(range(1, 21))


def test_concurrent_approvals_only_one_wins(store):
    store.save("m", _config())
    results = []

    def approve(who):
        try:
            store.approve("m", 1, [SALES, MARKETING], f"by {who}", by=who)
            results.append("ok")
        except StoreError:
            results.append("refused")

    threads = [threading.Thread(target=approve, args=(f"p{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["refused"] * 5
    assert [e["action"] for e in store.audit()].count("approve") == 1


def test_version_file_holds_metadata_and_config(store):
    v = store.save("m", parse_config(SMALL_CONFIG), author="ann", note="line one\nline two")
    doc = yaml.safe_load(v.path.read_text())
    assert doc["version"]["note"] == "line one\nline two"
    assert config_from_dict(doc["config"]) == store.load("m", 1)
    with pytest.raises(StoreError, match="single line"):
        store.save("m", parse_config(SMALL_CONFIG), author="ann\ncaps: {}")
