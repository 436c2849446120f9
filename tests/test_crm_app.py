"""The app on an imported CRM export, started with only LEADCAL_DB: every page, no traceback.

`leadcal import FILES --db DB` saves its starter model to the config store, so the app
opens on it (not on the demo's default.yaml) and the sidebar shows the import's numbers.
A model that does not fit the database is named in one sentence with the fix.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from streamlit.testing.v1 import AppTest

from scoring.cli import main as leadcal
from scoring.registry.store import ConfigStore

from . import crm_exports as ce
from .conftest import ROOT

APP = str(ROOT / "app.py")
PAGES = ["pages/calibrate.py", "pages/attributes.py", "pages/configs.py", "pages/drift.py",
         "pages/data_quality.py", "pages/import_data.py"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Every export imported with no flags, each into its own database and store."""
    out = {}
    for name, write in ce.WRITERS.items():
        folder = tmp_path_factory.mktemp(f"app_{name}")
        export = write(folder / "files", n=1200)
        db, store = folder / f"{name}.duckdb", folder / "store"
        assert leadcal(["import", *map(str, export.files), "--db", str(db), "--store", str(store)]) == 0
        out[name] = (export, db, store)
    return out


def _shown(markdown: str) -> str:
    """Text as the browser shows it: user data is escaped Markdown (ui.text.plain)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def _no_trouble(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("name", list(ce.WRITERS))
def test_every_page_runs_on_the_import_with_only_leadcal_db(exports, name, monkeypatch, capsys):
    export, db, store = exports[name]
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(store))  # the store the import saved to (its default store)
    monkeypatch.delenv("LEADCAL_MODEL", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _no_trouble(at)
    assert at.selectbox(key="sidebar_model").value == name  # the model the import saved
    # the sidebar's numbers are the import's, by the README's rules from the generator's truth
    config = ConfigStore(store).load(name)
    ev = config.evaluation
    expected = export.expected_counts(ev.outcome_window_days, ev.scoring_point_days,
                                      export.data_end() or dt.datetime.now())
    assert any(f"**{expected['leads']:,}** leads, **{expected['mature']:,}** mature" in m.value
               for m in at.sidebar.markdown), [m.value for m in at.sidebar.markdown]
    for page in PAGES[1:]:
        at = at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        errors = [e.value for e in at.error]
        if page == "pages/drift.py" and export.created_column is None:
            continue  # drift needs creation times and says so
        assert not errors, (page, errors)
        assert at.selectbox(key="sidebar_model").value == name, page  # the pick survives every page switch


def test_a_model_that_does_not_fit_is_named_with_the_fix(exports, monkeypatch, tmp_path):
    """The shipped default picked on an imported database: one sentence naming the model, the database, the
    model the import saved and how to pick it, instead of 'cannot be used' and the demo's columns."""
    export, db, store = exports["pipedrive"]
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(store))
    monkeypatch.setenv("LEADCAL_MODEL", "default")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    text = _shown(" ".join(e.value for e in at.error))
    assert "Model 'default'" in text and db.name in text and "does not fit" in text
    assert str(db.parent) not in text  # the browser never names a server path
    assert "saved model 'pipedrive': pick it under Model" in text


@pytest.mark.parametrize("form", ["yes/no", "stage"])
def test_drift_and_data_quality_pages_on_a_yes_no_outcome_with_creation_times(tmp_path, monkeypatch, form):
    """The issue's crash (quote(None) in scoring/dataquality.py) on the Drift and Data quality pages."""
    from .test_crm_exports import _form_file

    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    db = tmp_path / "f.duckdb"
    assert leadcal(["import", str(_form_file(tmp_path, form, 6000)), "--db", str(db)]) == 0
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.delenv("LEADCAL_MODEL", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _no_trouble(at)
    for page in ("pages/drift.py", "pages/data_quality.py"):
        at = at.switch_page(page)
        at.run()
        _no_trouble(at)


def test_attributes_page_says_what_the_suggestion_leaves_out_and_a_toggle_puts_it_back(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    export = ce.write_flat(tmp_path / "files", n=2000)
    db = tmp_path / "flat.duckdb"
    assert leadcal(["import", *map(str, export.files), "--db", str(db), "--fit", "Tags", "--fit", "Lead Origin",
                    "--activity", "Total Time Spent on Website"]) == 0
    monkeypatch.setenv("LEADCAL_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at = at.switch_page("pages/attributes.py")
    at.run()
    _no_trouble(at)
    warnings = [_shown(w.value) for w in at.warning]
    assert any(w.startswith("Possible leakage: tags:") for w in warnings)  # the Attributes tab
    at.session_state["attributes_tab"] = "Suggested points"  # only the open tab runs
    at.run()
    _no_trouble(at)
    warnings = [_shown(w.value) for w in at.warning]
    assert any(w.startswith("Left out of the suggestion as possible leakage: tags:") for w in warnings)
    toggle = next(m for m in at.multiselect if m.key == "attr_include")
    assert toggle.options == ["tags"]
    toggle.set_value(["tags"])
    at.run()
    _no_trouble(at)
    assert not any(_shown(w.value).startswith("Left out of the suggestion") for w in at.warning)
    assert any("Included on purpose although flagged as possible leakage: tags" in _shown(c.value) for c in at.caption)
