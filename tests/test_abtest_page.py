"""The A/B test page (AppTest): the recorded plan and the readout `leadcal abtest readout` gives,
on the demo with a known effect; without a test, it says how to plan one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from scoring.cli import main

from .conftest import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
SIGN = ["--signoff", "Ann Lee:sales", "--signoff", "Bo Mark:marketing", "--rationale", "lower MQL line"]


def record_test(store: Path, db: Path, tmp: Path, name: str = "spring", rationale: str = "lower MQL line") -> None:
    """A champion (approved), a challenger with a lower MQL line and the plan of the demo's test, via the CLI."""
    champ, chal = tmp / "champ.yaml", tmp / "chal.yaml"
    champ.write_text(Path(DEFAULT_CONFIG).read_text())
    chal.write_text(champ.read_text().replace("thresholds: {mql: 40, sql: 60}", "thresholds: {mql: 35, sql: 60}"))
    for argv in (["configs", "save", "default", "--file", champ],
                 ["configs", "approve", "default@1", *SIGN[:4], "--rationale", "ok", "--db", db],
                 ["configs", "save", "default", "--file", chal],
                 ["abtest", "plan", name, "--champion", "default", "--challenger", "default@2", "--metric",
                  "mql_conversion", "--min-effect", "0.1", "--salt", "demo-test", "--start", "2025-10-01",
                  "--db", db, *SIGN[:4], "--rationale", rationale]):
        assert main([str(a) for a in argv + ["--store", store]]) == 0


@pytest.fixture(scope="module")
def effect_db(tmp_path_factory) -> Path:
    from scoring.data.demo import generate

    path = tmp_path_factory.mktemp("abtest-page") / "demo.duckdb"
    generate(path, leads=20_000, seed=7, test_effect=0.8)
    return path


def _page(monkeypatch, db: Path, store: Path) -> AppTest:
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at = at.switch_page("pages/abtest.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _shown(elements) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


def test_page_shows_the_plan_and_the_readout_of_the_cli(monkeypatch, effect_db, tmp_path, capsys):
    store = tmp_path / "store"
    record_test(store, effect_db, tmp_path)
    capsys.readouterr()
    assert main(["abtest", "readout", "spring", "--db", str(effect_db), "--format", "json", "--store", str(store)]) == 0
    expected = json.loads(capsys.readouterr().out)
    at = _page(monkeypatch, effect_db, store)
    assert "Champion vs challenger" in at.title[0].value
    verdict = _shown(at.success)[0]
    assert verdict.startswith("**Challenger better**") and expected["verdict"]["verdict"] == "challenger better"
    table = [d.value for d in at.dataframe if "champion (default@1)" in d.value.columns][0].set_index("")
    for arm, ref in (("champion", "default@1"), ("challenger", "default@2")):
        column = table[f"{arm} ({ref})"]
        assert column["leads in the test"] == f"{expected[arm]['leads']:,}"
        assert column["immature (shown, not counted)"] == f"{expected[arm]['immature_leads']:,}"
        rate = expected[arm]["mql_conversion"]
        assert column["MQL conversion"] == (f"{rate['rate']:.1%} ({rate['ci_low']:.1%} – {rate['ci_high']:.1%}) "
                                            f"of {rate['leads']:,}")
    shown = " ".join(_shown(at.markdown))
    d = expected["difference"]
    assert f"{d['difference'] * 100:+.1f} points" in shown and f"p = {d['p_value']:.3g}" in shown
    assert "Ann Lee (sales), Bo Mark (marketing)" in shown


def test_page_without_a_test_says_how_to_plan_one(monkeypatch, effect_db, tmp_path):
    at = _page(monkeypatch, effect_db, tmp_path / "empty-store")
    assert "leadcal abtest plan" in _shown(at.info)[0]


def test_hostile_text_in_the_plan_shows_as_text(monkeypatch, effect_db, tmp_path):
    store = tmp_path / "store"
    hostile = "![pixel](http://evil.example/p.png) **bold** <b>x</b>"
    record_test(store, effect_db, tmp_path, rationale=hostile)
    at = _page(monkeypatch, effect_db, store)
    plan = [e for e in at.markdown if "Signed off" in e.value]
    assert "![pixel](http" not in plan[0].value and "<b>" not in plan[0].value  # escaped: no image, no tag
    assert hostile in _shown(plan)[0].replace("\u2060", "")  # the reader sees exactly what was typed
