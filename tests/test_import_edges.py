"""The edges of `leadcal import`: files that are not what they seem, a killed import, a
bad model name, and CSVs that DuckDB itself reads."""

from __future__ import annotations

import multiprocessing as mp
import os

import duckdb
import pytest

from scoring.cli import main
from scoring.crash import CRASH_ENV, CRASH_EXIT
from scoring.importer import _hold, _release, clean_stale_imports, run_import
from scoring.store import tree_digest

LEADS = "Lead ID,Created,Title,Won?\n1,2024-01-01,VP,Yes\n2,2024-01-02,Analyst,No\n3,2024-01-03,VP,No\n"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_header_only_csv_is_one_message(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("Lead ID,Created,Won?\n")
    code, out, err = _run(capsys, "import", path, "--db", tmp_path / "x.duckdb")
    assert code == 1 and err.strip() == f"error: {path}: the file has a header but no data rows"
    assert list(tmp_path.iterdir()) == [path]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "leads.csv"
    os.mkfifo(fifo)

    def child():
        os._exit(main(["import", str(fifo), "--db", str(tmp_path / "x.duckdb")]))

    proc = mp.get_context("fork").Process(target=child)
    proc.start()
    proc.join(60)
    if proc.exitcode is None:  # it blocked on the pipe
        proc.kill()
        proc.join()
        pytest.fail("importing a FIFO blocked")
    assert proc.exitcode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv"]


def test_a_csv_with_line_breaks_inside_quotes_imports(tmp_path, capsys):
    path = tmp_path / "notes.csv"
    path.write_text('Lead ID,Created,Note,Won?\n1,2024-01-01,"first line\nsecond line",Yes\n'
                    '2,2024-01-02,plain,No\n3,2024-01-03,"a, b",No\n')
    expected = duckdb.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true)").fetchall()
    assert expected[0][2] == "first line\nsecond line"  # DuckDB reads it
    db = tmp_path / "x.duckdb"
    code, out, err = _run(capsys, "import", path, "--db", db)
    assert code == 0, err
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT lead_id, note, converted FROM leads ORDER BY lead_id").fetchall()
    con.close()
    assert rows == [("1", "first line\nsecond line", True), ("2", "plain", False), ("3", "a, b", False)]


@pytest.mark.parametrize("model", ["../x", "a b", "m\n", ".hidden"])
def test_a_bad_model_name_is_refused_before_anything_is_written(tmp_path, capsys, model):
    csv = tmp_path / "leads.csv"
    csv.write_text(LEADS)
    store = tmp_path / "store"
    code, out, err = _run(capsys, "import", csv, "--db", tmp_path / "x.duckdb", "--model", model, "--save-model",
                          "--store", store)
    assert code == 1 and "model name" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv"]


@pytest.mark.parametrize("step", ["import:copied", "import:built"])
def test_a_killed_import_leaves_the_target_and_its_copy_is_cleaned_up(tmp_path, capsys, step):
    csv = tmp_path / "leads.csv"
    csv.write_text(LEADS)
    db = tmp_path / "x.duckdb"
    assert _run(capsys, "import", csv, "--db", db)[0] == 0
    before = tree_digest(tmp_path)
    csv.write_text(LEADS + "4,2024-01-04,CEO,Yes\n")

    def child():
        os.environ[CRASH_ENV] = step
        os._exit(main(["import", str(csv), "--db", str(db)]))

    for _ in range(3):  # killed imports never pile up copies: each removes the dead one before it
        proc = mp.get_context("fork").Process(target=child)
        proc.start()
        proc.join(120)
        assert proc.exitcode == CRASH_EXIT
    left = [p for p in tmp_path.iterdir() if ".import-" in p.name]
    assert len([p for p in left if p.name.endswith(".tmp")]) == 1  # only the last one's
    after = tree_digest(tmp_path)
    assert {k: v for k, v in after.items() if ".import-" not in k and k != "leads.csv"} == \
        {k: v for k, v in before.items() if k != "leads.csv"}  # the target untouched
    assert _run(capsys, "import", csv, "--db", db)[0] == 0  # the next import cleans up and succeeds
    assert not [p for p in tmp_path.iterdir() if ".import-" in p.name]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM leads").fetchone()[0] == 4
    con.close()


def test_cleanup_never_removes_the_copy_of_a_running_import(tmp_path):
    db = tmp_path / "x.duckdb"
    running = tmp_path / ".x.duckdb.import-aaaaaaaaaaaa.tmp"
    dead = tmp_path / ".x.duckdb.import-bbbbbbbbbbbb.tmp"
    running.write_bytes(b"building")
    dead.write_bytes(b"left by a killed import")
    fd = _hold(running)
    try:
        assert clean_stale_imports(db) == [dead]
        assert running.exists() and not dead.exists()
    finally:
        _release(fd, running)
    assert clean_stale_imports(db) == [running]


def test_errors_never_name_the_working_copy(tmp_path, monkeypatch):
    csv = tmp_path / "leads.csv"
    csv.write_text(LEADS)
    db = tmp_path / "x.duckdb"
    import scoring.importer as importer

    def fail(con, path, config, now):
        raise duckdb.IOException(f'Could not read file "{path}": broken')

    monkeypatch.setattr(importer, "_try_config", fail)
    with pytest.raises(importer.DataImportError) as info:
        run_import([csv], db)
    assert ".import-" not in str(info.value) and str(db) in str(info.value)
