"""All or nothing: a process killed at any step of a save, an approval or an export leaves
the store with the whole operation or none of it, once the next command has recovered.

Each case forks a process that runs the real command and dies at a named step
(``$LEADCAL_CRASH_AT``, ``os._exit``: no clean-up runs, as with ``kill -9``). Then
``leadcal configs check`` recovers, reports what it did, and must find the store sound:
every version and approval with its audit line, every export with its audit line, no
temporary file left behind.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest

from scoring.base.crash import CRASH_ENV, CRASH_EXIT
from scoring.cli import main
from scoring.registry.store import ConfigStore, tree_digest

from .conftest import SMALL_CONFIG

COMMIT_STEPS = ["journal", "written", "linked", "audited"]
"""Steps of every commit: journal entry written, temporary file written, linked into place, audit line appended."""
DONE = {"linked", "audited"}
"""Steps after which the operation is kept (recovery completes it); before them it is rolled back."""


def _killed(argv: list[str], step: str) -> int:
    def child():
        os.environ[CRASH_ENV] = step
        os._exit(main([str(a) for a in argv]))

    proc = mp.get_context("fork").Process(target=child)
    proc.start()
    proc.join(120)
    return proc.exitcode


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def setup(capsys, tmp_path, small_db):
    store, cfg = tmp_path / "store", tmp_path / "c.yaml"
    cfg.write_text(SMALL_CONFIG)
    assert _run(capsys, "configs", "save", "m", "--file", cfg, "--store", store)[0] == 0
    return store, cfg, small_db


def _leftovers(*folders: Path) -> list[str]:
    """Temporary and journal files still on disk."""
    out = []
    for folder in folders:
        out += [str(p) for p in folder.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or ".journal" in p.parts)]
    return out


def _check_after_crash(capsys, store: Path, step: str) -> str:
    """`configs check` recovers and passes; returns its report."""
    code, out, err = _run(capsys, "configs", "check", "--store", store)
    assert code == 0, out + err
    if step.split(":")[1] in DONE:
        assert "note: completed an interrupted" in out
    elif step.split(":")[1] in COMMIT_STEPS:
        assert "note: rolled back an interrupted" in out
    else:
        assert "note:" not in out  # killed before anything was written: nothing to recover
    return out


@pytest.mark.parametrize("step", [f"save:{s}" for s in COMMIT_STEPS])
def test_a_save_killed_at_any_step_is_whole_or_absent(capsys, setup, step):
    store, cfg, db = setup
    code = _killed(["configs", "save", "m", "--file", cfg, "--store", store, "--note", "second"], step)
    assert code == CRASH_EXIT
    _check_after_crash(capsys, store, step)
    s = ConfigStore(store)
    saves = [e for e in s.audit() if e["action"] == "save"]
    kept = step.split(":")[1] in DONE
    assert [v.version for v in s.versions("m")] == ([1, 2] if kept else [1])
    assert sorted(e["version"] for e in saves) == ([1, 2] if kept else [1])  # one line each, none twice
    assert [e["action"] for e in s.audit()][-1] == "recover"
    assert not _leftovers(store)
    assert s.save("m", s.load("m", 1)).version == (3 if kept else 2)  # and the store goes on


@pytest.mark.parametrize("step", ["approve:computed", "approve:checked"] + [f"approve:{s}" for s in COMMIT_STEPS])
def test_an_approval_killed_at_any_step_is_whole_or_absent(capsys, setup, step):
    store, cfg, db = setup
    code = _killed(["configs", "approve", "m@1", "--signoff", "Sam:sales", "--signoff", "Mia:marketing",
                    "--rationale", "ok", "--db", db, "--store", store], step)
    assert code == CRASH_EXIT
    _check_after_crash(capsys, store, step)
    s = ConfigStore(store)
    kept = step.split(":")[1] in DONE
    approvals = [e for e in s.audit() if e["action"] == "approve"]
    assert s.status("m", 1) == ("champion" if kept else "draft")
    assert len(approvals) == (1 if kept else 0)
    assert (store / "models" / "m" / "v0001.approval.json").exists() == kept
    assert not _leftovers(store)
    if not kept:  # the approval can be made again, in full
        code, out, err = _run(capsys, "configs", "approve", "m@1", "--signoff", "Sam:sales", "--signoff",
                              "Mia:marketing", "--rationale", "ok", "--db", db, "--store", store)
        assert code == 0, err
        assert s.approval("m", 1)["calibration"]["result"]["mature_leads"] == 5


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("step", [f"export:{s}" for s in COMMIT_STEPS])
def test_an_export_killed_at_any_step_is_whole_or_absent(capsys, setup, tmp_path, step, force):
    store, cfg, db = setup
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "m.sql"
    if force:
        out.write_text("the old export")
    code = _killed(["configs", "export", "m", "--format", "sql", "--out", out, "--store", store]
                   + (["--force"] if force else []), step)
    assert code == CRASH_EXIT
    _check_after_crash(capsys, store, step)
    kept = step.split(":")[1] in DONE
    exports = [e for e in ConfigStore(store).audit() if e["action"] == "export"]
    assert len(exports) == (1 if kept else 0)
    if kept:
        assert out.read_text().lstrip().upper().startswith(("WITH", "SELECT", "--"))
        assert exports[0]["out"] == str(out.resolve())
    elif force:
        assert out.read_text() == "the old export"  # replaced whole or not at all
    else:
        assert not out.exists()
    assert not _leftovers(store, out_dir)


def test_recovery_is_idempotent_and_in_the_audit_trail(capsys, setup):
    store, cfg, db = setup
    assert _killed(["configs", "save", "m", "--file", cfg, "--store", store], "save:linked") == CRASH_EXIT
    before = tree_digest(store)
    s = ConfigStore(store)
    messages = s.recover()
    assert len(messages) == 1 and messages[0].startswith("completed an interrupted save of m@2")
    assert s.recover() == []  # nothing left to do
    recover = [e for e in s.audit() if e["action"] == "recover"]
    assert len(recover) == 1 and recover[0]["messages"] == messages
    assert tree_digest(store) != before
    code, out, err = _run(capsys, "configs", "list", "--store", store)
    assert code == 0 and "note:" not in err  # already recovered: nothing more to say


def test_any_configs_command_recovers_first_and_says_so(capsys, setup):
    store, cfg, db = setup
    assert _killed(["configs", "save", "m", "--file", cfg, "--store", store], "save:written") == CRASH_EXIT
    code, out, err = _run(capsys, "configs", "list", "--store", store)
    assert code == 0 and "note: " in err and "rolled back an interrupted save of m@2" in err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["m@1"]


def test_a_cut_short_audit_line_does_not_swallow_the_next(capsys, setup):
    store, cfg, db = setup
    with open(store / "audit.jsonl", "a") as fh:
        fh.write('{"action": "save", "half a li')
    assert _run(capsys, "configs", "save", "m", "--file", cfg, "--store", store)[0] == 0
    s = ConfigStore(store)
    assert [e["version"] for e in s.audit() if e["action"] == "save"] == [1, 2]
    code, out, err = _run(capsys, "configs", "check", "--store", store)
    assert code == 1 and "problem: audit.jsonl line 2: not a JSON line" in out
