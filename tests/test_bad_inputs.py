"""The whole bad-input catalogue (tests/bad_inputs.py): for each case the exit code, one
message line naming what is wrong (never a traceback), and every file outside the case's
intended output byte-for-byte unchanged."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from scoring.cli import main
from scoring.registry.store import tree_digest

from .bad_inputs import build_world, catalogue

CASES = catalogue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    build_world(folder)
    return folder


@pytest.fixture
def case_dir(world, tmp_path, monkeypatch):
    folder = tmp_path / "case"
    shutil.copytree(world, folder, symlinks=True)
    spill = tmp_path / "duckdb-spill"  # DuckDB's temp files, outside what is hashed
    monkeypatch.setenv("LEADCAL_TMP", str(spill))
    monkeypatch.setenv("LEADCAL_DB", "no-such.duckdb")  # no case may fall back to generating the demo
    monkeypatch.setenv("LEADCAL_STORE", "store")
    monkeypatch.delenv("LEADCAL_DEBUG", raising=False)
    monkeypatch.chdir(folder)
    return folder


def test_the_catalogue_is_big_enough():
    kinds = {c.id.split("-")[0] for c in CASES}
    assert len(CASES) >= 150 and {"config", "db", "import", "store", "cli", "ok"} <= kinds


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case_dir, capsys, case):
    if case.setup is not None:
        case.setup(case_dir)
    before = tree_digest(case_dir)
    try:
        code = main(list(case.argv))
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert code == case.code, (code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    if case.code == 0:
        assert not [line for line in lines if "error" in line.lower()], err
    else:
        assert len(lines) == 1, f"expected one message line, got:\n{err}"
        assert lines[0].startswith("error: ") or ": error: " in lines[0], lines[0]
        assert case.message in lines[0], lines[0]
    after = tree_digest(case_dir)
    for name in case.output:  # the intended output (and, for an export, its audit line)
        assert name in after
        before.pop(name, None)
        after.pop(name)
    assert after == before, sorted(set(after.items()) ^ set(before.items()))


@pytest.mark.parametrize("case_id", ["config-deep-nesting", "store-version-broken-list", "import-header-only",
                                     "db-struct-id-report", "cli-drift-bad-grain"])
def test_as_a_real_process(case_dir, case_id):
    """A few cases as the console script runs them: one line on stderr, no traceback, the exit code."""
    case = next(c for c in CASES if c.id == case_id)
    if case.setup is not None:
        case.setup(case_dir)
    proc = subprocess.run([sys.executable, "-m", "scoring.cli", *case.argv], capture_output=True, text=True,
                          timeout=120, cwd=case_dir)
    assert proc.returncode == case.code and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and case.message in proc.stderr
