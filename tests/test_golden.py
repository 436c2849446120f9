"""Golden files: every command's output on a small seeded demo, byte for byte.

Written before scoring/ was split into subpackages and its results typed, and kept so
that any later change to what a command prints (the documented JSON above all) is a
visible, deliberate diff of ``tests/golden/``, never an accident of a refactor.

Paths of the temporary folder read ``<TMP>``, and the moments of an approval or an export
``<TIME>``; everything else is compared as printed. To accept a deliberate change, run
``LEADCAL_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import os
import re
from pathlib import Path

import pytest

from scoring.cli import main

from . import crm_exports as ce
from .conftest import DEFAULT_CONFIG

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LEADCAL_UPDATE_GOLDEN") == "1"
DEMO_LEADS, DEMO_SEED = 6_000, 7

DRAFT_CHANGES = (("{event: demo_request, points: 20, cap: 30}", "{event: demo_request, points: 25, cap: 30}"),
                 ("{event: email_open, points: 1, cap: 5}", "{event: email_open, points: 0, cap: 5}"),
                 ("thresholds: {mql: 40, sql: 60}", "thresholds: {mql: 45, sql: 65}"),
                 ("{kind: exponential, half_life_days: 30}", "{kind: exponential, half_life_days: 14}"))


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    return code, out.getvalue()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() + "\n"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    """Each command's output (and each file it writes) on the demo and on an imported CRM export.

    plotly's default template is set as a fresh process has it: importing Streamlit (other tests) changes it.
    """
    import plotly.io as pio

    template = pio.templates.default
    pio.templates.default = "plotly"
    try:
        return _outputs(tmp_path_factory)
    finally:
        pio.templates.default = template


def _outputs(tmp_path_factory) -> dict[str, str]:
    from scoring.data.demo import generate

    tmp = tmp_path_factory.mktemp("golden")
    db, store = tmp / "demo.duckdb", tmp / "store"
    generate(db, leads=DEMO_LEADS, seed=DEMO_SEED)
    draft = tmp / "draft.yaml"
    text = DEFAULT_CONFIG.read_text()
    for old, new in DRAFT_CHANGES:
        assert old in text
        text = text.replace(old, new)
    draft.write_text(text.replace("name: default", "name: default", 1))
    out: dict[str, str] = {}

    def run(name: str, *argv: str) -> None:
        code, printed = _run(*argv)
        out[name] = f"exit {code}\n{printed}"

    cfg = str(DEFAULT_CONFIG)
    run("report.json", "report", "--db", str(db), "--config", cfg, "--format", "json")
    run("report.txt", "report", "--db", str(db), "--config", cfg)
    run("report-draft.json", "report", "--db", str(db), "--config", str(draft), "--format", "json")
    run("drift.json", "drift", "--db", str(db), "--config", cfg, "--format", "json")
    run("drift.txt", "drift", "--db", str(db), "--config", cfg)
    run("drift.html", "drift", "--db", str(db), "--config", cfg, "--format", "html")
    run("drift-weekly.txt", "drift", "--db", str(db), "--config", cfg, "--grain", "week",
        "--reference", "2025-01-01:2025-10-01")
    run("suggest.json", "suggest", "--db", str(db), "--config", cfg, "--out", str(tmp / "s1.yaml"),
        "--format", "json", "--decays")
    out["suggest.yaml"] = (tmp / "s1.yaml").read_text()
    run("suggest.txt", "suggest", "--db", str(db), "--config", cfg, "--out", str(tmp / "s2.yaml"))
    score_csv = tmp / "scores.csv"
    run("score.txt", "score", "--db", str(db), "--config", cfg, "--out", str(score_csv))
    out["score.csv.sha256"] = _digest(score_csv)

    run("configs-save-1.txt", "configs", "save", "default", "--file", cfg, "--store", str(store),
        "--author", "golden", "--note", "the shipped default")
    run("configs-save-2.txt", "configs", "save", "default", "--file", str(draft), "--store", str(store),
        "--author", "golden", "--note", "a draft", "--parent", "default@1")
    run("configs-diff.json", "configs", "diff", "default@1", "default@2", "--store", str(store), "--format", "json")
    run("configs-diff.txt", "configs", "diff", "default@1", "default@2", "--store", str(store))
    run("configs-approve.txt", "configs", "approve", "default@2", "--store", str(store), "--db", str(db),
        "--signoff", "Ann Lee:sales", "--signoff", "Bo Chan:marketing", "--rationale", "golden approval",
        "--by", "golden")
    approvals = sorted((store / "models").rglob("*approv*"))
    assert approvals, sorted((store / "models").rglob("*"))
    for path in approvals:
        out["approval-" + path.name] = path.read_text()
    for dialect in ("duckdb", "postgres", "snowflake", "bigquery", "spark"):
        for fmt in ("sql", "features-sql"):
            target = tmp / f"{fmt}-{dialect}.sql"
            run(f"export-{fmt}-{dialect}.txt", "configs", "export", "default", "--version", "2", "--format", fmt,
                "--dialect", dialect, "--store", str(store), "--out", str(target))
            out[f"export-{fmt}-{dialect}.sql"] = target.read_text()
    run("export-yaml.txt", "configs", "export", "default", "--version", "2", "--format", "yaml",
        "--store", str(store), "--out", str(tmp / "v2.yaml"))
    out["export-v2.yaml"] = (tmp / "v2.yaml").read_text()
    run("export-html.txt", "configs", "export", "default", "--version", "2", "--format", "html",
        "--store", str(store), "--db", str(db), "--out", str(tmp / "v2.html"))
    out["export-v2.html"] = (tmp / "v2.html").read_text()
    run("export-dbt.txt", "configs", "export", "default", "--version", "2", "--format", "dbt", "--dialect",
        "duckdb", "--store", str(store), "--out", str(tmp / "dbt"))
    for path in sorted((tmp / "dbt").rglob("*")):
        if path.is_file():
            out["export-dbt-" + str(path.relative_to(tmp / "dbt")).replace("/", "-")] = path.read_text()

    export = ce.write_hubspot(tmp / "hubspot", n=1500, seed=11)
    crm, crm_store = tmp / "crm.duckdb", tmp / "crm-store"
    run("import.json", "import", *map(str, export.files), "--db", str(crm), "--store", str(crm_store),
        "--model", "crm", "--starter-config", str(tmp / "crm.yaml"), "--format", "json")
    out["import-starter.yaml"] = (tmp / "crm.yaml").read_text()
    run("report-crm.json", "report", "--db", str(crm), "--config", str(tmp / "crm.yaml"), "--format", "json")
    run("report-crm.txt", "report", "--db", str(crm), "--config", str(tmp / "crm.yaml"))
    run("suggest-crm.json", "suggest", "--db", str(crm), "--config", str(tmp / "crm.yaml"), "--out",
        str(tmp / "crm-s.yaml"), "--format", "json")
    from plotly.offline import get_plotlyjs

    plotly_js = get_plotlyjs()  # the library inlined in the HTML report: not leadcal's output
    return {name: _normalise(text.replace(plotly_js, "<PLOTLY.JS>"), tmp) for name, text in out.items()}


TIMES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")
HASHES = re.compile(r'"(\w*sha256)": "[0-9a-f]{64}"')
"""A version file's hash covers the moment it was saved."""


def _normalise(text: str, tmp: Path) -> str:
    """Paths of the temporary folder and moments of today (the data's dates all lie in the past) made fixed."""
    text = text.replace(str(tmp.resolve()), "<TMP>").replace(str(tmp), "<TMP>")
    text = TIMES.sub("<TIME>", text)
    for day in {dt.date.today(), dt.datetime.now(dt.timezone.utc).date()}:
        text = re.sub(re.escape(day.isoformat()) + r"[ T]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?", "<TIME>", text)
        text = re.sub(r"\b" + re.escape(day.isoformat()) + r"\b", "<TODAY>", text)  # "imported on <date>"
    return HASHES.sub(r'"\1": "<SHA256>"', text)


def test_every_output_is_as_recorded(outputs):
    """Each command's output equals its golden file, byte for byte."""
    GOLDEN.mkdir(exist_ok=True)
    if UPDATE:
        for old in GOLDEN.iterdir():
            old.unlink()
        for name, text in outputs.items():
            (GOLDEN / name).write_text(text)
    recorded = {p.name for p in GOLDEN.iterdir()}
    assert recorded == set(outputs), "golden files missing or extra: " + str(recorded ^ set(outputs))
    different = [name for name, text in sorted(outputs.items()) if (GOLDEN / name).read_text() != text]
    if different:  # kept for a diff: tests/artifacts is git-ignored
        actual = Path(__file__).parent / "artifacts" / "golden"
        actual.mkdir(parents=True, exist_ok=True)
        for name in different:
            (actual / name).write_text(outputs[name])
    assert not different, f"outputs that differ from tests/golden/ (as printed now: tests/artifacts/golden/): {different}"
