"""A new database's data-quality checks run after its first view: nothing reads a half-done report.

The app extracts with a pending ``QualityReport`` and fills it in afterwards
(``scoring.data.quality_later.check_into``); whatever reads the findings for people or records
waits, and a check that cannot run says so instead of "no problems".
"""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys
import threading
import time

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from scoring.analysis.calibrate import model_view
from scoring.analysis.report import calibration, format_table
from scoring.data import feature_cache
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.quality_later import check_into
from scoring.data.source import open_source
from scoring.export.html import render_report
from scoring.model.config import config_from_dict, load_config
from scoring.model.features import decay_free_spec, feature_spec
from scoring.model.findings import QualityReport
from ui import data

from .conftest import DAY, DEFAULT_CONFIG, ROOT, T0, make_db

NOW = dt.datetime(2030, 1, 1)
MESSY = config_from_dict({
    "source": {"events": {}, "outcome": {"table": "outcomes"}},
    "fit": [{"type": "categorical", "column": "seniority", "points": {"VP": 1}}],
    "engagement": [{"event": "visit", "points": 1}],
    "thresholds": {"mql": 1, "sql": 2}, "bands": [1],
})


@pytest.fixture
def messy(tmp_path):
    """Every kind of finding once (as tests/test_engine.py counts them by hand)."""
    leads = [(1, T0, "VP", 1, "x"), (1, T0 + DAY, "CEO", 1, "x"), (2, None, "VP", 1, "x"),
             (None, T0, "VP", 1, "x"), (3, T0 + 300 * DAY, "VP", 1, "x")]
    events = [(1, "visit", None), (1, None, T0), (1, "visit", dt.datetime(2999, 1, 1)), (9, "visit", T0)]
    outcomes = [(1, T0 - DAY, 5.0), (1, T0 + DAY, 7.0), (3, dt.datetime(2999, 1, 1), 1.0)]
    return make_db(tmp_path / "m.duckdb", leads, events, outcomes)


def _pending(db, start=None):
    report = QualityReport.pending(start)
    with open_source(db) as source:
        return extract_features(source, MESSY, now=NOW, quality=report)


def _later(features, db):
    check_into(features.quality, db, MESSY.source, NOW, features.data_end)


def test_the_pending_report_is_filled_with_what_the_checks_count_up_front(messy):
    with open_source(messy) as source:
        up_front = extract_features(source, MESSY, now=NOW)
    features = _pending(messy)
    assert not features.quality.checked and features.quality.findings == []
    assert features.lead_id.tolist() == up_front.lead_id.tolist()  # the extraction itself is the same
    assert features.converted.tolist() == up_front.converted.tolist()
    _later(features, messy)
    assert features.quality.checked
    assert features.quality.findings == up_front.quality.findings
    assert features.quality.counts == up_front.quality.counts == {"leads": 5, "events": 4, "outcomes": 3}
    assert len(features.quality.findings) == 10  # the nine of test_engine's messy rows + an unknown lead's event


def test_reading_the_findings_waits_and_starts_checks_held_back(messy):
    started = []

    def start():  # what the app's finish_loading does: the checks in a thread of their own
        if not started:
            started.append(threading.Thread(target=_later, args=(features, messy)))
            started[0].start()

    features = _pending(messy, start)
    assert not started  # nothing runs before someone needs it (the app: after the first view)
    messages = features.quality.messages()  # would block for ever if waiting did not start the checks
    assert len(started) == 1 and features.quality.checked
    assert "events.lead_id: 1 events of lead ids not in the leads table (not counted)" in messages


def test_a_report_written_out_waits_for_the_checks(messy):
    features = _pending(messy)
    out: dict = {}
    reader = threading.Thread(target=lambda: out.update(
        pickled=pickle.dumps(features.quality), text=format_table(calibration(MESSY, features))))
    reader.start()
    time.sleep(0.3)
    assert reader.is_alive() and not out  # it waits: no half-done report is written
    _later(features, messy)
    reader.join(30)
    assert "duplicate rows of an id" in out["text"]
    assert pickle.loads(out["pickled"]).findings == features.quality.findings


def test_checks_that_cannot_run_say_so_and_leave_no_cache_entry(messy, tmp_path):
    features = _pending(messy)
    check_into(features.quality, tmp_path / "gone.duckdb", MESSY.source, NOW, features.data_end)
    assert features.quality.checked and features.quality.findings == []
    assert features.quality.error is not None and "gone.duckdb" in features.quality.error
    assert features.quality.messages() == [f"the data-quality checks could not run: {features.quality.error}"]
    assert "could not run" in format_table(calibration(MESSY, features))
    view = model_view(MESSY, features)
    html = render_report(MESSY, view.result, view.kpis)
    assert 'id="quality-error"' in html and 'id="quality-clean"' not in html  # unknown is not clean
    assert feature_cache.save(messy, features, folder=tmp_path / "cache") is None
    assert not any((tmp_path / "cache").iterdir())  # the next start extracts and checks again


def test_the_cache_entry_waits_for_the_checks_and_keeps_them(messy, tmp_path):
    features = _pending(messy)
    saved: list = []
    cache = tmp_path / "cache"
    saver = threading.Thread(target=lambda: saved.append(feature_cache.save(messy, features, cache)))
    saver.start()
    time.sleep(0.3)
    assert saver.is_alive() and not (cache.exists() and [p for p in cache.iterdir() if not p.name.startswith(".")])
    _later(features, messy)
    saver.join(30)
    assert saved[0] is not None
    with open_source(messy) as source:
        loaded = feature_cache.load(source, features.spec, cache, now=NOW)
    assert loaded is not None and loaded.quality.checked
    assert loaded.quality.findings == features.quality.findings and loaded.quality.counts == features.quality.counts


def test_checks_in_a_process_of_their_own_find_the_same(messy, tmp_path):
    """The app's way (a low-priority child process): the same findings and counts as in-process,
    and a file it cannot open named in the report's error."""
    features = _pending(messy)
    check_into(features.quality, messy, MESSY.source, NOW, features.data_end, separate_process=True)
    with open_source(messy) as source:
        up_front = extract_features(source, MESSY, now=NOW)
    assert features.quality.checked and features.quality.error is None
    assert features.quality.findings == up_front.quality.findings and len(features.quality.findings) == 10
    assert features.quality.counts == up_front.quality.counts
    gone = _pending(messy)
    check_into(gone.quality, tmp_path / "gone.duckdb", MESSY.source, NOW, gone.data_end, separate_process=True)
    assert gone.quality.checked and gone.quality.findings == []
    assert "gone.duckdb" in gone.quality.error


# --------------------------------------------------------------------------- in the app


@pytest.fixture
def messy_demo(tmp_path, monkeypatch):
    """A small demo database with duplicate leads and events of unknown leads; its own caches."""
    db = tmp_path / "messy-demo.duckdb"
    generate(db, leads=3000, seed=5)
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO leads SELECT * FROM leads ORDER BY lead_id LIMIT 4")
    con.execute("INSERT INTO events SELECT lead_id + 10000000, event_type, occurred_at FROM events LIMIT 7")
    con.close()
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("LEADCAL_CACHE", str(tmp_path / "cache"))
    return db


def _expected_findings(db) -> list[str]:
    with open_source(db) as source:
        spec = decay_free_spec(feature_spec(load_config(DEFAULT_CONFIG)))
        return extract_features(source, spec).quality.messages()


def _findings_label(at) -> str | None:
    labels = [e.label for e in at.sidebar.expander if "data-quality finding" in e.label]
    return labels[0] if labels else None


def test_calibrate_shows_the_findings_once_the_checks_are_in(messy_demo, monkeypatch):
    expected = _expected_findings(messy_demo)
    assert len(expected) == 2  # duplicates, unknown leads' events
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception and not at.error
    for _ in range(3):  # every run is the user's: the checks wait for a pause, the sidebar says they are due
        assert _findings_label(at) is None
        assert any("Checking data quality" in c.value for c in at.sidebar.caption)
        at.run()
    assert data._deferred and not any(p for p in (messy_demo.parent / "cache").glob("*") if not p.name.startswith("."))
    monkeypatch.setattr(data, "IDLE_BEFORE_LOADING", 0.0)  # the pause (in the browser: the sidebar's timed rerun)
    at.run()
    label = _findings_label(at)
    deadline = time.time() + 60
    while label is None and time.time() < deadline:
        time.sleep(0.2)
        at.run()
        label = _findings_label(at)
    assert label == f"{len(expected)} data-quality finding(s)"
    shown = [c.value.replace("\\", "") for c in at.sidebar.caption]
    assert all(any(m in s for s in shown) for m in expected), shown
    deadline = time.time() + 60  # the cache entry follows the checks, with them
    while not any(p for p in (messy_demo.parent / "cache").glob("*") if not p.name.startswith(".")):
        assert time.time() < deadline
        time.sleep(0.2)


def test_another_page_first_waits_for_the_findings(messy_demo):
    expected = _expected_findings(messy_demo)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/data_quality.py").run()
    assert not at.exception and not at.error
    assert _findings_label(at) == f"{len(expected)} data-quality finding(s)"  # one run: it waited for them


def test_a_process_that_drew_its_first_view_ends_after_the_held_back_work(tmp_path):
    """The checks and the cache entry finish before the process ends: as daemon work they were
    cut off at exit (inside DuckDB that aborted the process: 'FATAL: exception not rethrown')."""
    done = tmp_path / "done"
    script = (
        "import time\n"
        "from ui import data\n"
        "def work():\n"
        "    time.sleep(1.0)\n"
        f"    open({str(done)!r}, 'w').write('finished')\n"
        "data._after_first_view(work)\n"
        "data.finish_loading()\n"  # what the Calibrate page does after its first view, then the process ends
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert done.read_text() == "finished"


_SIGNALS_SCRIPT = """
import sys, time
from pathlib import Path
from types import SimpleNamespace
import numpy as np
from ui import data
from scoring.model.activity import Activity

entry, case = Path(sys.argv[1]), sys.argv[2]
base = SimpleNamespace(n=3, cache={})
if case == "loaded":  # a restart: the base came from its disk entry
    entry.mkdir()
    base.cache["disk_entry"] = entry
else:  # a first load: the entry is written after the first view
    def finish():
        time.sleep(0.5)
        entry.mkdir()
        base.cache["disk_entry"] = entry
    base.cache["disk_save"] = data._after_first_view(finish)
    if case == "written":
        data.finish_loading()
        base.cache["disk_save"].join()
data._save_signals(base, {"sig": Activity(np.array([0, 2], dtype=np.int32), np.array([1.5, 2.0]), 3)})
if case == "pending":
    data.finish_loading()  # the idle sidebar's call; then the process ends at once
"""


@pytest.mark.parametrize("case", ["pending", "written", "loaded"])
def test_decayed_sums_are_on_disk_when_the_process_ends_right_after(tmp_path, case):
    """ui.data._save_signals: after the entry (pending), beside a written one, or beside one read from disk,
    the sums are saved before the process ends; as a daemon thread's work they were cut off at exit."""
    from types import SimpleNamespace

    entry = tmp_path / "entry"
    proc = subprocess.run([sys.executable, "-c", _SIGNALS_SCRIPT, str(entry), case], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (found,) = feature_cache.load_signals(SimpleNamespace(n=3, cache={"disk_entry": entry}), ["sig"]).values()
    assert found.rows.tolist() == [0, 2] and found.values.tolist() == [1.5, 2.0]
